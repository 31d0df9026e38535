import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { itemScores } from "../metrics/index.js";
import { samplesFor } from "../protocol.js";
import type { BenchmarkResult, EvalItem, EvalRunResult, Protocol, SampleRecord } from "../types.js";
import { readSamples } from "./samplesFile.js";

/** Files of a run directory. */
export const RUN_FILES = {
  /** One `SampleRecord` per line, appended as completions arrive. */
  samples: "samples.jsonl",
  /** The items as prompted (code tests replaced by their count). */
  items: "items.jsonl",
  /** Model and protocol the samples were drawn with; checked on resume. */
  manifest: "run.json",
  /** `EvalRunResult`, written when the run completes. */
  results: "results.json",
  /** Held while a run writes the directory: pid, host and start time of that run (see `acquireRunLock`). */
  lock: "run.lock",
} as const;

export interface RunManifest {
  model: string;
  protocol: Protocol;
}

/** A finished run as reports and comparisons read it. */
export interface LoadedRun {
  dir: string;
  result: EvalRunResult;
  samples: SampleRecord[];
  /** Items by benchmark, then id; empty when the run has no `items.jsonl`. */
  items: Map<string, Map<string, EvalItem>>;
}

/**
 * Reads `results.json`, `samples.jsonl` and `items.jsonl` of a run directory. Results written before benchmark results
 * carried `perItem` and `reasons` get them from the samples the result counted.
 */
export async function loadRun(dir: string): Promise<LoadedRun> {
  const resultsPath = join(dir, RUN_FILES.results);
  const text = await readFile(resultsPath, "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") throw new Error(`[infialign/eval] run-dir: ${resultsPath} not found; is ${dir} a finished run? Rerun \`infialign-eval run --out ${dir}\` to finish it`);
    throw e;
  });
  let result: EvalRunResult;
  try {
    result = JSON.parse(text) as EvalRunResult;
  } catch (e) {
    throw new Error(`[infialign/eval] run-dir: ${resultsPath} is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof result.model !== "string" || !Array.isArray(result.benchmarks)) {
    throw new Error(`[infialign/eval] run-dir: ${resultsPath} lacks "model" or "benchmarks" (fields seen: ${Object.keys(result).join(", ")})`);
  }
  const { samples } = await readSamples(join(dir, RUN_FILES.samples));
  const items = new Map<string, Map<string, EvalItem>>();
  const itemsText = await readFile(join(dir, RUN_FILES.items), "utf8").catch(() => "");
  itemsText.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let item: EvalItem;
    try {
      item = JSON.parse(line) as EvalItem;
    } catch (e) {
      throw new Error(`[infialign/eval] run-dir: ${join(dir, RUN_FILES.items)} line ${i + 1} is not valid JSON (${(e as Error).message})`, { cause: e });
    }
    let byId = items.get(item.benchmark);
    if (!byId) items.set(item.benchmark, (byId = new Map()));
    byId.set(item.id, item);
  });
  const benchmarks = result.benchmarks.map((b) => (b.perItem && b.reasons ? b : withItemScores(b, result.protocol, samples, items.get(b.benchmark))));
  return { dir, result: { ...result, benchmarks }, samples, items };
}

function withItemScores(b: BenchmarkResult, protocol: Protocol, samples: readonly SampleRecord[], items: Map<string, EvalItem> | undefined): BenchmarkResult {
  const n = samplesFor(protocol, b.benchmark);
  const byItem = new Map<string, SampleRecord[]>();
  for (const s of samples) {
    if (s.benchmark !== b.benchmark || s.sampleIndex >= n || (items?.size && !items.has(s.itemId))) continue;
    const list = byItem.get(s.itemId);
    if (list) list.push(s);
    else byItem.set(s.itemId, [s]);
  }
  return { ...b, ...itemScores(byItem) };
}
