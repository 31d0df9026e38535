export { compareStdout, type FloatTolerance, jsonEqual } from "./compare.js";
export { type CodeTest, type RunTestsOptions, type RunTestsResult, runTests, type TestResult, type TestVerdict } from "./runTests.js";
export {
  createSandboxPool,
  runSandboxed,
  type SandboxAvailability,
  type SandboxOptions,
  type SandboxPool,
  type SandboxResult,
  SandboxUnavailableError,
  type SandboxVerdict,
  sandboxAvailable,
} from "./sandbox.js";
