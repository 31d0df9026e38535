import { extractBoxed } from "../normalize/answer.js";
import { splitThink } from "../normalize/reasoning.js";
import { baseMeta, compact, type FieldResult, failure, isAbsent, missingAnswer, missingField, optionalAnswer, optionalString, requireString, sourceIds, wrongType } from "./fields.js";
import type { SourceAdapter } from "./types.js";

const TEXT_FIELDS = ["response", "generation", "solution"] as const;
const CHECK_FIELDS = ["correctness_math_verify", "is_reasoning_complete"] as const;

/**
 * Picks the generation to keep: the first one every present check array marks `true`
 * (OpenR1-Math's `correctness_math_verify`, `is_reasoning_complete`), else the first.
 */
function pickGeneration(record: Record<string, unknown>): FieldResult<{ text: string; index: number }> {
  const generations = record.generations;
  if (!Array.isArray(generations)) return wrongType("generations", "an array of strings", generations);
  for (const [i, g] of generations.entries()) if (typeof g !== "string") return wrongType(`generations[${i}]`, "a string", g);
  if (generations.length === 0) return failure("missing_field", "generations", 'field "generations" is empty (expected at least one generation)');
  const checks: unknown[][] = [];
  for (const field of CHECK_FIELDS) {
    const value = record[field];
    if (isAbsent(value)) continue;
    if (!Array.isArray(value)) return wrongType(field, "an array of booleans", value);
    checks.push(value);
  }
  const index = checks.length ? generations.findIndex((_, i) => checks.every((c) => c[i] === true)) : 0;
  if (index === -1) {
    return failure("no_correct_generation", "generations", `none of the ${generations.length} generations is marked true in ${CHECK_FIELDS.filter((f) => !isAbsent(record[f])).join(" and ")}`);
  }
  return { ok: true, value: { text: generations[index] as string, index } };
}

/**
 * R1-style distillations: `problem` plus `generations` (OpenR1-Math) or one
 * `response` / `generation` / `solution` holding `<think>…</think>` and the final answer.
 * The response is the full text, the reasoning the think block, the answer the last
 * `\boxed{}` after it, the gold the `answer` field.
 */
export const r1Adapter: SourceAdapter = {
  name: "r1",
  description: "R1 distillation: problem + generations[] (OpenR1-Math) or problem + response/generation with <think>…</think>",
  signature: ["problem", "generations|generation|response"],
  // Above math and openai-messages: OpenR1-Math also has `solution` and `messages`.
  priority: 90,
  matches: (fields) => fields.has("problem") && (fields.has("generations") || fields.has("generation") || fields.has("response")),
  adapt(record, ctx) {
    const problem = requireString(record, "problem");
    if (!problem.ok) return problem;
    let text: string | undefined;
    let generationIndex: number | undefined;
    let textField = "generations";
    if (!isAbsent(record.generations)) {
      const picked = pickGeneration(record);
      if (!picked.ok) return picked;
      text = picked.value.text;
      generationIndex = picked.value.index;
      textField = `generations[${generationIndex}]`;
    } else {
      for (const field of TEXT_FIELDS) {
        const value = optionalString(record, field);
        if (!value.ok) return value;
        if (value.value !== undefined) {
          text = value.value;
          textField = field;
          break;
        }
      }
    }
    if (text === undefined) return missingField("generations", 'an array of strings, or a "response", "generation" or "solution" string');
    const gold = optionalAnswer(record, "answer");
    if (!gold.ok) return gold;
    const domain = optionalString(record, "problem_type");
    if (!domain.ok) return domain;

    const split = splitThink(text);
    const answer = split.final ? extractBoxed(split.final) : undefined;
    if (ctx.requireAnswer && !answer && !gold.value) return missingAnswer(textField, 'no \\boxed{} after the reasoning and no "answer" field');
    return {
      ok: true,
      sample: compact({
        source: ctx.source,
        domain: domain.value?.trim().toLowerCase() || undefined,
        prompt: problem.value,
        response: text,
        reasoning: split.reasoning || undefined,
        answer,
        gold: gold.value,
        meta: baseMeta("r1", ctx, { generationIndex, ...sourceIds(record) }),
      }),
    };
  },
};
