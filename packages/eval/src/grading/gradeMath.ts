import { type VerifyMathOptions, verifyMath } from "@infialign/verify";
import type { Grade } from "../types.js";

/**
 * Grades a math completion against `gold` with `verifyMath` (gold first, as in Math-Verify): `<think>…</think>` is
 * ignored, the answer is taken by verify's `DEFAULT_EXTRACTION_PRIORITY` (`\boxed{}` first, then `####`, "final answer
 * is", `Answer:`, the whole output when it is an expression, a closing "Therefore …", the last math span, the last
 * number), and compared exactly, numerically or symbolically. `reason` is the verifier's code (`equal_exact`,
 * `equal_numeric`, `equal_symbolic`, `unequal`, `no_answer`, `parse_error`, `timeout`).
 */
export function gradeMath(gold: string, completion: string, opts: VerifyMathOptions = {}): Grade {
  const v = verifyMath(gold, completion, opts);
  return { correct: v.correct, reason: v.reason, ...(v.extracted !== undefined && { extracted: v.extracted }) };
}
