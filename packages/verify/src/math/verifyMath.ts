import { createDeadline, type Deadline, VerifyTimeout } from "./deadline.js";
import { answersEqual, type Match } from "./equivalence.js";
import { type ExtractOptions, extractAnswer, referenceAnswer } from "./extract.js";
import { compactAnswer, normalizeAnswer } from "./normalize.js";
import { type Node, parseLatex } from "./parse.js";

export type MathReason = "equal_exact" | "equal_numeric" | "equal_symbolic" | "unequal" | "no_answer" | "parse_error" | "timeout";

export interface MathVerdict {
  correct: boolean;
  reason: MathReason;
  /** The answer taken from the prediction, as extracted (before normalization). */
  extracted?: string;
  /** The gold answer after unwrapping `$…$` / `\boxed{}`. */
  gold?: string;
}

export interface VerifyMathOptions extends ExtractOptions {
  /** Time budget for one comparison, in milliseconds. @default 1000 */
  timeoutMs?: number;
  /** Longer answers are not parsed (reason `parse_error` unless equal as strings). @default 1000 */
  maxAnswerLength?: number;
  /** Clock used for the deadline; injectable for tests. @default performance.now */
  now?: () => number;
}

const REASON: Record<Exclude<Match, false>, MathReason> = { exact: "equal_exact", numeric: "equal_numeric", symbolic: "equal_symbolic" };

const isNumber = (n: Node) => n.k === "num" || (n.k === "neg" && n.a.k === "num");
/** `2,74` written without a space: a decimal comma, when the other side is a single number. */
const DECIMAL_COMMA = /^-?\d+,\d+$/;

/**
 * Decimal commas (see README, "Conventions"): a predicted `1,22` is a list of two numbers unless the
 * gold is a single number, then it is also read as 1.22. Never the gold's: a gold `-2,1` lists two
 * roots, and reading it as -2.1 would accept a wrong answer.
 */
function decimalCommaEqual(gt: Node, p: string, dl: Deadline): Match {
  if (DECIMAL_COMMA.test(p) && isNumber(gt)) return answersEqual(gt, parseLatex(p.replace(",", "."), dl), dl);
  return false;
}

/**
 * Whether `prediction` (a model output) states the same answer as `gold`. Gold first,
 * as in Math-Verify. Never throws: every failure is a verdict with a reason.
 */
export function verifyMath(gold: string, prediction: string, opts: VerifyMathOptions = {}): MathVerdict {
  let extracted: string | undefined;
  let goldAnswer: string | undefined;
  try {
    const found = extractAnswer(String(prediction ?? ""), opts);
    extracted = found?.answer;
    const g = normalizeAnswer(referenceAnswer(String(gold ?? "")));
    goldAnswer = g;
    if (extracted === undefined || !extracted.trim()) return { correct: false, reason: "no_answer", gold: g };
    const base = { extracted, gold: g };
    const max = opts.maxAnswerLength ?? 1000;
    if (extracted.length > max * 4) return { correct: false, reason: "parse_error", ...base };
    const p = normalizeAnswer(extracted);
    if (compactAnswer(p) === compactAnswer(g) && g !== "") return { correct: true, reason: "equal_exact", ...base };
    if (p.length > max || g.length > max) return { correct: false, reason: "parse_error", ...base };
    if (/^[A-Za-z][A-Za-z\s'’.-]*$/.test(g) && /[A-Za-z]{3}/.test(g)) {
      // Word answers ("Evelyn", "even") compare case-insensitively, not as products of letters.
      return { correct: p.toLowerCase() === g.toLowerCase(), reason: p.toLowerCase() === g.toLowerCase() ? "equal_exact" : "unequal", ...base };
    }
    const dl = createDeadline(opts.timeoutMs ?? 1000, opts.now);
    let gt: Node;
    let pt: Node;
    try {
      gt = parseLatex(g, dl);
      pt = parseLatex(p, dl);
    } catch (e) {
      if (e instanceof VerifyTimeout) throw e;
      return { correct: false, reason: "parse_error", ...base };
    }
    let m = answersEqual(gt, pt, dl);
    if (!m) m = decimalCommaEqual(gt, p, dl);
    if (!m) return { correct: false, reason: "unequal", ...base };
    return { correct: true, reason: REASON[m], ...base };
  } catch (e) {
    const base = { ...(extracted !== undefined && { extracted }), ...(goldAnswer !== undefined && { gold: goldAnswer }) };
    if (e instanceof VerifyTimeout) return { correct: false, reason: "timeout", ...base };
    // Stack overflow on pathological nesting, ± explosion and the like.
    return { correct: false, reason: "parse_error", ...base };
  }
}
