import { extractBoxed } from "../normalize/answer.js";
import { splitThink } from "../normalize/reasoning.js";
import type { Message, SampleInit } from "../schema/sample.js";
import { baseMeta, compact, type FieldResult, failure, firstAnswer, missingAnswer, missingField, sourceIds, wrongType } from "./fields.js";
import type { AdaptContext, AdaptResult } from "./types.js";

export type Role = Message["role"];

/**
 * Text of a message content: a string, null (assistant turns that only call tools), or
 * OpenAI content parts, whose `text` parts are joined.
 */
export function contentText(value: unknown, field: string): FieldResult<string> {
  if (value === null || value === undefined) return { ok: true, value: "" };
  if (typeof value === "string") return { ok: true, value };
  if (Array.isArray(value)) {
    const texts: string[] = [];
    for (const [i, part] of value.entries()) {
      if (typeof part === "string") texts.push(part);
      else if (part && typeof part === "object" && typeof (part as { text?: unknown }).text === "string") texts.push((part as { text: string }).text);
      else return wrongType(`${field}[${i}]`, 'a string or a {type: "text", text} part', part);
    }
    return { ok: true, value: texts.join("") };
  }
  return wrongType(field, "a string, null or an array of text parts", value);
}

export interface ParsedTurns {
  messages: Message[];
  /** `reasoning_content` of the last assistant turn (DeepSeek API style), when present. */
  reasoning?: string;
}

/**
 * Reads an array of turns, mapping each turn's role through `roles`.
 * `roleKey`/`contentKey` are "role"/"content" (OpenAI) or "from"/"value" (ShareGPT).
 */
export function parseTurns(value: unknown, field: string, roles: Readonly<Record<string, Role>>, roleKey: string, contentKey: string): FieldResult<ParsedTurns> {
  if (value === undefined || value === null) return missingField(field, "an array of messages");
  if (!Array.isArray(value)) return wrongType(field, "an array of messages", value);
  const messages: Message[] = [];
  let reasoning: string | undefined;
  for (const [i, turn] of value.entries()) {
    const at = `${field}[${i}]`;
    if (!turn || typeof turn !== "object" || Array.isArray(turn)) return wrongType(at, `an object with "${roleKey}" and "${contentKey}"`, turn);
    const t = turn as Record<string, unknown>;
    const rawRole = t[roleKey];
    if (typeof rawRole !== "string") return rawRole === undefined ? missingField(`${at}.${roleKey}`, "a string") : wrongType(`${at}.${roleKey}`, "a string", rawRole);
    const role = Object.hasOwn(roles, rawRole) ? roles[rawRole] : undefined;
    if (!role) return failure("wrong_type", `${at}.${roleKey}`, `field "${at}.${roleKey}" must be one of ${Object.keys(roles).join(", ")}, got "${rawRole}"`);
    const content = contentText(t[contentKey], `${at}.${contentKey}`);
    if (!content.ok) return content;
    messages.push({ role, content: content.value });
    if (role === "assistant") reasoning = typeof t.reasoning_content === "string" && t.reasoning_content ? t.reasoning_content : undefined;
  }
  return reasoning === undefined ? { ok: true, value: { messages } } : { ok: true, value: { messages, reasoning } };
}

/**
 * Canonical sample of a conversation: `prompt` is the last user turn before the final
 * assistant turn, `response` that assistant turn, `system` a leading system message.
 * Reasoning comes from `<think>` in the response (or `reasoningHint`), the answer from
 * the last `\boxed{}` of the final part, the gold from the record's `answer`/`gold` field.
 */
export function conversationSample(
  turns: ParsedTurns,
  field: string,
  record: Record<string, unknown>,
  ctx: AdaptContext,
  adapter: string,
  extra: Partial<SampleInit> = {},
): AdaptResult {
  const { messages } = turns;
  let last = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === "assistant") {
      last = i;
      break;
    }
  }
  const end = last === -1 ? messages.length : last;
  let user: Message | undefined;
  for (let i = end - 1; i >= 0; i--) {
    if (messages[i]?.role === "user") {
      user = messages[i];
      break;
    }
  }
  if (!user) {
    return failure("missing_field", field, `field "${field}" has no user turn${last === -1 ? "" : " before the final assistant turn"}`);
  }
  const response = last === -1 ? undefined : messages[last]?.content;
  const split = response === undefined ? undefined : splitThink(response);
  const answer = split?.final ? extractBoxed(split.final) : undefined;
  const gold = firstAnswer(record, ["answer", "gold"]);
  if (!gold.ok) return gold;
  if (ctx.requireAnswer && !answer && !gold.value) {
    return missingAnswer(field, `no \\boxed{} in the final assistant turn and no "answer" or "gold" field`);
  }
  const system = messages[0]?.role === "system" ? messages[0].content : undefined;
  return {
    ok: true,
    sample: compact({
      source: ctx.source,
      prompt: user.content,
      messages,
      system,
      response,
      reasoning: split?.reasoning || turns.reasoning,
      answer,
      gold: gold.value,
      ...extra,
      meta: baseMeta(adapter, ctx, sourceIds(record)),
    }),
  };
}
