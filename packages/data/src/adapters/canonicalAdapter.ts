import { SampleSchema } from "../schema/sample.js";
import { failure, isAbsent, missingAnswer } from "./fields.js";
import type { SourceAdapter } from "./types.js";

/**
 * InfiAlign's own canonical `Sample` records (the shards of normalize/dedup/run and the
 * files of `export`), so they can be inspected and normalized again. The record is
 * validated with `SampleSchema`; its source, meta and lineage are kept, except that
 * `meta.adapter` becomes "canonical" (the adapter that produced this record) while
 * `meta.origin` still points at the record's first source file.
 */
export const canonicalAdapter: SourceAdapter = {
  name: "canonical",
  description: "InfiAlign canonical Sample: id, source, prompt, meta, lineage",
  signature: ["id", "source", "prompt", "lineage"],
  // Highest: no public schema carries this exact set of fields.
  priority: 110,
  matches: (fields) => fields.has("id") && fields.has("source") && fields.has("prompt") && fields.has("lineage"),
  adapt(record, ctx) {
    // Arrow/Parquet writers store absent optional fields as null.
    const parsed = SampleSchema.safeParse(Object.fromEntries(Object.entries(record).filter(([, v]) => !isAbsent(v))));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join(".") || undefined;
      const more = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more problem(s))` : "";
      return failure("invalid_record", field, `not a canonical Sample: ${field ?? "(record)"}: ${issue.message}${more}`);
    }
    const { id: _id, ...sample } = parsed.data;
    if (ctx.requireAnswer && sample.answer === undefined) return missingAnswer("answer", "the canonical Sample has none");
    return { ok: true, sample: { ...sample, meta: { ...sample.meta, adapter: "canonical" } } };
  },
};
