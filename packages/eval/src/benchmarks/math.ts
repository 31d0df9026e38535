import { repairLatexEscapes, resolveBenchmark } from "@infialign/data";
import type { BenchmarkSpec } from "../types.js";
import { benchmarkSpec } from "./spec.js";

export { repairLatexEscapes };

/** The math benchmarks shipped with @infialign/data (its `data/benchmarks/` folder). */
export type ShippedMathBenchmark = "aime24" | "aime25" | "amc23" | "math500" | "gsm8k";

/** A shipped math benchmark as a `BenchmarkSpec`: R1 math prompt, `verifyMath` grading. */
export function shippedMathBenchmark(name: ShippedMathBenchmark): BenchmarkSpec {
  return benchmarkSpec(resolveBenchmark(name));
}
