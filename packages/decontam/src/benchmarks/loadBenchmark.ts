import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readRecords, resolveInputs } from "@infialign/data";

/** One benchmark problem as the index sees it. */
export interface BenchmarkItem {
  /** Benchmark name, e.g. `"math500"`. */
  benchmark: string;
  /** The item's id in its file (`id`, `unique_id`, or the 1-based line number when the file has none). */
  id: string;
  /** The problem / question text that is matched. */
  text: string;
  /** Loader-specific facts kept for reports (MMLU-Pro `category`, LiveCodeBench `contestDate`, ...); never matched. */
  meta?: Record<string, unknown>;
}

/** Benchmarks shipped in this package's `data/` folder (see `data/README.md` for origin and licence). */
export const SHIPPED_BENCHMARKS = ["aime24", "aime25", "amc23", "math500", "gsm8k-test"] as const;
export type ShippedBenchmark = (typeof SHIPPED_BENCHMARKS)[number];

const SHIPPED_FIELDS: Record<ShippedBenchmark, string> = {
  aime24: "problem",
  aime25: "problem",
  amc23: "problem",
  math500: "problem",
  "gsm8k-test": "question",
};

/** Text fields tried, in order, when `field` is not given. */
const DEFAULT_TEXT_FIELDS = ["problem", "question", "Question", "prompt", "text"];
const ID_FIELDS = ["id", "unique_id", "Record ID", "idx"];

/** The package's `data/` folder, found from this module (src/benchmarks in dev, dist/ when built). */
export function shippedDataDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "data", "math500.jsonl"))) return join(dir, "data");
    dir = dirname(dir);
  }
  throw new Error("[infialign/decontam] benchmarks: shipped data folder not found next to the package; reinstall @infialign/decontam");
}

/** Options of `loadBenchmarkFile`. */
export interface LoadBenchmarkFileOptions {
  /** Benchmark name reported in matches. */
  name: string;
  /** Field holding the problem text. @default the first of `problem`, `question`, `Question` (GPQA CSV), `prompt`, `text` present */
  field?: string;
}

/** Loads a user benchmark file: JSON Lines, JSON, CSV or Parquet (gzip/zstd too), format from the extension. */
export async function loadBenchmarkFile(path: string, opts: LoadBenchmarkFileOptions): Promise<BenchmarkItem[]> {
  const files = await resolveInputs(path).catch((e: unknown) => {
    throw new Error(`[infialign/decontam] benchmarks: benchmark file "${path}" cannot be opened (${(e as Error).message})`, { cause: e });
  });
  const items: BenchmarkItem[] = [];
  let n = 0;
  for await (const r of (async function* () {
    for (const file of files) yield* readRecords(file);
  })()) {
    n++;
    const where = `benchmark file "${r.loc.file}" ${r.loc.line !== undefined ? `line ${r.loc.line}` : `row ${r.loc.row ?? n - 1}`}`;
    if (!r.ok) throw new Error(`[infialign/decontam] benchmarks: ${where}: ${r.message}`);
    const rec = r.value as Record<string, unknown>;
    if (typeof rec !== "object" || rec === null || Array.isArray(rec)) throw new Error(`[infialign/decontam] benchmarks: ${where} is not an object`);
    const field = opts.field ?? DEFAULT_TEXT_FIELDS.find((f) => typeof rec[f] === "string");
    const text = field === undefined ? undefined : rec[field];
    if (typeof text !== "string") {
      const wanted = opts.field ? `"${opts.field}"` : DEFAULT_TEXT_FIELDS.map((f) => `"${f}"`).join(" / ");
      throw new Error(
        `[infialign/decontam] benchmarks: ${where} has no ${wanted} text field (fields seen: ${Object.keys(rec).join(", ") || "none"}). Pass field (CLI --field) naming the problem text.`,
      );
    }
    const idField = ID_FIELDS.find((f) => typeof rec[f] === "string" || typeof rec[f] === "number");
    const id = idField ? String(rec[idField]) : String(r.loc.line ?? r.loc.row ?? n);
    items.push({ benchmark: opts.name, id, text });
  }
  return items;
}

/** Loads one shipped benchmark by name. */
export async function loadBenchmark(name: ShippedBenchmark): Promise<BenchmarkItem[]> {
  if (!(SHIPPED_BENCHMARKS as readonly string[]).includes(name)) {
    throw new Error(`[infialign/decontam] benchmarks: unknown benchmark "${name}"; shipped: ${SHIPPED_BENCHMARKS.join(", ")}. Use loadBenchmarkFile for your own.`);
  }
  return loadBenchmarkFile(join(shippedDataDir(), `${name}.jsonl`), { name, field: SHIPPED_FIELDS[name] });
}

/** Loads the shipped benchmarks (all by default), in `SHIPPED_BENCHMARKS` order. */
export async function loadShippedBenchmarks(names: readonly ShippedBenchmark[] = SHIPPED_BENCHMARKS): Promise<BenchmarkItem[]> {
  const out: BenchmarkItem[] = [];
  for (const name of names) out.push(...(await loadBenchmark(name)));
  return out;
}
