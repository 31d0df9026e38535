// The required keys of the official `openai` SDK's response types, listed from its .d.ts files
// (node_modules/openai/resources/chat/completions/completions.d.ts, resources/completions.d.ts). openaiShapes.test-d.ts
// checks at compile time that each list is exactly the SDK type's required keys, so the lists follow SDK upgrades;
// missingRequiredKeys() checks captured server responses against them at run time (JSON carries no types).
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessage, ChatCompletionTokenLogprob } from "openai/resources/chat/completions";
import type { Completion, CompletionChoice, CompletionUsage } from "openai/resources/completions";

/** Keys of `T` that are not optional (`refusal: string | null` is required; `audio?: …` is not). */
export type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

export const REQUIRED_KEYS = {
  ChatCompletion: ["id", "choices", "created", "model", "object"],
  "ChatCompletion.Choice": ["finish_reason", "index", "logprobs", "message"],
  "ChatCompletion.Choice.Logprobs": ["content", "refusal"],
  ChatCompletionMessage: ["content", "refusal", "role"],
  ChatCompletionTokenLogprob: ["token", "bytes", "logprob", "top_logprobs"],
  "ChatCompletionTokenLogprob.TopLogprob": ["token", "bytes", "logprob"],
  ChatCompletionChunk: ["id", "choices", "created", "model", "object"],
  "ChatCompletionChunk.Choice": ["delta", "index", "finish_reason"],
  "ChatCompletionChunk.Choice.Logprobs": ["content", "refusal"],
  Completion: ["id", "choices", "created", "model", "object"],
  CompletionChoice: ["finish_reason", "index", "logprobs", "text"],
  CompletionUsage: ["completion_tokens", "prompt_tokens", "total_tokens"],
} as const;

/** The SDK type each list describes (for openaiShapes.test-d.ts). */
export interface RequiredKeysOf {
  ChatCompletion: RequiredKeys<ChatCompletion>;
  "ChatCompletion.Choice": RequiredKeys<ChatCompletion.Choice>;
  "ChatCompletion.Choice.Logprobs": RequiredKeys<ChatCompletion.Choice.Logprobs>;
  ChatCompletionMessage: RequiredKeys<ChatCompletionMessage>;
  ChatCompletionTokenLogprob: RequiredKeys<ChatCompletionTokenLogprob>;
  "ChatCompletionTokenLogprob.TopLogprob": RequiredKeys<ChatCompletionTokenLogprob.TopLogprob>;
  ChatCompletionChunk: RequiredKeys<ChatCompletionChunk>;
  "ChatCompletionChunk.Choice": RequiredKeys<ChatCompletionChunk.Choice>;
  "ChatCompletionChunk.Choice.Logprobs": RequiredKeys<ChatCompletionChunk.Choice.Logprobs>;
  Completion: RequiredKeys<Completion>;
  CompletionChoice: RequiredKeys<CompletionChoice>;
  CompletionUsage: RequiredKeys<CompletionUsage>;
}

type Shape = keyof typeof REQUIRED_KEYS;
type Json = Record<string, unknown>;

/**
 * Every required key missing from a captured response, as `path: key` (e.g. `choices.0.message: refusal`), walking
 * the nested objects the SDK types describe. `[]` means the JSON has every key its SDK type requires.
 */
export function missingRequiredKeys(body: unknown, type: "ChatCompletion" | "ChatCompletionChunk" | "Completion"): string[] {
  const missing: string[] = [];
  const check = (value: unknown, shape: Shape, path: string): Json => {
    const object = (value ?? {}) as Json;
    if (typeof value !== "object" || value === null) missing.push(`${path || "(body)"}: not an object`);
    else for (const key of REQUIRED_KEYS[shape]) if (!(key in object)) missing.push(`${path || "(body)"}: ${key}`);
    return object;
  };
  const list = (value: unknown) => (Array.isArray(value) ? value : []);
  const tokenLogprobs = (entries: unknown, path: string) => {
    for (const [k, entry] of list(entries).entries()) {
      const e = check(entry, "ChatCompletionTokenLogprob", `${path}.${k}`);
      for (const [a, alt] of list(e.top_logprobs).entries()) check(alt, "ChatCompletionTokenLogprob.TopLogprob", `${path}.${k}.top_logprobs.${a}`);
    }
  };
  const top = check(body, type, "");
  if (top.usage != null) check(top.usage, "CompletionUsage", "usage");
  for (const [i, choice] of list(top.choices).entries()) {
    const path = `choices.${i}`;
    if (type === "ChatCompletion") {
      const c = check(choice, "ChatCompletion.Choice", path);
      check(c.message, "ChatCompletionMessage", `${path}.message`);
      if (c.logprobs != null) tokenLogprobs(check(c.logprobs, "ChatCompletion.Choice.Logprobs", `${path}.logprobs`).content, `${path}.logprobs.content`);
    } else if (type === "ChatCompletionChunk") {
      const c = check(choice, "ChatCompletionChunk.Choice", path);
      if (c.logprobs != null) tokenLogprobs(check(c.logprobs, "ChatCompletionChunk.Choice.Logprobs", `${path}.logprobs`).content, `${path}.logprobs.content`);
    } else {
      check(choice, "CompletionChoice", path);
    }
  }
  return missing;
}
