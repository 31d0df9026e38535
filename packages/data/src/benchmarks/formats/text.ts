import { benchmarkError, fieldsSeen, recordId } from "../benchmarkRecords.js";
import type { BenchmarkFormat } from "../types.js";

const TEXT_FIELDS = ["problem", "question", "Question", "prompt", "text"];

/**
 * Problem texts without gold answers, for decontamination only: text = `fields.text`, else the first string of
 * `problem`, `question`, `Question` (GPQA CSV), `prompt`, `text`; id = `fields.id`, else `id`/`unique_id`/`Record ID`/
 * `idx`, else the line (row).
 */
export const textFormat: BenchmarkFormat = {
  name: "text",
  kind: "text",
  expected: "records with a problem text",
  fields: ["text", "id"],
  parse(rec, ctx) {
    const field = ctx.fields.text ?? TEXT_FIELDS.find((f) => typeof rec.value[f] === "string");
    const text = field === undefined ? undefined : rec.value[field];
    if (typeof text !== "string") {
      const wanted = ctx.fields.text ? `"${ctx.fields.text}"` : TEXT_FIELDS.map((f) => `"${f}"`).join(" / ");
      throw benchmarkError(`${rec.where} has no ${wanted} text field (fields seen: ${fieldsSeen(rec.value)}). Pass field (CLI --field) naming the problem text.`);
    }
    return { benchmark: ctx.benchmark, id: recordId(rec, ctx.fields.id, "Map the id with fields: { id }."), text };
  },
};
