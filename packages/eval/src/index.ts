// Public API of @infialign/eval: reasoning benchmarks (AIME, MATH-500, AMC, GSM8K, GPQA-Diamond, MMLU-Pro,
// LiveCodeBench) with their prompts and graders, the R1 / open-r1 protocols (avg@n, pass@k, maj@k), runners for any
// OpenAI-compatible endpoint or a local model with resumable persistence, run comparison, and reports. Every export is
// named here.

export type { CustomMathBenchmarkOptions, CustomMathItem, LiveCodeBenchFilter, ShippedMathBenchmark } from "./benchmarks/index.js";
export {
  BENCHMARKS,
  benchmarkSpec,
  CHOICE_LETTERS,
  customMathBenchmark,
  decodeTestCases,
  getBenchmark,
  goldPosition,
  gpqaDiamondBenchmark,
  gpqaPrompt,
  LCB_RELEASE_WINDOWS,
  liveCodeBenchBenchmark,
  liveCodeBenchPrompt,
  loadGpqaItems,
  loadLiveCodeBenchItems,
  loadMmluProItems,
  MMLU_PRO_CATEGORIES,
  matchesFilter,
  mathPrompt,
  mmluProBenchmark,
  mmluProPrompt,
  PickleError,
  R1_MATH_INSTRUCTION,
  readPickledString,
  releaseWindow,
  repairLatexEscapes,
  shippedMathBenchmark,
  toEvalItem,
} from "./benchmarks/index.js";
export type { ProgramIO as EvalCliIo } from "./cli/program.js";
export { HELP as EVAL_USAGE, main as evalCliMain } from "./cli/program.js";
export type { BenchmarkComparison, CompareOptions, FlipBasis, KlEstimate, RunComparison, RunSamples } from "./compare/compareRuns.js";
export { compareRuns } from "./compare/compareRuns.js";
export type { GradeCodeOptions } from "./grading/index.js";
export { extractPythonBlock, gradeChoice, gradeCode, gradeMath } from "./grading/index.js";
export type { SummarizeLabels, Vote } from "./metrics/index.js";
export { answerKey, averageOf, itemScores, majorityCorrect, mean, passAtK, standardError, summarize } from "./metrics/index.js";
export type { ProtocolOverrides, ProtocolPreset } from "./protocol.js";
export { DEFAULT_PROTOCOL, PROTOCOL_PRESETS, resolveProtocol, samplesFor } from "./protocol.js";
export { PAPER_COLUMNS, renderMarkdownTable } from "./report/markdownTable.js";
export type { HtmlReportOptions, ReportRun } from "./report/reportHtml.js";
export { renderReportHtml } from "./report/reportHtml.js";
export type { BarSeries, GroupedBarChartOptions } from "./report/svgCharts.js";
export { groupedBarChart } from "./report/svgCharts.js";
export type { EndpointRunnerOptions } from "./run/endpointRunner.js";
export { endpointRunner, estimatePromptTokens } from "./run/endpointRunner.js";
export type { LocalRunnerOptions } from "./run/localRunner.js";
export { localRunner } from "./run/localRunner.js";
export type { LoadedRun, RunManifest } from "./run/runDir.js";
export { loadRun, RUN_FILES } from "./run/runDir.js";
export type { RunEvaluationOptions, RunEvaluationResult } from "./run/runEvaluation.js";
export { runEvaluation } from "./run/runEvaluation.js";
export type { RunLock, RunLockOptions, RunLockOwner } from "./run/runLock.js";
export { acquireRunLock } from "./run/runLock.js";
export type { EvalRunner, RunnerCompletion } from "./run/runner.js";
export type { ReadSamplesResult } from "./run/samplesFile.js";
export { readSamples, SamplesWriter, sampleKey } from "./run/samplesFile.js";
export type { BenchmarkResult, BenchmarkSpec, CodeTestCase, EvalItem, EvalRunResult, Grade, GradeKind, Protocol, SampleRecord } from "./types.js";
