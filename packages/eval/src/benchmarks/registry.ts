import type { BenchmarkSpec } from "../types.js";
import { gpqaDiamondBenchmark } from "./gpqa.js";
import { liveCodeBenchBenchmark } from "./liveCodeBench.js";
import { shippedMathBenchmark } from "./math.js";
import { mmluProBenchmark } from "./mmluPro.js";

/**
 * The built-in benchmarks by name. Math sets are shipped (no path); `gpqa-diamond`, `mmlu-pro` and `livecodebench`
 * read the user's copy given as `load({ path })`.
 */
export const BENCHMARKS: Readonly<Record<string, BenchmarkSpec>> = Object.freeze({
  aime24: shippedMathBenchmark("aime24"),
  aime25: shippedMathBenchmark("aime25"),
  amc23: shippedMathBenchmark("amc23"),
  math500: shippedMathBenchmark("math500"),
  gsm8k: shippedMathBenchmark("gsm8k"),
  "gpqa-diamond": gpqaDiamondBenchmark(),
  "mmlu-pro": mmluProBenchmark(),
  livecodebench: liveCodeBenchBenchmark(),
});

/**
 * A built-in benchmark by name. `livecodebench:<release>` (e.g. `livecodebench:v4_v5`, `livecodebench:release_v5`)
 * selects a LiveCodeBench release window. Throws listing the known names.
 */
export function getBenchmark(name: string): BenchmarkSpec {
  const lcb = /^livecodebench:(.+)$/.exec(name);
  if (lcb) return liveCodeBenchBenchmark({ release: lcb[1] as string });
  const spec = BENCHMARKS[name];
  if (!spec) {
    throw new Error(
      `[infialign/eval] benchmarks: unknown benchmark "${name}"; known: ${Object.keys(BENCHMARKS).join(", ")} (and livecodebench:<release>). Use customMathBenchmark() for your own math set.`,
    );
  }
  return spec;
}
