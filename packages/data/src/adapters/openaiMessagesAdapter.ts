import { conversationSample, parseTurns, type Role } from "./conversation.js";
import type { SourceAdapter } from "./types.js";

export const OPENAI_ROLES: Readonly<Record<string, Role>> = {
  system: "system",
  developer: "system",
  user: "user",
  assistant: "assistant",
  tool: "tool",
  function: "tool",
};

/**
 * OpenAI chat format (`messages: [{role, content}]`, as TRL and LLaMA-Factory's "openai"
 * formatting use it). The messages are kept; prompt/response come from the last turns.
 */
export const openaiMessagesAdapter: SourceAdapter = {
  name: "openai-messages",
  description: "OpenAI chat format: messages [{role, content}]",
  signature: ["messages"],
  priority: 50,
  matches: (fields) => fields.has("messages"),
  adapt(record, ctx) {
    const turns = parseTurns(record.messages, "messages", OPENAI_ROLES, "role", "content");
    if (!turns.ok) return turns;
    return conversationSample(turns.value, "messages", record, ctx, "openai-messages");
  },
};
