import pLimit from "p-limit";
import { compareStdout, type FloatTolerance, jsonEqual } from "./compare.js";
import { runSandboxed, type SandboxOptions, type SandboxPool, type SandboxResult } from "./sandbox.js";

/**
 * One LiveCodeBench-style test. `stdin`: `input` is fed on stdin and stdout compared with
 * `output`. `functional`: `input` holds one JSON value per line, the arguments of `funcName`,
 * and `output` the JSON of the expected return value.
 */
export interface CodeTest {
  input: string;
  output: string;
  testtype: "stdin" | "functional";
}

export type TestVerdict = "passed" | "wrong_answer" | "runtime_error" | "timeout" | "memory_limit" | "output_limit" | "sandbox_violation";

export interface TestResult {
  index: number;
  verdict: TestVerdict;
  /** The run, absent for tests skipped after a failure. */
  run?: SandboxResult;
}

export interface RunTestsOptions extends SandboxOptions, FloatTolerance {
  /** Function called by functional tests: `Solution().funcName` when a `class Solution` exists, else the top-level function. */
  funcName?: string;
  /** Programs run at once by this call. @default 4 */
  concurrency?: number;
  /** Pool whose limit this call's runs also queue behind, to bound many concurrent `runTests` together. */
  pool?: SandboxPool;
  /** Skip the remaining tests once one fails (tests already started still finish). @default false */
  stopOnFirstFailure?: boolean;
}

export interface RunTestsResult {
  /** `passed` when every test passed, else the verdict of the first failing test (by index). */
  verdict: TestVerdict;
  passed: number;
  total: number;
  /** Ran tests in index order; skipped ones are left out. */
  tests: TestResult[];
}

// Appended to the program; reads LCB's one-JSON-value-per-line arguments from stdin.
function functionalDriver(funcName: string): string {
  return `

def __infialign_main():
    import sys as _s, json as _j
    _args = [_j.loads(_l) for _l in _s.stdin.read().split("\\n") if _l.strip()]
    _g = globals()
    _f = getattr(_g["Solution"](), ${JSON.stringify(funcName)}) if "Solution" in _g else _g[${JSON.stringify(funcName)}]
    _r = _f(*_args)
    _s.stdout.write("\\n@@infialign-result@@" + _j.dumps(_r) + "\\n")

__infialign_main()
`;
}

const RESULT_MARK = "\n@@infialign-result@@";

function judge(test: CodeTest, run: SandboxResult, tol: FloatTolerance): TestVerdict {
  if (run.verdict !== "ok") return run.verdict;
  if (test.testtype === "stdin") return compareStdout(run.stdout, test.output, tol) ? "passed" : "wrong_answer";
  const at = run.stdout.lastIndexOf(RESULT_MARK);
  if (at < 0) return "wrong_answer";
  try {
    const actual: unknown = JSON.parse(run.stdout.slice(at + RESULT_MARK.length));
    return jsonEqual(actual, JSON.parse(test.output), tol) ? "passed" : "wrong_answer";
  } catch {
    return "wrong_answer";
  }
}

/** Runs `program` against each test in the sandbox, up to `concurrency` at once. */
export async function runTests(program: string, tests: readonly CodeTest[], opts: RunTestsOptions = {}): Promise<RunTestsResult> {
  const { funcName, concurrency = 4, stopOnFirstFailure = false, relTol, absTol, pool, ...sandbox } = opts;
  const run = pool ? pool.run : runSandboxed;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`[infialign/verify] sandbox: concurrency must be a positive integer, got ${concurrency}`);
  if (tests.some((t) => t.testtype === "functional") && !funcName) {
    throw new TypeError("[infialign/verify] sandbox: functional tests need funcName (the method or function to call); pass { funcName } from the problem's metadata.");
  }
  const tol: FloatTolerance = { ...(relTol !== undefined ? { relTol } : {}), ...(absTol !== undefined ? { absTol } : {}) };
  const limit = pLimit(concurrency);
  let failed = false;
  const results = await Promise.all(
    tests.map((test, index) =>
      limit(async (): Promise<TestResult | undefined> => {
        if (failed && stopOnFirstFailure) return undefined;
        const source = test.testtype === "functional" ? program + functionalDriver(funcName as string) : program;
        const result = await run(source, { ...sandbox, stdin: test.input });
        const verdict = judge(test, result, tol);
        if (verdict !== "passed") failed = true;
        return { index, verdict, run: result };
      }),
    ),
  );
  const ran = results.filter((r): r is TestResult => r !== undefined);
  const firstFailure = ran.find((r) => r.verdict !== "passed");
  const allRan = ran.length === tests.length;
  return {
    verdict: firstFailure ? firstFailure.verdict : allRan ? "passed" : "wrong_answer",
    passed: ran.filter((r) => r.verdict === "passed").length,
    total: tests.length,
    tests: ran,
  };
}
