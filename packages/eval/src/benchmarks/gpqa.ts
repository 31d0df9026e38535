import { loadBenchmarkItems, resolveBenchmark } from "@infialign/data";
import type { BenchmarkSpec, EvalItem } from "../types.js";
import { benchmarkSpec, toEvalItem } from "./spec.js";

/**
 * Loads GPQA from the user's CSV (gated dataset, never shipped), parsed by `@infialign/data`'s `gpqa` format. As in
 * lighteval's `gpqa:diamond`, the correct answer is inserted among the three incorrect ones at a random position,
 * drawn per item from an RNG seeded by `(seed, Record ID)`: the same seed gives the same order on every run, and the
 * gold letter is that position.
 */
export async function loadGpqaItems(path: string, opts: { name?: string; seed?: number; limit?: number } = {}): Promise<EvalItem[]> {
  const items = await loadBenchmarkItems({ id: opts.name ?? "gpqa-diamond", format: "gpqa" }, { path, ...(opts.limit === undefined ? {} : { limit: opts.limit }) });
  return items.map((item) => toEvalItem(item, "gpqa", opts.seed ?? 0));
}

/** GPQA-Diamond (`gpqa_diamond.csv`, 198 questions): lighteval prompt, seeded choice shuffle, letter grading. */
export function gpqaDiamondBenchmark(): BenchmarkSpec {
  return benchmarkSpec(resolveBenchmark("gpqa-diamond"));
}
