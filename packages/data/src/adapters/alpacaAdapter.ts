import { extractBoxed } from "../normalize/answer.js";
import { splitThink } from "../normalize/reasoning.js";
import type { Message } from "../schema/sample.js";
import { baseMeta, compact, type FieldResult, firstAnswer, missingAnswer, optionalString, requireString, sourceIds, wrongType } from "./fields.js";
import type { SourceAdapter } from "./types.js";

/** Alpaca `history: [[query, answer], …]` → user/assistant messages. */
function parseHistory(value: unknown): FieldResult<Message[]> {
  if (value === undefined || value === null) return { ok: true, value: [] };
  if (!Array.isArray(value)) return wrongType("history", "an array of [query, answer] pairs", value);
  const messages: Message[] = [];
  for (const [i, pair] of value.entries()) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
      return wrongType(`history[${i}]`, "a [query, answer] pair of strings", pair);
    }
    messages.push({ role: "user", content: pair[0] }, { role: "assistant", content: pair[1] });
  }
  return { ok: true, value: messages };
}

/**
 * Alpaca (`instruction`, `input`, `output`, optional `system` and `history`), as in
 * LLaMA-Factory. The prompt is the instruction, plus a blank line and the input when
 * the input is not empty.
 */
export const alpacaAdapter: SourceAdapter = {
  name: "alpaca",
  description: "Alpaca format: instruction + input + output, optional system and history [[q, a], …]",
  signature: ["instruction", "output"],
  priority: 40,
  matches: (fields) => fields.has("instruction") && fields.has("output"),
  adapt(record, ctx) {
    const instruction = requireString(record, "instruction");
    if (!instruction.ok) return instruction;
    const input = optionalString(record, "input");
    if (!input.ok) return input;
    const output = requireString(record, "output");
    if (!output.ok) return output;
    const system = optionalString(record, "system");
    if (!system.ok) return system;
    const history = parseHistory(record.history);
    if (!history.ok) return history;
    const gold = firstAnswer(record, ["answer", "gold"]);
    if (!gold.ok) return gold;

    const prompt = input.value?.trim() ? `${instruction.value}\n\n${input.value}` : instruction.value;
    const split = splitThink(output.value);
    const answer = split.final ? extractBoxed(split.final) : undefined;
    if (ctx.requireAnswer && !answer && !gold.value) return missingAnswer("output", 'no \\boxed{} in the output and no "answer" or "gold" field');
    const messages: Message[] = [
      ...(system.value !== undefined ? [{ role: "system" as const, content: system.value }] : []),
      ...history.value,
      { role: "user", content: prompt },
      { role: "assistant", content: output.value },
    ];
    return {
      ok: true,
      sample: compact({
        source: ctx.source,
        prompt,
        messages,
        system: system.value,
        response: output.value,
        reasoning: split.reasoning || undefined,
        answer,
        gold: gold.value,
        meta: baseMeta("alpaca", ctx, sourceIds(record)),
      }),
    };
  },
};
