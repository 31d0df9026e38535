import { basename } from "node:path";
import type { ParseArgsConfig } from "node:util";
import { hasBenchmark, listBenchmarks, type RegisteredBenchmark, resolveBenchmark } from "@infialign/data";
import { type BenchmarkItem, loadBenchmarkFile, loadShippedBenchmarks, SHIPPED_BENCHMARKS, type ShippedBenchmark } from "../benchmarks/loadBenchmark.js";
import { loadGpqa, loadLiveCodeBench, loadMmluPro } from "../benchmarks/userBenchmarks.js";
import { Decontaminator, type DecontaminatorConfig, type DecontaminatorOptions, resolveDecontaminatorConfig } from "../decontaminator.js";
import { DEFAULT_EMBEDDING_INDEX_CONFIG, type TextEmbedder } from "../embedding/embeddingIndex.js";
import { DEFAULT_NGRAM_INDEX_CONFIG } from "../ngram/config.js";
import { type EmbedderFactory, samplingEmbedderFactory } from "./embedderOption.js";

/** Loaders selectable with `--benchmark-file FILE:format`. */
export const FILE_FORMATS = ["generic", "gpqa", "mmlu-pro", "livecodebench"] as const;
type FileFormat = (typeof FILE_FORMATS)[number];

/** parseArgs options shared by `check` and `run`. */
export const BENCHMARK_ARG_OPTIONS = {
  n: { type: "string" },
  "min-item-words": { type: "string" },
  benchmarks: { type: "string" },
  "benchmark-file": { type: "string", multiple: true },
  field: { type: "string" },
  gpqa: { type: "string", multiple: true },
  "mmlu-pro": { type: "string", multiple: true },
  livecodebench: { type: "string", multiple: true },
  "no-paraphrase": { type: "boolean" },
  embedder: { type: "string" },
  "embedding-threshold": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

export const BENCHMARK_HELP = `Benchmark options (check and run):
  --benchmarks <list>       shipped benchmarks, comma-separated, or "none" (default all: ${SHIPPED_BENCHMARKS.join(",")})
  --benchmark-file <FILE[:format]>  also check against your own file (repeatable); format: ${FILE_FORMATS.join(" | ")}
                            (default generic: JSONL/JSON/CSV/Parquet, text from --field); benchmark name = file name
  --field <name>            text field of generic --benchmark-file records (default problem / question / Question / prompt / text)
  --gpqa <FILE>             GPQA official CSV (gpqa_diamond.csv ...); matched text = Question (repeatable)
  --mmlu-pro <FILE>         MMLU-Pro JSONL or Parquet; matched text = question (repeatable)
  --livecodebench <FILE>    LiveCodeBench code_generation_lite JSONL; matched text = title + content (repeatable)
  --n <int>                 words per n-gram (default ${DEFAULT_NGRAM_INDEX_CONFIG.n}, as lm-evaluation-harness; open-r1 uses 8)
  --min-item-words <int>    items shorter than this are not indexed (default ${DEFAULT_NGRAM_INDEX_CONFIG.minItemWords})
  --no-paraphrase           n-gram layer only (skip the paraphrase layer)
  --embedder <spec>         add the embedding layer: hashing | hashing:<dim> | onnx:<model dir> | openai:<base URL>#<model>
                            (built by @infialign/sampling's createEmbedder; install it to use this option)
  --embedding-threshold <cos>  minimum cosine of an embedding match (default ${DEFAULT_EMBEDDING_INDEX_CONFIG.threshold}; calibrate per embedder)
`;

export interface BenchmarkArgValues {
  n?: string;
  "min-item-words"?: string;
  benchmarks?: string;
  "benchmark-file"?: string[];
  field?: string;
  gpqa?: string[];
  "mmlu-pro"?: string[];
  livecodebench?: string[];
  "no-paraphrase"?: boolean;
  embedder?: string;
  "embedding-threshold"?: string;
}

/** A benchmark set with the checker config (and embedder) it will be indexed under. */
export interface BenchmarkSetup {
  items: BenchmarkItem[];
  /** Resolved config; part of the `run` stage key so a changed default reruns the stage. */
  config: DecontaminatorConfig;
  /** The `--embedder`, when given. */
  embedder?: TextEmbedder;
  /** Builds the decontaminator (the index build is the expensive part, so `run` defers it). */
  build(background?: readonly string[]): Promise<Decontaminator>;
}

function cliError(message: string): Error {
  return new Error(`[infialign/decontam] cli: ${message}`);
}

export function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw cliError(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

/** `path.jsonl:gpqa` → file + format; a colon followed by anything else stays part of the path (e.g. `C:\\x.csv`). */
function splitFileSpec(spec: string): { file: string; format: FileFormat } {
  const colon = spec.lastIndexOf(":");
  const suffix = colon > 0 ? spec.slice(colon + 1) : "";
  if ((FILE_FORMATS as readonly string[]).includes(suffix)) return { file: spec.slice(0, colon), format: suffix as FileFormat };
  if (/^[a-z][a-z-]*$/.test(suffix) && colon > 1) {
    throw cliError(`--benchmark-file "${spec}": unknown format "${suffix}"; use ${FILE_FORMATS.join(", ")}`);
  }
  return { file: spec, format: "generic" };
}

const fileStem = (file: string) => basename(file).replace(/\.(jsonl|ndjson|csv|json|parquet)(\.gz|\.zst)?$/i, "");

function cosineOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (value.trim() === "" || !Number.isFinite(x) || x < -1 || x > 1) throw cliError(`--embedding-threshold must be a cosine between -1 and 1, got "${value}"`);
  return x;
}

/**
 * Loads every benchmark the options name, in a fixed order: shipped, --benchmark-file, --gpqa, --mmlu-pro, --livecodebench;
 * and builds the `--embedder` with `createEmbedder` (default: `@infialign/sampling`'s).
 */
export async function loadBenchmarkSetup(values: BenchmarkArgValues, createEmbedder: EmbedderFactory = samplingEmbedderFactory): Promise<BenchmarkSetup> {
  const raw = values.benchmarks?.trim();
  const names = raw === "none" ? [] : (raw?.split(",").map((s) => s.trim()).filter(Boolean) ?? [...SHIPPED_BENCHMARKS]);
  // The registry knows aliases (gsm8k-test) and in-process registrations; gated sets (GPQA, …) have no file to load here.
  const loadable = (def: RegisteredBenchmark) => def.file !== undefined || def.records !== undefined;
  const unknown = names.filter((s) => !hasBenchmark(s) || !loadable(resolveBenchmark(s)));
  if (unknown.length) throw cliError(`unknown benchmark(s) ${unknown.join(", ")} in --benchmarks; loadable: ${listBenchmarks().filter(loadable).map((b) => b.id).join(", ")} (use --gpqa, --mmlu-pro, --livecodebench or --benchmark-file for others)`);
  const items: BenchmarkItem[] = await loadShippedBenchmarks(names as ShippedBenchmark[]);
  for (const spec of values["benchmark-file"] ?? []) {
    const { file, format } = splitFileSpec(spec);
    const name = fileStem(file);
    if (format === "gpqa") items.push(...(await loadGpqa(file, { name })));
    else if (format === "mmlu-pro") items.push(...(await loadMmluPro(file, { name })));
    else if (format === "livecodebench") items.push(...(await loadLiveCodeBench(file, { name })));
    else items.push(...(await loadBenchmarkFile(file, { name, field: values.field })));
  }
  for (const file of values.gpqa ?? []) items.push(...(await loadGpqa(file)));
  for (const file of values["mmlu-pro"] ?? []) items.push(...(await loadMmluPro(file)));
  for (const file of values.livecodebench ?? []) items.push(...(await loadLiveCodeBench(file)));
  if (items.length === 0) throw cliError("no benchmark items to check against; drop --benchmarks none or add --gpqa / --mmlu-pro / --livecodebench / --benchmark-file");

  const threshold = cosineOption(values["embedding-threshold"]);
  if (threshold !== undefined && values.embedder === undefined) throw cliError("--embedding-threshold needs --embedder");
  const options: DecontaminatorOptions = {
    ngram: { n: intOption("n", values.n), minItemWords: intOption("min-item-words", values["min-item-words"]) },
    paraphrase: { enabled: !values["no-paraphrase"] },
    embedding: { threshold },
  };
  const config = resolveDecontaminatorConfig(options);
  const embedder = values.embedder === undefined ? undefined : await createEmbedder(values.embedder, { fitTexts: items.map((it) => it.text) });
  return { items, config, embedder, build: (background) => Decontaminator.build(items, config, { embedder, background }) };
}
