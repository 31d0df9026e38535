import { extractBoxed } from "../normalize/answer.js";
import { splitThink } from "../normalize/reasoning.js";
import type { Message } from "../schema/sample.js";
import { contentText, type ParsedTurns, parseTurns } from "./conversation.js";
import { baseMeta, compact, type FieldResult, failure, firstAnswer, isAbsent, missingAnswer, missingField, optionalString, sourceIds, wrongType } from "./fields.js";
import { OPENAI_ROLES } from "./openaiMessagesAdapter.js";
import { SHAREGPT_ROLES } from "./sharegptAdapter.js";
import type { SourceAdapter } from "./types.js";

/** Turns in either OpenAI (`role`/`content`) or ShareGPT (`from`/`value`) form, judged by the first turn. */
function anyTurns(value: unknown, field: string): FieldResult<ParsedTurns> {
  const first: unknown = Array.isArray(value) ? value[0] : undefined;
  const sharegpt = !!first && typeof first === "object" && "from" in first;
  return sharegpt ? parseTurns(value, field, SHAREGPT_ROLES, "from", "value") : parseTurns(value, field, OPENAI_ROLES, "role", "content");
}

interface Completion {
  text: string;
  /** The turns before the final assistant turn, when the field held a whole conversation. */
  context?: Message[];
}

/** `chosen`/`rejected`: a string, one message object, or a conversation ending in the assistant turn. */
function completion(value: unknown, field: string): FieldResult<Completion> {
  if (isAbsent(value)) return missingField(field, "a string or messages");
  if (typeof value === "string") return { ok: true, value: { text: value } };
  if (Array.isArray(value)) {
    const turns = anyTurns(value, field);
    if (!turns.ok) return turns;
    const messages = turns.value.messages;
    const last = messages.findLastIndex((m) => m.role === "assistant");
    if (last === -1) return failure("missing_field", field, `field "${field}" has no assistant turn`);
    return { ok: true, value: { text: messages[last]!.content, context: messages.slice(0, last) } };
  }
  if (typeof value === "object") {
    const message = value as Record<string, unknown>;
    const key = "value" in message ? "value" : "content";
    const text = contentText(message[key], `${field}.${key}`);
    if (!text.ok) return text;
    return { ok: true, value: { text: text.value } };
  }
  return wrongType(field, "a string, a message or an array of messages", value);
}

/** Prompt text and, when the source gave turns, the prompt conversation. */
function promptOf(record: Record<string, unknown>, chosen: Completion): FieldResult<{ text: string; turns?: Message[] }> {
  const lastUser = (turns: Message[], field: string): FieldResult<{ text: string; turns: Message[] }> => {
    const user = turns.findLast((m) => m.role === "user");
    if (!user) return failure("missing_field", field, `field "${field}" has no user turn`);
    return { ok: true, value: { text: user.content, turns } };
  };
  if (!isAbsent(record.prompt)) {
    if (typeof record.prompt === "string") return { ok: true, value: { text: record.prompt } };
    if (!Array.isArray(record.prompt)) return wrongType("prompt", "a string or an array of messages", record.prompt);
    const turns = anyTurns(record.prompt, "prompt");
    return turns.ok ? lastUser(turns.value.messages, "prompt") : turns;
  }
  if (!isAbsent(record.instruction)) {
    const instruction = optionalString(record, "instruction");
    if (!instruction.ok) return instruction;
    const input = optionalString(record, "input");
    if (!input.ok) return input;
    const text = input.value?.trim() ? `${instruction.value ?? ""}\n\n${input.value}` : (instruction.value ?? "");
    return { ok: true, value: { text } };
  }
  for (const field of ["conversations", "messages"]) {
    if (isAbsent(record[field])) continue;
    const turns = anyTurns(record[field], field);
    return turns.ok ? lastUser(turns.value.messages, field) : turns;
  }
  // HH/UltraFeedback style: `chosen` holds the whole conversation.
  if (chosen.context) return lastUser(chosen.context, "chosen");
  return missingField("prompt", 'a string or messages (or "instruction", "conversations", or a "chosen" conversation)');
}

/**
 * Preference pairs for DPO (`prompt`, `chosen`, `rejected`; TRL's preference format,
 * LLaMA-Factory's ranking datasets). `response` holds the chosen completion and
 * `rejected` the other one; both may be strings or conversations.
 */
export const preferenceAdapter: SourceAdapter = {
  name: "preference",
  description: "Preference pairs: prompt (string or messages) + chosen + rejected (strings or messages)",
  signature: ["chosen", "rejected"],
  // Highest: preference files also carry prompt/conversations/instruction fields.
  priority: 100,
  matches: (fields) => fields.has("chosen") && fields.has("rejected"),
  adapt(record, ctx) {
    const chosen = completion(record.chosen, "chosen");
    if (!chosen.ok) return chosen;
    const rejected = completion(record.rejected, "rejected");
    if (!rejected.ok) return rejected;
    const prompt = promptOf(record, chosen.value);
    if (!prompt.ok) return prompt;
    if (!prompt.value.text.trim()) return failure("missing_field", "prompt", 'field "prompt" is empty (expected a non-empty string)');
    const gold = firstAnswer(record, ["answer", "gold"]);
    if (!gold.ok) return gold;

    const split = splitThink(chosen.value.text);
    const answer = split.final ? extractBoxed(split.final) : undefined;
    if (ctx.requireAnswer && !answer && !gold.value) return missingAnswer("chosen", 'no \\boxed{} in the chosen response and no "answer" or "gold" field');
    const context = prompt.value.turns ?? chosen.value.context;
    const messages: Message[] | undefined = context && [...context, { role: "assistant", content: chosen.value.text }];
    const system = messages?.[0]?.role === "system" ? messages[0].content : undefined;
    return {
      ok: true,
      sample: compact({
        source: ctx.source,
        prompt: prompt.value.text,
        messages,
        system,
        response: chosen.value.text,
        reasoning: split.reasoning || undefined,
        answer,
        gold: gold.value,
        rejected: rejected.value.text,
        meta: baseMeta("preference", ctx, sourceIds(record)),
      }),
    };
  },
};
