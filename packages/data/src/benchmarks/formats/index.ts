import type { BenchmarkFormat } from "../types.js";
import { gpqaFormat } from "./gpqa.js";
import { liveCodeBenchFormat } from "./liveCodeBench.js";
import { gsm8kFormat, mathFormat } from "./math.js";
import { mmluProFormat } from "./mmluPro.js";
import { textFormat } from "./text.js";

/** The built-in benchmark formats by name: one parser per kind of benchmark file. */
export const BENCHMARK_FORMATS: Readonly<Record<string, BenchmarkFormat>> = Object.freeze({
  math: mathFormat,
  gsm8k: gsm8kFormat,
  gpqa: gpqaFormat,
  "mmlu-pro": mmluProFormat,
  livecodebench: liveCodeBenchFormat,
  text: textFormat,
});
