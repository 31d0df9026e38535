// Compile-time half of the OpenAI SDK conformance check (run by `tsc --noEmit`): each list in REQUIRED_KEYS is exactly
// the required keys of its SDK type, so a response checked by missingRequiredKeys() has every key the SDK types demand.
import type { ChatCompletion, ChatCompletionChunk } from "openai/resources/chat/completions";
import type { Completion } from "openai/resources/completions";
import { expectTypeOf } from "vitest";
import type { REQUIRED_KEYS, RequiredKeys, RequiredKeysOf } from "./openaiShapes.js";

type Listed = { -readonly [K in keyof typeof REQUIRED_KEYS]: (typeof REQUIRED_KEYS)[K][number] };
expectTypeOf<Listed>().toEqualTypeOf<RequiredKeysOf>();

// The SDK requires a nullable `refusal` on a chat message and on a choice's log-probs (the keys this server once lacked).
expectTypeOf<"refusal">().toExtend<RequiredKeys<ChatCompletion["choices"][number]["message"]>>();
expectTypeOf<"refusal">().toExtend<RequiredKeys<ChatCompletion.Choice.Logprobs>>();

// A response without them is not a ChatCompletion.
const withoutRefusal = { id: "x", object: "chat.completion" as const, created: 0, model: "m", choices: [{ index: 0, finish_reason: "stop" as const, logprobs: null, message: { role: "assistant" as const, content: "hi" } }] };
expectTypeOf(withoutRefusal).not.toExtend<ChatCompletion>();
expectTypeOf<ChatCompletionChunk["object"]>().toEqualTypeOf<"chat.completion.chunk">();
expectTypeOf<Completion["object"]>().toEqualTypeOf<"text_completion">();
