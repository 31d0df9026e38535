import { defined, optionalText, requireId, requireText } from "../benchmarkRecords.js";
import type { BenchmarkFormat } from "../types.js";

const HINT = 'Expected the official GPQA CSV (Idavidrein/gpqa, e.g. gpqa_diamond.csv) with "Question", "Correct Answer", "Incorrect Answer 1..3" and "Record ID".';

/**
 * GPQA's official CSV (`gpqa_diamond.csv`, `gpqa_main.csv`, `gpqa_extended.csv`; JSONL/Parquet with the same columns
 * too). text = `Question` alone: the options are short and generic ("None of the above", numbers), and a training
 * text that copies a GPQA problem copies its question. Options: the correct answer first, then the three incorrect
 * ones (`shuffle: true`). Meta: `domain`, `subdomain`, `difficulty` (the writer's estimate without its gloss),
 * `answer` (the correct answer's text).
 */
export const gpqaFormat: BenchmarkFormat = {
  name: "gpqa",
  kind: "choice",
  label: "GPQA",
  expected: "a CSV with a header row including Question, Correct Answer and Record ID",
  parse(rec, ctx) {
    const id = requireId(rec, "Record ID", HINT);
    const text = requireText(rec, "Question", HINT);
    const writer = optionalText(rec.value, "Writer's Difficulty Estimate");
    const meta = defined({
      domain: optionalText(rec.value, "High-level domain"),
      subdomain: optionalText(rec.value, "Subdomain"),
      // "Hard undergraduate level (could be …)" → "Hard undergraduate level".
      difficulty: writer?.replace(/\s*\(.*$/s, "").trim() || undefined,
      answer: optionalText(rec.value, "Correct Answer"),
    });
    if (ctx.textOnly) return { benchmark: ctx.benchmark, id, text, meta };
    const options = ["Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"].map((f) => requireText(rec, f, HINT).trim());
    return { benchmark: ctx.benchmark, id, text, meta, task: { kind: "choice", options, answer: 0, shuffle: true } };
  },
};
