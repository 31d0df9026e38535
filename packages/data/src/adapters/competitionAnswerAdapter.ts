import { baseMeta, compact, missingAnswer, optionalAnswer, requireString, sourceIds } from "./fields.js";
import type { SourceAdapter } from "./types.js";

/**
 * Answer-only competition sets (AIME, AMC: `problem` + `answer`, no solution). The gold
 * is the answer as a string (a JSON number `27.0` becomes "27"); there is no response.
 */
export const competitionAnswerAdapter: SourceAdapter = {
  name: "competition-answer",
  description: "AIME/AMC style: problem + short answer (string or number), no solution",
  signature: ["problem", "answer"],
  priority: 20,
  // With a `solution` the record is MATH-like and the math adapter keeps the solution.
  matches: (fields) => fields.has("problem") && fields.has("answer") && !fields.has("solution"),
  adapt(record, ctx) {
    const problem = requireString(record, "problem");
    if (!problem.ok) return problem;
    const answer = optionalAnswer(record, "answer");
    if (!answer.ok) return answer;
    if (ctx.requireAnswer && answer.value === undefined) return missingAnswer("answer", "the field is missing or empty");
    return {
      ok: true,
      sample: compact({
        source: ctx.source,
        prompt: problem.value,
        gold: answer.value,
        meta: baseMeta("competition-answer", ctx, sourceIds(record)),
      }),
    };
  },
};
