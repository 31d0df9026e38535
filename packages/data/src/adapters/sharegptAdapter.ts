import type { Message } from "../schema/sample.js";
import { conversationSample, parseTurns, type Role } from "./conversation.js";
import { optionalString } from "./fields.js";
import type { SourceAdapter } from "./types.js";

/** LLaMA-Factory's ShareGPT tags; function calls and observations become tool turns. */
export const SHAREGPT_ROLES: Readonly<Record<string, Role>> = {
  human: "user",
  user: "user",
  gpt: "assistant",
  assistant: "assistant",
  system: "system",
  function_call: "tool",
  observation: "tool",
  tool: "tool",
};

/** ShareGPT (`conversations: [{from, value}]`, optional `system`), mapped to messages. */
export const sharegptAdapter: SourceAdapter = {
  name: "sharegpt",
  description: "ShareGPT format: conversations [{from: human|gpt|system|function_call|observation, value}], optional system",
  signature: ["conversations"],
  priority: 50,
  matches: (fields) => fields.has("conversations"),
  adapt(record, ctx) {
    const turns = parseTurns(record.conversations, "conversations", SHAREGPT_ROLES, "from", "value");
    if (!turns.ok) return turns;
    const system = optionalString(record, "system");
    if (!system.ok) return system;
    let messages: Message[] = turns.value.messages;
    if (system.value !== undefined && messages[0]?.role !== "system") messages = [{ role: "system", content: system.value }, ...messages];
    return conversationSample({ ...turns.value, messages }, "conversations", record, ctx, "sharegpt");
  },
};
