// infialign-serve through the official `openai` SDK: the client most callers use must parse every response, and every
// response must carry each key the SDK's types require (see openaiShapes.ts and openaiShapes.test-d.ts).
import OpenAI, { APIError, BadRequestError, NotFoundError } from "openai";
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import type { Completion } from "openai/resources/completions";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { type RunningServer, startServer } from "../src/serve/server.js";
import { missingRequiredKeys } from "./openaiShapes.js";
import { fixtures } from "./serveHelpers.js";

const MODEL_ID = "tiny-counter";
const ALPHABET = "abcdefghijklmnopqrstuvwxyz";

describe("infialign-serve with the official openai SDK", () => {
  const { tokenizer, model } = fixtures(128);
  let server: RunningServer;
  let client: OpenAI;
  beforeAll(async () => {
    server = await startServer({ model, tokenizer, modelId: MODEL_ID, port: 0, random: () => 0.5 });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });
  afterAll(() => server.close());

  it("non-streaming chat: a ChatCompletion with every required key (message.refusal, logprobs.refusal)", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: MODEL_ID, messages: [{ role: "user", content: "count" }], temperature: 0, max_tokens: 4, n: 2, logprobs: true, top_logprobs: 2 })
      .withResponse();
    expect(response.status).toBe(200);
    expectTypeOf(data).toExtend<ChatCompletion>();
    expect(missingRequiredKeys(data, "ChatCompletion")).toEqual([]);
    expect(data.choices.map((c) => [c.index, c.message.content, c.message.refusal, c.finish_reason])).toEqual([
      [0, "abcd", null, "length"],
      [1, "abcd", null, "length"],
    ]);
    const logprobs = data.choices[0]?.logprobs;
    expect(logprobs?.refusal).toBeNull();
    expect(logprobs?.content?.map((t) => [t.token, t.bytes, t.top_logprobs.length])).toEqual([
      ["a", [97], 2],
      ["b", [98], 2],
      ["c", [99], 2],
      ["d", [100], 2],
    ]);
    expect(data.usage).toMatchObject({ completion_tokens: 8 });
  });

  it("without logprobs, choices[].logprobs is null and message.refusal still present", async () => {
    const data = await client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "x" }], temperature: 0 });
    expect(missingRequiredKeys(data, "ChatCompletion")).toEqual([]);
    expect(data.choices[0]).toMatchObject({ message: { role: "assistant", content: ALPHABET, refusal: null }, logprobs: null, finish_reason: "stop" });
  });

  it("streaming chat with n > 1: ChatCompletionChunks the SDK parses, each choice's deltas spelling its text", async () => {
    const stream = await client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "x" }], temperature: 0, max_tokens: 3, n: 3, stream: true, stream_options: { include_usage: true } });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    for (const chunk of chunks) expect(missingRequiredKeys(chunk, "ChatCompletionChunk")).toEqual([]);
    for (const index of [0, 1, 2]) {
      const mine = chunks.flatMap((c) => c.choices.filter((choice) => choice.index === index));
      expect(mine[0]?.delta.role).toBe("assistant");
      expect(mine.map((c) => c.delta.content ?? "").join("")).toBe("abc");
      expect(mine.at(-1)?.finish_reason).toBe("length");
    }
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: expect.any(Number), completion_tokens: 9, total_tokens: expect.any(Number) });
  });

  it("completions, plain, with logprobs and streamed: Completion objects with every required key", async () => {
    const plain = await client.completions.create({ model: MODEL_ID, prompt: ["a", "w"], temperature: 0, max_tokens: 3, logprobs: 2 });
    expectTypeOf(plain).toExtend<Completion>();
    expect(missingRequiredKeys(plain, "Completion")).toEqual([]);
    expect(plain.choices.map((c) => c.text)).toEqual(["bcd", "xyz"]);
    expect(plain.choices[0]?.logprobs?.tokens).toEqual(["b", "c", "d"]);
    const stream = await client.completions.create({ model: MODEL_ID, prompt: "a", temperature: 0, max_tokens: 3, stream: true, n: 2 });
    const texts = ["", ""];
    for await (const chunk of stream) {
      expect(missingRequiredKeys(chunk, "Completion")).toEqual([]);
      for (const c of chunk.choices) texts[c.index] += c.text;
    }
    expect(texts).toEqual(["bcd", "bcd"]);
  });

  describe("errors arrive as the SDK's APIError subclasses with status, message, param and code", () => {
    const rejection = async (request: Promise<unknown>) => {
      const error = await request.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(APIError);
      return error as APIError;
    };

    it("400 BadRequestError naming `model` when the request has none (OpenAI requires it)", async () => {
      const error = await rejection(client.chat.completions.create({ messages: [{ role: "user", content: "x" }] } as unknown as ChatCompletionCreateParamsNonStreaming));
      expect(error).toBeInstanceOf(BadRequestError);
      expect(error.status).toBe(400);
      expect(error.param).toBe("model");
      expect(error.type).toBe("invalid_request_error");
      expect(error.message).toMatch(/model: you must provide a model parameter/);
      const completion = await rejection(client.completions.create({ prompt: "a" } as never));
      expect([completion.status, completion.param]).toEqual([400, "model"]);
    });

    it("400 naming the parameter and its range for out-of-range sampling options", async () => {
      const cases: [Record<string, unknown>, string, RegExp][] = [
        [{ temperature: 2.5 }, "temperature", /temperature: must be between 0 and 2 \(got 2\.5\)/],
        [{ temperature: -0.1 }, "temperature", /between 0 and 2/],
        [{ top_p: 1.5 }, "top_p", /top_p: must be greater than 0 and at most 1/],
        [{ n: 0 }, "n", /n: must be between 1 and 128 \(got 0\)/],
        [{ max_tokens: 0 }, "max_tokens", /max_tokens: must be at least 1 \(got 0\)/],
        [{ max_completion_tokens: 0 }, "max_completion_tokens", /at least 1/],
        [{ logprobs: true, top_logprobs: 21 }, "top_logprobs", /top_logprobs: must be between 0 and 20 \(got 21\)/],
        [{ presence_penalty: 3 }, "presence_penalty", /between -2 and 2/],
        [{ logit_bias: { "97": 101 } }, "logit_bias.97", /between -100 and 100/],
      ];
      for (const [extra, param, message] of cases) {
        const error = await rejection(client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "x" }], ...extra } as ChatCompletionCreateParamsNonStreaming));
        expect(error, JSON.stringify(extra)).toBeInstanceOf(BadRequestError);
        expect([error.status, error.param], JSON.stringify(extra)).toEqual([400, param]);
        expect(error.message).toMatch(message);
      }
      // Temperature 2 itself is OpenAI's upper limit and accepted.
      await expect(client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "x" }], temperature: 2, max_tokens: 1 })).resolves.toMatchObject({ object: "chat.completion" });
      // The legacy completions endpoint allows logprobs up to 5.
      const logprobs = await rejection(client.completions.create({ model: MODEL_ID, prompt: "a", logprobs: 6 }));
      expect([logprobs.status, logprobs.param]).toEqual([400, "logprobs"]);
      expect(logprobs.message).toMatch(/logprobs: must be between 0 and 5 \(got 6\)/);
      await expect(client.completions.create({ model: MODEL_ID, prompt: "a", logprobs: 5, max_tokens: 1 })).resolves.toMatchObject({ object: "text_completion" });
    });

    it("404 NotFoundError model_not_found for another model; 400 context_length_exceeded", async () => {
      const notFound = await rejection(client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] }));
      expect(notFound).toBeInstanceOf(NotFoundError);
      expect([notFound.status, notFound.code, notFound.param]).toEqual([404, "model_not_found", "model"]);
      expect(notFound.message).toContain("gpt-4o");
      const tooLong = await rejection(client.completions.create({ model: MODEL_ID, prompt: "x".repeat(200) }));
      expect(tooLong).toBeInstanceOf(BadRequestError);
      expect([tooLong.status, tooLong.code, tooLong.param]).toEqual([400, "context_length_exceeded", "prompt"]);
    });
  });
});
