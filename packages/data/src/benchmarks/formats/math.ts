import { extractGsm8kFinal } from "../../normalize/answer.js";
import { benchmarkError, defined, fieldsSeen, optionalText, recordId, requireText } from "../benchmarkRecords.js";
import type { BenchmarkFormat, BenchmarkRecord } from "../types.js";

/**
 * Control characters left where a JSON escape ate a LaTeX backslash upstream (`\f` of `\frac`, `\t` of `\triangle`
 * in AIME 2025 lines 19 and 28; see `data/benchmarks/README.md`): restore the command.
 */
export function repairLatexEscapes(text: string): string {
  return text.replace(/\f(?=rac)/g, "\\f").replace(/\t(?=riangle|imes|heta|ext|frac)/g, "\\t").replace(/\x08(?=inom|oxed|egin)/g, "\\b");
}

const PROBLEM_FIELDS = ["problem", "question", "Problem", "Question"];
const ANSWER_FIELDS = ["answer", "Answer"];
const MATH_HINT = "Map your fields with fields: { problem, answer, id }.";

/** `field` when mapped (then required), else the first candidate present. */
function pick(rec: BenchmarkRecord, mapped: string | undefined, candidates: readonly string[], role: string): string {
  if (mapped !== undefined) return requireText(rec, mapped, MATH_HINT);
  const found = candidates.find((f) => rec.value[f] !== undefined && rec.value[f] !== null);
  if (found === undefined) {
    throw benchmarkError(`${rec.where} has no ${candidates.map((f) => `"${f}"`).join(" / ")} ${role} field (fields seen: ${fieldsSeen(rec.value)}). ${MATH_HINT}`);
  }
  return requireText(rec, found, MATH_HINT);
}

/**
 * Math problems with a final answer (MATH-500, AIME, AMC, your own): text = the problem (broken LaTeX escapes
 * repaired), gold = the answer field as written. Fields default to the first of `problem`/`question`/`Problem`/
 * `Question`, of `answer`/`Answer`, and of `id`/`unique_id`/`Record ID`/`idx` (else the line). Meta: `level` (an
 * integer level is also the `difficulty`), `difficulty`, `subject`, `domain` when present.
 */
export const mathFormat: BenchmarkFormat = {
  name: "math",
  kind: "math",
  expected: "records with a problem and an answer",
  fields: ["problem", "answer", "id"],
  parse(rec, ctx) {
    const text = repairLatexEscapes(pick(rec, ctx.fields.problem, PROBLEM_FIELDS, "problem"));
    const id = recordId(rec, ctx.fields.id, MATH_HINT);
    const level = Number(optionalText(rec.value, "level"));
    const difficulty = rec.value.difficulty;
    const meta = defined({
      level: Number.isInteger(level) ? level : undefined,
      difficulty: typeof difficulty === "number" || (typeof difficulty === "string" && difficulty.trim() !== "") ? difficulty : Number.isInteger(level) ? level : undefined,
      subject: optionalText(rec.value, "subject"),
      domain: optionalText(rec.value, "domain"),
    });
    if (ctx.textOnly) return { benchmark: ctx.benchmark, id, text, meta };
    return { benchmark: ctx.benchmark, id, text, meta, task: { kind: "math", answer: pick(rec, ctx.fields.answer, ANSWER_FIELDS, "answer") } };
  },
};

const GSM8K_HINT = 'GSM8K records have "question" and "answer" ending in "#### <number>".';

/** GSM8K (`question`, `answer` = worked solution ending in `#### <final>`): gold = the final number. */
export const gsm8kFormat: BenchmarkFormat = {
  name: "gsm8k",
  kind: "math",
  expected: 'GSM8K records with "question" and "answer"',
  parse(rec, ctx) {
    const text = requireText(rec, "question", GSM8K_HINT);
    const id = recordId(rec, undefined, GSM8K_HINT);
    if (ctx.textOnly) return { benchmark: ctx.benchmark, id, text, meta: {} };
    const final = extractGsm8kFinal(requireText(rec, "answer", GSM8K_HINT));
    if (final === undefined) throw benchmarkError(`${rec.where} has an "answer" without a "#### <number>" final line`);
    return { benchmark: ctx.benchmark, id, text, meta: {}, task: { kind: "math", answer: final } };
  },
};
