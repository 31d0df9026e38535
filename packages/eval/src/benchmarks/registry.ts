import { hasBenchmark, listBenchmarks, resolveBenchmark } from "@infialign/data";
import type { BenchmarkSpec } from "../types.js";
import { benchmarkSpec, evalError } from "./spec.js";

const BUILT_IN = ["aime24", "aime25", "amc23", "math500", "gsm8k", "gpqa-diamond", "mmlu-pro", "livecodebench"] as const;

/**
 * The built-in benchmarks by name, from `@infialign/data`'s registry. Math sets are shipped (no path);
 * `gpqa-diamond`, `mmlu-pro` and `livecodebench` read the user's copy given as `load({ path })`.
 */
export const BENCHMARKS: Readonly<Record<string, BenchmarkSpec>> = Object.freeze(Object.fromEntries(BUILT_IN.map((name) => [name, benchmarkSpec(resolveBenchmark(name))])));

/**
 * A benchmark of `@infialign/data`'s registry by name: built in, or added with `registerBenchmark` (the same
 * definition decontamination reads). `livecodebench:<release>` (e.g. `livecodebench:v4_v5`) selects a LiveCodeBench
 * release window; a deprecated alias (`gsm8k-test`) resolves with a warning. Throws listing the known names.
 */
export function getBenchmark(name: string): BenchmarkSpec {
  if (!hasBenchmark(name)) {
    throw evalError(
      "benchmarks",
      `unknown benchmark "${name}"; known: ${listBenchmarks()
        .map((b) => b.id)
        .join(
          ", ",
        )} (and livecodebench:<release>). Add your own with registerBenchmark() from @infialign/data, or customMathBenchmark() for in-memory math items.`,
    );
  }
  return benchmarkSpec(resolveBenchmark(name));
}
