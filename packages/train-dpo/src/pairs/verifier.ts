import type { Sample } from "@infialign/data";
import { verifyChoice, verifyMath } from "@infialign/verify";

/** A verifier's judgement of one response against the gold answer. */
export interface PairVerdict {
  correct: boolean;
  /** Why: `@infialign/verify` reasons (`equal_exact`, `unequal`, `no_answer`, `timeout`, …). */
  reason: string;
  /** The answer taken from the response, when one was found. */
  extracted?: string;
}

/** Checks a response against the sample's gold answer. */
export type PairVerifier = (gold: string, response: string, sample: Sample) => PairVerdict;

/**
 * Verdicts that do not show the response is wrong (the comparison could not be made): such a response is neither
 * counted as correct nor used as a rejected example.
 */
export const UNCERTAIN_REASONS: ReadonlySet<string> = new Set(["timeout", "parse_error", "ambiguous"]);

/**
 * Multiple-choice samples (`meta.options`: the option texts, or `meta.choices`) go to `verifyChoice`; everything else
 * to `verifyMath` (Math-Verify semantics: boxed / final-answer extraction, symbolic and numeric equality).
 */
export const defaultVerifier: PairVerifier = (gold, response, sample) => {
  const options = sample.meta.options ?? sample.meta.choices;
  if (Array.isArray(options) && options.length > 0 && options.every((o) => typeof o === "string")) {
    const v = verifyChoice(gold, response, { options: options as string[] });
    return { correct: v.correct, reason: v.reason === "extracted" ? (v.correct ? "equal_exact" : "unequal") : v.reason, ...(v.extracted !== undefined && { extracted: v.extracted }) };
  }
  const v = verifyMath(gold, response);
  return { correct: v.correct, reason: v.reason, ...(v.extracted !== undefined && { extracted: v.extracted }) };
};
