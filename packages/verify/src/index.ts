// Public API of @infialign/verify. Every export is named here.

export type { ChoiceExtraction, ChoiceOptions, ChoiceVerdict } from "./choice/index.js";
// Multiple choice
export { extractChoice, verifyChoice } from "./choice/index.js";
export type {
  CodeTest,
  FloatTolerance,
  RunTestsOptions,
  RunTestsResult,
  SandboxAvailability,
  SandboxOptions,
  SandboxPool,
  SandboxResult,
  SandboxVerdict,
  TestResult,
  TestVerdict,
} from "./code/index.js";
// Code execution
export { compareStdout, createSandboxPool, jsonEqual, runSandboxed, runTests, SandboxUnavailableError, sandboxAvailable } from "./code/index.js";
export type { Judge, JudgeConfig, PairVerdict, RubricScore, ScoreRange } from "./judge/index.js";
// LLM judge
export { createJudge, parsePairVerdict, parseScore } from "./judge/index.js";
export type { ExtractionSource, ExtractOptions, MathReason, MathVerdict, VerifyMathOptions } from "./math/index.js";
// Math
export { DEFAULT_EXTRACTION_PRIORITY, extractAnswer, NUMERIC_TOLERANCE, normalizeAnswer, stripThinking, verifyMath } from "./math/index.js";
