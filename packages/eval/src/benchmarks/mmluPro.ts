import { gradeChoice } from "../grading/gradeChoice.js";
import type { BenchmarkSpec, EvalItem } from "../types.js";
import { CHOICE_LETTERS, mmluProPrompt } from "./prompts.js";
import { applyLimit, defined, evalError, optionalText, readBenchmarkFile, requireField } from "./records.js";

const HINT = 'Expected TIGER-Lab/MMLU-Pro records (JSONL or Parquet) with "question_id", "question", "options", "answer" or "answer_index", "category".';

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
 * Loads MMLU-Pro (`test` or `validation` split, JSONL or Parquet). "N/A" padding options are removed (as the official
 * `evaluate_from_local.py` does), leaving up to 10 options A–J; the gold letter is taken from `answer_index` (mapped
 * past removed padding) or else `answer`, and must name a remaining option. `meta.category` is one of the 14 domains.
 */
export async function loadMmluProItems(path: string, opts: { name?: string; limit?: number } = {}): Promise<EvalItem[]> {
  const name = opts.name ?? "mmlu-pro";
  const component = `benchmark ${name}`;
  const items: EvalItem[] = [];
  for await (const loc of readBenchmarkFile(path, component)) {
    const id = requireField(loc, "question_id", component, HINT).trim();
    const question = requireField(loc, "question", component, HINT);
    const raw = loc.rec.options;
    if (!Array.isArray(raw) || !raw.every((o) => typeof o === "string")) {
      throw evalError(component, `${loc.where} has "options" that is not a list of strings (got ${JSON.stringify(raw)?.slice(0, 80)}). ${HINT}`);
    }
    const kept = raw.map((text, i) => ({ text: text.trim(), i })).filter((o) => o.text !== "N/A" && o.text !== "");
    if (kept.length < 2 || kept.length > CHOICE_LETTERS.length) {
      throw evalError(component, `${loc.where} has ${kept.length} options after removing "N/A" padding; expected 2 to ${CHOICE_LETTERS.length}`);
    }
    let goldIndex: number | undefined;
    const ai = typeof loc.rec.answer_index === "bigint" ? Number(loc.rec.answer_index) : loc.rec.answer_index;
    if (typeof ai === "number" && Number.isInteger(ai)) goldIndex = kept.findIndex((o) => o.i === ai);
    else {
      const letter = optionalText(loc.rec, "answer")?.trim().toUpperCase();
      const at = letter?.length === 1 ? CHOICE_LETTERS.indexOf(letter) : -1;
      goldIndex = at < 0 ? undefined : kept.findIndex((o) => o.i === at);
    }
    if (goldIndex === undefined || goldIndex < 0) {
      throw evalError(component, `${loc.where} has no usable gold ("answer_index" ${JSON.stringify(ai)}, "answer" ${JSON.stringify(loc.rec.answer)}) among its ${kept.length} options`);
    }
    const category = optionalText(loc.rec, "category")?.trim() ?? "";
    const choices = kept.map((o) => o.text);
    items.push({
      benchmark: name,
      id,
      messages: mmluProPrompt(question, choices, category),
      kind: "choice",
      gold: CHOICE_LETTERS[goldIndex] as string,
      choices,
      meta: defined({ category: category || undefined, src: optionalText(loc.rec, "src") }),
    });
  }
  return applyLimit(items, opts.limit, component);
}

/** MMLU-Pro from the user's file: official zero-shot CoT prompt, letters A–J, "answer is (X)" extraction. */
export function mmluProBenchmark(): BenchmarkSpec {
  return {
    name: "mmlu-pro",
    title: "MMLU-Pro",
    kind: "choice",
    column: "MMLU-Pro",
    load: async (options = {}) => {
      if (!options.path) throw evalError("benchmark mmlu-pro", "needs the path of your MMLU-Pro file (TIGER-Lab/MMLU-Pro test split, JSONL or Parquet)");
      return loadMmluProItems(options.path, { limit: options.limit });
    },
    grade: async (item, completion) => gradeChoice(item.gold, completion, item.choices ?? 10),
  };
}
