import { extractBoxed, extractGsm8kFinal, type Sample, splitThink } from "@infialign/data";
import { verifyChoice, verifyMath } from "@infialign/verify";
import { DEFAULT_REPETITION_THRESHOLDS, type RepetitionThresholds, repetitionStats, repetitionViolation } from "./repetition.js";

export type QualityReason = "no_response" | "truncated" | "missing_final_answer" | "repetition" | "answer_mismatch" | "no_gold" | "low_judge_score";

export const QUALITY_REASONS: readonly QualityReason[] = [
  "no_response",
  "truncated",
  "missing_final_answer",
  "repetition",
  "answer_mismatch",
  "no_gold",
  "low_judge_score",
];

export type QualityVerdict = { keep: true } | { keep: false; reason: QualityReason; message: string };

export interface QualityOptions {
  /**
   * `meta` finish reasons that mean the generation was cut off (read from `meta.finishReason` or `meta.finish_reason`).
   * A response with `<think>` and no `</think>` is truncated too.
   * @default ["length"]
   */
  truncatedFinishReasons?: readonly string[];
  /** Drop records with no final answer (`answer`, else the last `\boxed{}`, else `#### x` of the final part). @default true */
  requireFinalAnswer?: boolean;
  /** What to do with records that have no `gold`: keep them unverified or drop them as `no_gold`. @default "keep" */
  noGold?: "keep" | "drop";
  /** Check the final answer against `gold` (`verifyMath`, or `verifyChoice` for choice items). @default true */
  verifyAnswer?: boolean;
  /** Repetition thresholds (measures of Gopher, Rae et al. 2021; pass GOPHER_REPETITION_THRESHOLDS for its Table A1 values), or `false` to skip. @default DEFAULT_REPETITION_THRESHOLDS */
  repetition?: Partial<RepetitionThresholds> | false;
  /** Drop records whose `meta.scores.judge` is below this (1–10 scale); unset = no judge filter. @default undefined */
  minJudgeScore?: number;
  /** Time budget of one `verifyMath` comparison, in ms. @default 1000 */
  verifyTimeoutMs?: number;
}

export interface ResolvedQualityOptions {
  truncatedFinishReasons: readonly string[];
  requireFinalAnswer: boolean;
  noGold: "keep" | "drop";
  verifyAnswer: boolean;
  repetition: RepetitionThresholds | false;
  minJudgeScore: number | undefined;
  verifyTimeoutMs: number;
}

/** Resolves quality options once; throws naming every invalid field. */
export function resolveQualityOptions(o: QualityOptions = {}): ResolvedQualityOptions {
  const problems: string[] = [];
  if (o.minJudgeScore !== undefined && !Number.isFinite(o.minJudgeScore)) problems.push("minJudgeScore must be a finite number");
  if (o.noGold !== undefined && o.noGold !== "keep" && o.noGold !== "drop") problems.push('noGold must be "keep" or "drop"');
  if (o.verifyTimeoutMs !== undefined && !(o.verifyTimeoutMs > 0)) problems.push("verifyTimeoutMs must be > 0");
  if (problems.length) throw new Error(`[infialign/sampling] quality: invalid options (${problems.join("; ")})`);
  return {
    truncatedFinishReasons: o.truncatedFinishReasons ?? ["length"],
    requireFinalAnswer: o.requireFinalAnswer ?? true,
    noGold: o.noGold ?? "keep",
    verifyAnswer: o.verifyAnswer ?? true,
    repetition:
      o.repetition === false
        ? false
        : {
            ...DEFAULT_REPETITION_THRESHOLDS,
            ...o.repetition,
            topNgramCharFraction: { ...DEFAULT_REPETITION_THRESHOLDS.topNgramCharFraction, ...o.repetition?.topNgramCharFraction },
            duplicateNgramCharFraction: { ...DEFAULT_REPETITION_THRESHOLDS.duplicateNgramCharFraction, ...o.repetition?.duplicateNgramCharFraction },
          },
    minJudgeScore: o.minJudgeScore,
    verifyTimeoutMs: o.verifyTimeoutMs ?? 1000,
  };
}

/** The record's final answer: `answer`, else the last `\boxed{}` of the text after `</think>`, else its `#### x` line. */
export function finalAnswerOf(sample: Pick<Sample, "answer" | "response">): string | undefined {
  if (sample.answer?.trim()) return sample.answer.trim();
  const final = splitThink(sample.response ?? "").final;
  return extractBoxed(final) ?? extractGsm8kFinal(final);
}

/** Option texts or count when `meta` marks a multiple-choice item (`meta.choices`: string[] or `meta.numChoices`: number). */
function choiceOptions(meta: Sample["meta"]): readonly string[] | number | undefined {
  const choices = meta.choices;
  if (Array.isArray(choices) && choices.length > 1 && choices.every((c) => typeof c === "string")) return choices as string[];
  return typeof meta.numChoices === "number" && meta.numChoices > 1 ? meta.numChoices : undefined;
}

function finishReason(meta: Sample["meta"]): string | undefined {
  const r = meta.finishReason ?? meta.finish_reason;
  return typeof r === "string" ? r : undefined;
}

/**
 * Whether a record passes quality control, and why not. Checks run in this order and the
 * first failure is the reason: no_response → truncated → repetition → missing_final_answer →
 * no_gold → answer_mismatch → low_judge_score. Pure and synchronous (a judge score must
 * already be in `meta.scores.judge`; `qualityStage` can fill it in).
 */
export function checkQuality(sample: Sample, options: QualityOptions = {}): QualityVerdict {
  return checkQualityResolved(sample, resolveQualityOptions(options));
}

/** `checkQuality` with options resolved once (the stage's hot path). */
export function checkQualityResolved(sample: Sample, o: ResolvedQualityOptions): QualityVerdict {
  const response = sample.response ?? "";
  if (!response.trim()) return { keep: false, reason: "no_response", message: "the record has no response" };
  const finish = finishReason(sample.meta);
  if (finish !== undefined && o.truncatedFinishReasons.includes(finish))
    return { keep: false, reason: "truncated", message: `generation stopped with finish reason "${finish}"` };
  const open = response.lastIndexOf("<think>");
  if (open !== -1 && response.indexOf("</think>", open) === -1) return { keep: false, reason: "truncated", message: "<think> is never closed" };
  if (o.repetition) {
    const violation = repetitionViolation(repetitionStats(response), o.repetition);
    if (violation) return { keep: false, reason: "repetition", message: `repeated text: ${violation}` };
  }
  const answer = finalAnswerOf(sample);
  const choices = choiceOptions(sample.meta);
  if (answer === undefined && o.requireFinalAnswer && choices === undefined)
    return { keep: false, reason: "missing_final_answer", message: "no answer field, \\boxed{} or '#### ' line in the final part of the response" };
  const gold = sample.gold?.trim();
  if (!gold) {
    if (o.noGold === "drop") return { keep: false, reason: "no_gold", message: "the record has no gold answer to verify against" };
  } else if (o.verifyAnswer) {
    if (choices !== undefined) {
      const v = verifyChoice(gold, answer ?? response, { options: choices });
      if (!v.correct) return { keep: false, reason: "answer_mismatch", message: `chose ${v.extracted ?? "nothing"} (${v.reason}), gold ${gold}` };
    } else if (answer !== undefined) {
      const v = verifyMath(gold, `\\boxed{${answer}}`, { timeoutMs: o.verifyTimeoutMs });
      if (!v.correct) return { keep: false, reason: "answer_mismatch", message: `answer "${answer}" does not match gold "${gold}" (${v.reason})` };
    }
  }
  if (o.minJudgeScore !== undefined) {
    const score = sample.meta.scores?.judge;
    if (score !== undefined && score < o.minJudgeScore)
      return { keep: false, reason: "low_judge_score", message: `judge score ${score} < minJudgeScore ${o.minJudgeScore}` };
  }
  return { keep: true };
}
