import { extractGsm8kFinal, stripCalculatorAnnotations } from "../normalize/answer.js";
import { baseMeta, compact, missingAnswer, requireString, sourceIds } from "./fields.js";
import type { SourceAdapter } from "./types.js";

/**
 * GSM8K (`question`, `answer` = worked solution ending in `#### <final>`). Calculator
 * annotations (`<<48/2=24>>`) are removed from the response; the reasoning is the text
 * before `####`; answer and gold are the final number with thousands commas removed.
 */
export const gsm8kAdapter: SourceAdapter = {
  name: "gsm8k",
  description: "GSM8K style: question + answer ending in '#### <final>'",
  signature: ["question", "answer"],
  // Lowest: AIME/AMC copies carry a `question` duplicate beside `problem`.
  priority: 10,
  matches: (fields) => fields.has("question") && fields.has("answer") && !fields.has("problem"),
  adapt(record, ctx) {
    const question = requireString(record, "question");
    if (!question.ok) return question;
    const answer = requireString(record, "answer");
    if (!answer.ok) return answer;
    const response = stripCalculatorAnnotations(answer.value);
    const final = extractGsm8kFinal(response);
    if (ctx.requireAnswer && final === undefined) return missingAnswer("answer", 'expected a "#### <final answer>" line');
    const cut = response.lastIndexOf("####");
    const reasoning = cut === -1 ? response.trim() : response.slice(0, cut).trim();
    return {
      ok: true,
      sample: compact({
        source: ctx.source,
        domain: "arithmetic word problems",
        prompt: question.value,
        response,
        reasoning: reasoning || undefined,
        answer: final,
        gold: final,
        meta: baseMeta("gsm8k", ctx, sourceIds(record)),
      }),
    };
  },
};
