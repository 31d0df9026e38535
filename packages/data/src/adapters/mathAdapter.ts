import { extractBoxed } from "../normalize/answer.js";
import { baseMeta, compact, isAbsent, missingAnswer, optionalAnswer, optionalString, requireString, sourceIds, wrongType } from "./fields.js";
import type { SourceAdapter } from "./types.js";

/** "Level 3", "3" or 3 → 3; MATH's "Level ?" → undefined. */
function parseLevel(value: unknown): number | undefined | "bad" {
  if (isAbsent(value)) return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string") return "bad";
  const match = /^\s*(?:level\s*)?(\d+(?:\.\d+)?)\s*$/i.exec(value);
  return match ? Number(match[1]) : undefined;
}

/**
 * MATH / MATH-500 (`problem`, `solution`, `level`, `type` or `subject`, optional `answer`
 * and `unique_id`). The answer is the last `\boxed{}` of the solution; the gold is the
 * `answer` field when the record has one (MATH-500, AIME24), else that boxed answer.
 */
export const mathAdapter: SourceAdapter = {
  name: "math",
  description: "MATH / MATH-500 style: problem + worked solution with a \\boxed{} answer",
  signature: ["problem", "solution"],
  priority: 30,
  matches: (fields) => fields.has("problem") && fields.has("solution"),
  adapt(record, ctx) {
    const problem = requireString(record, "problem");
    if (!problem.ok) return problem;
    const solution = requireString(record, "solution");
    if (!solution.ok) return solution;
    const answerField = optionalAnswer(record, "answer");
    if (!answerField.ok) return answerField;
    const level = parseLevel(record.level);
    if (level === "bad") return wrongType("level", 'a number or a string like "Level 3"', record.level);
    const subjectField = isAbsent(record.type) ? "subject" : "type";
    const subject = optionalString(record, subjectField);
    if (!subject.ok) return subject;
    const uniqueId = optionalString(record, "unique_id");
    if (!uniqueId.ok) return uniqueId;

    const boxed = extractBoxed(solution.value);
    const gold = answerField.value ?? boxed;
    if (ctx.requireAnswer && gold === undefined) return missingAnswer("solution", 'no \\boxed{} in the solution and no "answer" field');
    // "test/precalculus/807.json" → tags ["test", "precalculus"].
    const tags = uniqueId.value?.split("/").slice(0, -1).filter(Boolean);
    return {
      ok: true,
      sample: compact({
        source: ctx.source,
        domain: subject.value?.trim().toLowerCase() || undefined,
        prompt: problem.value,
        response: solution.value,
        reasoning: solution.value,
        answer: boxed ?? answerField.value,
        gold,
        meta: baseMeta("math", ctx, { level, tags: tags?.length ? tags : undefined, ...sourceIds(record) }),
      }),
    };
  },
};
