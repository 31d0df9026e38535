import { loadBenchmarkItems, MMLU_PRO_CATEGORIES, resolveBenchmark } from "@infialign/data";
import type { BenchmarkSpec, EvalItem } from "../types.js";
import { benchmarkSpec, toEvalItem } from "./spec.js";

export { MMLU_PRO_CATEGORIES };

/**
 * Loads MMLU-Pro (`test` or `validation` split, JSONL or Parquet), parsed by `@infialign/data`'s `mmlu-pro` format:
 * "N/A" padding removed, up to 10 options A–J, gold from `answer_index` or `answer`. `meta.category` is one of the 14
 * domains.
 */
export async function loadMmluProItems(path: string, opts: { name?: string; limit?: number } = {}): Promise<EvalItem[]> {
  const items = await loadBenchmarkItems({ id: opts.name ?? "mmlu-pro", format: "mmlu-pro" }, { path, ...(opts.limit === undefined ? {} : { limit: opts.limit }) });
  return items.map((item) => toEvalItem(item, "mmlu-pro", 0));
}

/** MMLU-Pro from the user's file: official zero-shot CoT prompt, letters A–J, "answer is (X)" extraction. */
export function mmluProBenchmark(): BenchmarkSpec {
  return benchmarkSpec(resolveBenchmark("mmlu-pro"));
}
