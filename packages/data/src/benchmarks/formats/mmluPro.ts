import { benchmarkError, defined, optionalText, requireId, requireText } from "../benchmarkRecords.js";
import type { BenchmarkFormat } from "../types.js";

const HINT = 'Expected TIGER-Lab/MMLU-Pro records (JSONL or Parquet) with "question_id", "question", "options", "answer" or "answer_index", "category".';
const LETTERS = "ABCDEFGHIJ";

/** The 14 MMLU-Pro categories (TIGER-Lab/MMLU-Pro `README.md`). */
export const MMLU_PRO_CATEGORIES = [
  "biology",
  "business",
  "chemistry",
  "computer science",
  "economics",
  "engineering",
  "health",
  "history",
  "law",
  "math",
  "other",
  "philosophy",
  "physics",
  "psychology",
] as const;

/**
 * MMLU-Pro (`test` or `validation` split, JSONL or Parquet). text = `question` alone, as for GPQA. "N/A" padding
 * options are removed (as the official `evaluate_from_local.py` does), leaving 2 to 10 options; the gold is
 * `answer_index` (mapped past removed padding) or else the `answer` letter, and must name a remaining option. Meta:
 * `category`, `src`, `answer` (the letter), `options` (as in the file).
 */
export const mmluProFormat: BenchmarkFormat = {
  name: "mmlu-pro",
  kind: "choice",
  label: "MMLU-Pro",
  expected: "JSON Lines or Parquet records with question_id and question",
  parse(rec, ctx) {
    const id = requireId(rec, "question_id", HINT);
    const text = requireText(rec, "question", HINT);
    const raw = rec.value.options;
    const listed = Array.isArray(raw) && raw.every((o) => typeof o === "string");
    if (!listed && (!ctx.textOnly || (raw !== undefined && raw !== null))) {
      throw benchmarkError(`${rec.where} has "options" that is not a list of strings (got ${JSON.stringify(raw)?.slice(0, 80)}). ${HINT}`);
    }
    const category = optionalText(rec.value, "category")?.trim();
    const meta = defined({ category, src: optionalText(rec.value, "src"), answer: optionalText(rec.value, "answer"), options: listed ? raw : undefined });
    if (ctx.textOnly) return { benchmark: ctx.benchmark, id, text, meta };
    const kept = (raw as string[]).map((option, i) => ({ text: option.trim(), i })).filter((o) => o.text !== "N/A" && o.text !== "");
    if (kept.length < 2 || kept.length > LETTERS.length) {
      throw benchmarkError(`${rec.where} has ${kept.length} options after removing "N/A" padding; expected 2 to ${LETTERS.length}`);
    }
    const ai = typeof rec.value.answer_index === "bigint" ? Number(rec.value.answer_index) : rec.value.answer_index;
    let answer: number | undefined;
    if (typeof ai === "number" && Number.isInteger(ai)) answer = kept.findIndex((o) => o.i === ai);
    else {
      const letter = optionalText(rec.value, "answer")?.trim().toUpperCase();
      const at = letter?.length === 1 ? LETTERS.indexOf(letter) : -1;
      answer = at < 0 ? undefined : kept.findIndex((o) => o.i === at);
    }
    if (answer === undefined || answer < 0) {
      throw benchmarkError(`${rec.where} has no usable gold ("answer_index" ${JSON.stringify(ai)}, "answer" ${JSON.stringify(rec.value.answer)}) among its ${kept.length} options`);
    }
    return { benchmark: ctx.benchmark, id, text, meta, task: { kind: "choice", options: kept.map((o) => o.text), answer, shuffle: false } };
  },
};
