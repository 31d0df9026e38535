export { gpqaFormat } from "./formats/gpqa.js";
export { BENCHMARK_FORMATS } from "./formats/index.js";
export { decodeTestCases, LCB_RELEASE_WINDOWS, type LiveCodeBenchFilter, liveCodeBenchFormat, matchesFilter, releaseWindow } from "./formats/liveCodeBench.js";
export { gsm8kFormat, mathFormat, repairLatexEscapes } from "./formats/math.js";
export { MMLU_PRO_CATEGORIES, mmluProFormat } from "./formats/mmluPro.js";
export { textFormat } from "./formats/text.js";
export { loadBenchmarkItems } from "./loadBenchmarkItems.js";
export { PickleError, readPickledString } from "./pickle.js";
export { defineBenchmark, hasBenchmark, listBenchmarks, registerBenchmark, resolveBenchmark, unregisterBenchmark } from "./registry.js";
export { shippedBenchmarkDir } from "./shipped.js";
export type {
  BenchmarkDefinition,
  BenchmarkFormat,
  BenchmarkItem,
  BenchmarkKind,
  BenchmarkLicence,
  BenchmarkParseContext,
  BenchmarkRecord,
  BenchmarkTask,
  CodeTestCase,
  LoadBenchmarkOptions,
  RegisteredBenchmark,
} from "./types.js";
