import { type BenchmarkItem, canonicalJson, loadBenchmarkItems, resolveBenchmark, shippedBenchmarkDir } from "@infialign/data";

/** One benchmark problem as the index sees it: `@infialign/data`'s benchmark item (only benchmark, id, text are matched). */
export type { BenchmarkItem };

/** The benchmarks shipped with `@infialign/data` (see its `data/benchmarks/README.md` for origin and licence). */
export const SHIPPED_BENCHMARKS = ["aime24", "aime25", "amc23", "math500", "gsm8k"] as const;
export type ShippedBenchmark = (typeof SHIPPED_BENCHMARKS)[number];

/** The folder of the shipped benchmark files (now `@infialign/data`'s `data/benchmarks/`). */
export function shippedDataDir(): string {
  return shippedBenchmarkDir();
}

/** Options of `loadBenchmarkFile`. */
export interface LoadBenchmarkFileOptions {
  /** Benchmark name reported in matches. */
  name: string;
  /** Field holding the problem text. @default the first of `problem`, `question`, `Question` (GPQA CSV), `prompt`, `text` present */
  field?: string;
}

/**
 * Loads a user benchmark file of problem texts (`@infialign/data`'s `text` format): JSON Lines, JSON, CSV or Parquet
 * (gzip/zstd too), format from the extension. To evaluate on the same file as well, register it instead
 * (`registerBenchmark` in @infialign/data) and load it by name.
 */
export async function loadBenchmarkFile(path: string, opts: LoadBenchmarkFileOptions): Promise<BenchmarkItem[]> {
  return loadBenchmarkItems({ id: opts.name, format: "text", ...(opts.field === undefined ? {} : { fields: { text: opts.field } }) }, { path });
}

/**
 * Loads one benchmark of `@infialign/data`'s registry by name, for matching: a shipped one, one you registered with
 * `registerBenchmark`, or a deprecated alias (`gsm8k-test` → `gsm8k`, with a warning). Only id, text and meta are
 * read, so gold answers and tests need not be present. `path` reads your copy of a set that ships none
 * (`gpqa-diamond`, `mmlu-pro`, `livecodebench`).
 */
export async function loadBenchmark(name: string, opts: { path?: string } = {}): Promise<BenchmarkItem[]> {
  return loadBenchmarkItems(name, { textOnly: true, ...(opts.path === undefined ? {} : { path: opts.path }) });
}

/**
 * Loads several registered benchmarks (the shipped ones by default), in the order given; a name that resolves to a
 * benchmark already loaded (an alias next to its id) is loaded once.
 */
export async function loadShippedBenchmarks(names: readonly string[] = SHIPPED_BENCHMARKS): Promise<BenchmarkItem[]> {
  const out: BenchmarkItem[] = [];
  const loaded = new Set<string>();
  for (const name of names) {
    const def = resolveBenchmark(name);
    const key = `${def.id}\u0000${canonicalJson(def.options)}`;
    if (loaded.has(key)) continue;
    loaded.add(key);
    out.push(...(await loadBenchmark(name)));
  }
  return out;
}
