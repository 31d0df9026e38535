export { type CustomMathBenchmarkOptions, type CustomMathItem, customMathBenchmark } from "./custom.js";
export { gpqaDiamondBenchmark, loadGpqaItems } from "./gpqa.js";
export {
  decodeTestCases,
  LCB_RELEASE_WINDOWS,
  type LiveCodeBenchFilter,
  liveCodeBenchBenchmark,
  loadLiveCodeBenchItems,
  matchesFilter,
  releaseWindow,
} from "./liveCodeBench.js";
export { repairLatexEscapes, type ShippedMathBenchmark, shippedMathBenchmark } from "./math.js";
export { loadMmluProItems, MMLU_PRO_CATEGORIES, mmluProBenchmark } from "./mmluPro.js";
export { PickleError, readPickledString } from "./pickle.js";
export { CHOICE_LETTERS, gpqaPrompt, liveCodeBenchPrompt, mathPrompt, mmluProPrompt, R1_MATH_INSTRUCTION } from "./prompts.js";
export { BENCHMARKS, getBenchmark } from "./registry.js";
export { goldPosition } from "./seededShuffle.js";
export { benchmarkSpec, toEvalItem } from "./spec.js";
