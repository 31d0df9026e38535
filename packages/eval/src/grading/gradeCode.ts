import { type CodeTest, type RunTestsOptions, runTests, SandboxUnavailableError, sandboxAvailable, stripThinking } from "@infialign/verify";
import type { Grade } from "../types.js";

const FENCE = /```([A-Za-z0-9_+-]*)[^\S\n]*\n([\s\S]*?)```/g;

/**
 * The program in a completion: the last fenced block tagged `python` / `py` / `python3`, else the last untagged
 * fenced block (as LiveCodeBench's `extract_code` takes the last fenced block). Reasoning inside `<think>` is ignored.
 */
export function extractPythonBlock(completion: string): string | undefined {
  const text = stripThinking(completion);
  let tagged: string | undefined;
  let untagged: string | undefined;
  for (const m of text.matchAll(FENCE)) {
    const lang = (m[1] ?? "").toLowerCase();
    if (lang === "python" || lang === "py" || lang === "python3") tagged = m[2];
    else if (lang === "") untagged = m[2];
  }
  const code = tagged ?? untagged;
  return code === undefined || code.trim() === "" ? undefined : code;
}

/** Options of `gradeCode`. */
export interface GradeCodeOptions extends Omit<RunTestsOptions, "funcName" | "unsafeAllowUnsandboxed"> {
  /** Function called by functional tests (LiveCodeBench `metadata.func_name`). */
  funcName?: string;
}

/**
 * Grades a code completion by running its last ```python``` block against `tests` in @infialign/verify's bubblewrap
 * sandbox (per-test wall limit 6 s by default, LiveCodeBench's timeout; stops at the first failing test). Correct
 * only when every test passes. Never runs unsandboxed: without bubblewrap the grade is
 * `{ correct: false, reason: "sandbox_unavailable" }`, which is no verdict on the model: `runEvaluation` refuses to
 * start code benchmarks without the sandbox and never saves such a grade. Other reasons: `no_code`, `no_tests`, or the first failing
 * test's verdict (`wrong_answer`, `runtime_error`, `timeout`, `memory_limit`, `output_limit`, `sandbox_violation`).
 */
export async function gradeCode(tests: readonly CodeTest[], completion: string, opts: GradeCodeOptions = {}): Promise<Grade> {
  const code = extractPythonBlock(completion);
  if (code === undefined) return { correct: false, reason: "no_code" };
  if (tests.length === 0) return { correct: false, extracted: code, reason: "no_tests" };
  if (!sandboxAvailable().ok) return { correct: false, extracted: code, reason: "sandbox_unavailable" };
  try {
    const r = await runTests(code, tests, { timeoutMs: 6_000, stopOnFirstFailure: true, ...opts });
    return r.verdict === "passed" ? { correct: true, extracted: code } : { correct: false, extracted: code, reason: r.verdict };
  } catch (e) {
    if (e instanceof SandboxUnavailableError) return { correct: false, extracted: code, reason: "sandbox_unavailable" };
    throw e;
  }
}
