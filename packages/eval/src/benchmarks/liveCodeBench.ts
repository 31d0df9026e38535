import { decodeTestCases, LCB_RELEASE_WINDOWS, type LiveCodeBenchFilter, liveCodeBenchFormat, loadBenchmarkItems, matchesFilter, releaseWindow, resolveBenchmark } from "@infialign/data";
import type { BenchmarkSpec, EvalItem } from "../types.js";
import { benchmarkSpec, toEvalItem } from "./spec.js";

export { decodeTestCases, LCB_RELEASE_WINDOWS, type LiveCodeBenchFilter, matchesFilter, releaseWindow };

const filterOptions = (filter: LiveCodeBenchFilter): Record<string, unknown> => Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined));

/** Loads LiveCodeBench `code_generation_lite` records from the user's JSONL (or Parquet), filtered by contest date. */
export async function loadLiveCodeBenchItems(path: string, opts: LiveCodeBenchFilter & { name?: string; limit?: number } = {}): Promise<EvalItem[]> {
  const { name, limit, ...filter } = opts;
  const items = await loadBenchmarkItems(
    { id: name ?? "livecodebench", format: "livecodebench", options: filterOptions(filter) },
    { path, ...(limit === undefined ? {} : { limit }) },
  );
  return items.map((item) => toEvalItem(item, "livecodebench", 0));
}

/** LiveCodeBench code generation from the user's `code_generation_lite` file; graded by sandboxed tests. */
export function liveCodeBenchBenchmark(filter: LiveCodeBenchFilter = {}): BenchmarkSpec {
  const options = liveCodeBenchFormat.options?.(filterOptions(filter)) ?? {};
  return benchmarkSpec(resolveBenchmark("livecodebench"), Object.keys(options).length > 0 ? { options } : {});
}
