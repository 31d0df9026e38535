import { OpenAIChatClient } from "@infialign/data";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenerateFn, GenerationRequest } from "../src/engine.js";
import { generate } from "../src/generate/generate.js";
import { type RunningServer, samplingDefaultsFromGenerationConfig, startServer } from "../src/serve/server.js";
import { favouredLogprob, fixtures, parseSse, postJson } from "./serveHelpers.js";

const MODEL_ID = "tiny-counter";
const ALPHABET = "abcdefghijklmnopqrstuvwxyz";

describe("infialign-serve: OpenAI API over the real generate()", () => {
  const { tokenizer, model } = fixtures(128);
  const calls: GenerationRequest[][] = [];
  const recording: GenerateFn = (m, t, requests, options) => {
    calls.push([...requests]);
    return generate(m, t, requests, options);
  };
  let server: RunningServer;
  let base: string;
  beforeAll(async () => {
    server = await startServer({ model, tokenizer, modelId: MODEL_ID, port: 0, generateFn: recording, maxBodyBytes: 4096, random: () => 0.5 });
    base = `${server.url}/v1`;
  });
  afterAll(() => server.close());
  const lastCall = () => calls[calls.length - 1] as GenerationRequest[];

  it("lists the served model", async () => {
    const res = await fetch(`${base}/models`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ object: "list", data: [{ id: MODEL_ID, object: "model", owned_by: "infialign", max_model_len: 128 }] });
    expect((await fetch(`${base}/models/${MODEL_ID}`)).status).toBe(200);
    expect((await fetch(`${base}/models/other`)).status).toBe(404);
  });

  it("completes a string prompt greedily, with OpenAI's response shape and usage", async () => {
    const { status, json } = await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "hi", temperature: 0, max_tokens: 30 });
    expect(status).toBe(200);
    expect(json).toMatchObject({ object: "text_completion", model: MODEL_ID, choices: [{ index: 0, text: "jklmnopqrstuvwxyz", logprobs: null, finish_reason: "stop" }] });
    expect(json.id).toMatch(/^cmpl-[0-9a-f]{32}$/);
    expect(Number.isInteger(json.created)).toBe(true);
    // 17 letters + the EOS id (counted, as vLLM counts it; its text is not part of the completion).
    expect(json.usage).toEqual({ prompt_tokens: 2, completion_tokens: 18, total_tokens: 20 });
    expect(lastCall()[0]).toMatchObject({ promptIds: [104, 105], temperature: 0, maxNewTokens: 30, n: 1, stop: [], topK: 0, topP: 1 });
  });

  it("defaults max_tokens to 16 for completions and reports finish_reason length", async () => {
    const { json } = await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "a", temperature: 0 });
    expect(json.choices[0]).toMatchObject({ text: "bcdefghijklmnopq", finish_reason: "length" });
    expect(json.usage.completion_tokens).toBe(16);
  });

  it("maps stop strings, n, seed and several prompts onto generation requests", async () => {
    const { status, json } = await postJson(`${base}/completions`, { model: MODEL_ID, prompt: ["a", "x"], temperature: 0, max_tokens: 20, stop: "fg", n: 2, seed: -1 });
    expect(status).toBe(200);
    expect(json.choices.map((c: { index: number; text: string; finish_reason: string }) => [c.index, c.text, c.finish_reason])).toEqual([
      [0, "bcde", "stop"],
      [1, "bcde", "stop"],
      [2, "yz", "stop"],
      [3, "yz", "stop"],
    ]);
    expect(lastCall().map((r) => [r.promptIds, r.stop, r.n, r.seed])).toEqual([
      [[97], ["fg"], 2, 2 ** 32 - 1],
      [[120], ["fg"], 2, 2 ** 32 - 1],
    ]);
    // Each prompt counted once, every sample's tokens counted: 2 × 6 ("bcdefg", which completed the stop) + 2 × 3 ("yz" + EOS).
    expect(json.usage).toEqual({ prompt_tokens: 2, completion_tokens: 18, total_tokens: 20 });
  });

  it("draws a seed for unseeded requests (OpenAI samples them differently each time)", async () => {
    await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "a", max_tokens: 1 });
    expect(lastCall()[0]?.seed).toBe(2 ** 31);
  });

  it("returns completions log-probs as OpenAI's parallel arrays (prompt as token ids)", async () => {
    const { json } = await postJson(`${base}/completions`, { model: MODEL_ID, prompt: [[119]], temperature: 0, max_tokens: 5, logprobs: 2 });
    const lp = json.choices[0].logprobs;
    const favoured = favouredLogprob(tokenizer.vocabSize);
    expect(lp.tokens).toEqual(["x", "y", "z", "<|im_end|>"]);
    expect(lp.text_offset).toEqual([0, 1, 2, 3]);
    for (const x of lp.token_logprobs as number[]) expect(x).toBeCloseTo(favoured, 6);
    expect(Object.keys(lp.top_logprobs[0])).toHaveLength(2);
    expect(lp.top_logprobs[0].x).toBeCloseTo(favoured, 6);
    expect(lastCall()[0]?.topLogprobs).toBe(2);
  });

  it("applies the chat template with a generation prompt and returns a chat.completion", async () => {
    const messages = [
      { role: "system", content: "be brief" },
      { role: "user", content: [{ type: "text", text: "count" }] },
    ];
    const { status, json } = await postJson(`${base}/chat/completions`, { model: MODEL_ID, messages, temperature: 0, user: "u1" });
    expect(status).toBe(200);
    const expectedPrompt = tokenizer.encodeChat(
      [
        { role: "system", content: "be brief" },
        { role: "user", content: "count" },
      ],
      { addGenerationPrompt: true },
    );
    expect(lastCall()[0]?.promptIds).toEqual(expectedPrompt);
    expect(tokenizer.decode(expectedPrompt)).toMatch(/<\|im_start\|>assistant\n$/);
    // No max_tokens: the rest of the context, as vLLM does.
    expect(lastCall()[0]?.maxNewTokens).toBe(128 - expectedPrompt.length);
    expect(json).toMatchObject({ object: "chat.completion", model: MODEL_ID, choices: [{ index: 0, message: { role: "assistant", content: ALPHABET }, logprobs: null, finish_reason: "stop" }] });
    expect(json.id).toMatch(/^chatcmpl-/);
    expect(json.usage).toEqual({ prompt_tokens: expectedPrompt.length, completion_tokens: 27, total_tokens: expectedPrompt.length + 27 });
  });

  it("returns chat log-probs with bytes and top_logprobs; max_completion_tokens wins over max_tokens", async () => {
    const { json } = await postJson(`${base}/chat/completions`, { model: MODEL_ID, messages: [{ role: "user", content: "x" }], temperature: 0, max_tokens: 9, max_completion_tokens: 2, logprobs: true, top_logprobs: 3 });
    const content = json.choices[0].logprobs.content;
    expect(content.map((c: { token: string }) => c.token)).toEqual(["a", "b"]);
    expect(content[0].bytes).toEqual([97]);
    expect(content[0].logprob).toBeCloseTo(favouredLogprob(tokenizer.vocabSize), 6);
    expect(content[0].top_logprobs).toHaveLength(3);
    expect(content[0].top_logprobs[0]).toMatchObject({ token: "a", bytes: [97] });
    expect(json.choices[0].finish_reason).toBe("length");
  });

  it("streams completions as SSE chunks ending in [DONE], never sending text a stop string later cuts", async () => {
    const res = await fetch(`${base}/completions`, { method: "POST", body: JSON.stringify({ model: MODEL_ID, prompt: "a", temperature: 0, max_tokens: 20, stop: ["efx", "fgh"], stream: true, stream_options: { include_usage: true } }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = parseSse(await res.text());
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1) as { object: string; choices: { index: number; text: string; finish_reason: string | null }[]; usage: unknown }[];
    for (const c of chunks) expect(c.object).toBe("text_completion");
    const textChunks = chunks.filter((c) => c.choices.length > 0);
    // "bcd" went out token by token; "e" (could begin "efx") waited until "g" ruled that out; "f" (began "fgh") never went out.
    expect(textChunks.map((c) => c.choices[0]?.text)).toEqual(["b", "c", "d", "e", ""]);
    expect(textChunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 7, total_tokens: 8 } });
    expect(textChunks[0]?.usage).toBeNull();
  });

  it("streams chat completions: a role delta first, content deltas, an empty delta with finish_reason", async () => {
    const res = await fetch(`${base}/chat/completions`, { method: "POST", body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "x" }], temperature: 0, max_tokens: 3, stream: true, n: 2 }) });
    const events = parseSse(await res.text());
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1) as { object: string; choices: { index: number; delta: { role?: string; content?: string }; finish_reason: string | null }[] }[];
    for (const c of chunks) expect(c.object).toBe("chat.completion.chunk");
    for (const index of [0, 1]) {
      const mine = chunks.map((c) => c.choices[0]).filter((c) => c?.index === index);
      expect(mine[0]?.delta).toEqual({ role: "assistant", content: "" });
      expect(mine.map((c) => c?.delta.content ?? "").join("")).toBe("abc");
      expect(mine.at(-1)).toMatchObject({ delta: {}, finish_reason: "length" });
    }
  });

  it("is a server OpenAIChatClient (teacher, judge, eval) talks to", async () => {
    const client = new OpenAIChatClient({ baseURL: base, model: MODEL_ID, maxRetries: 0 });
    try {
      const reply = await client.chat({ messages: [{ role: "user", content: "hello" }], temperature: 0, max_tokens: 5, n: 2 });
      expect(reply.choices).toEqual([
        { content: "abcde", finishReason: "length" },
        { content: "abcde", finishReason: "length" },
      ]);
      expect(reply.usage?.completionTokens).toBe(10);
    } finally {
      await client.close();
    }
  });

  it("answers any body with 200 or a 4xx in OpenAI's error shape, and keeps serving (property)", async () => {
    // Mostly well-typed values (so that many requests succeed), sometimes any JSON at all.
    const field = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 10, arbitrary: arb }, { weight: 1, arbitrary: fc.jsonValue() });
    const sampling = {
      model: fc.oneof({ weight: 6, arbitrary: fc.constant(MODEL_ID) }, { weight: 1, arbitrary: fc.constant("other") }),
      n: field(fc.integer({ min: 0, max: 3 })),
      temperature: field(fc.double({ min: -0.1, max: 2.2, noNaN: true })),
      top_p: field(fc.double({ min: 0, max: 1.05, noNaN: true })),
      top_k: field(fc.integer({ min: -2, max: 300 })),
      max_tokens: field(fc.integer({ min: 0, max: 140 })),
      stop: field(fc.oneof(fc.string({ maxLength: 3 }), fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }))),
      seed: field(fc.integer()),
      stream: fc.boolean(),
    };
    const completion = fc.record({ ...sampling, prompt: field(fc.oneof(fc.string({ maxLength: 20 }), fc.array(fc.nat(300), { maxLength: 5 }))), logprobs: field(fc.integer({ min: 0, max: 21 })) }, { requiredKeys: ["model", "prompt"] });
    const message = fc.record({ role: fc.constantFrom("system", "user", "assistant"), content: field(fc.string({ maxLength: 20 })) });
    const chat = fc.record({ ...sampling, messages: field(fc.array(message, { maxLength: 3 })), logprobs: field(fc.boolean()), top_logprobs: field(fc.integer({ min: 0, max: 21 })) }, { requiredKeys: ["model", "messages"] });
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.tuple(fc.constant("completions"), completion), fc.tuple(fc.constant("chat/completions"), chat)), async ([path, body]) => {
        const res = await fetch(`${base}/${path}`, { method: "POST", body: JSON.stringify(body) });
        const text = await res.text();
        statuses.add(res.status);
        if (res.status === 200) return;
        expect([400, 404]).toContain(res.status);
        expect(JSON.parse(text)).toEqual({ error: { message: expect.any(String), type: "invalid_request_error", param: expect.toSatisfy((p: unknown) => p === null || typeof p === "string"), code: expect.toSatisfy((c: unknown) => c === null || typeof c === "string") } });
      }),
      { numRuns: 150, seed: 11 },
    );
    expect([...statuses].sort()).toEqual([200, 400, 404]);
    expect((await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "a", max_tokens: 1 })).status).toBe(200);
  });

  describe("rejects bad requests with OpenAI's error shape", () => {
    const expectError = (r: Awaited<ReturnType<typeof postJson>>, status: number, param?: string | null, code?: string | null) => {
      expect(r.status).toBe(status);
      expect(r.json).toEqual({ error: { message: expect.any(String), type: status === 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error", param: param ?? null, code: code ?? null } });
    };

    it("400 on malformed JSON and on a body that is not an object", async () => {
      expectError(await postJson(`${base}/completions`, "{not json"), 400);
      expectError(await postJson(`${base}/completions`, "[1,2]"), 400);
    });

    it("400 naming every invalid field, param = the first", async () => {
      const r = await postJson(`${base}/chat/completions`, { model: MODEL_ID, messages: [], temperature: -1, n: 0 });
      expectError(r, 400, "n");
      expect(r.json.error.message).toMatch(/messages/);
      expect(r.json.error.message).toMatch(/temperature/);
      expect(r.json.error.message).toMatch(/n:/);
      expectError(await postJson(`${base}/completions`, { model: MODEL_ID, max_tokens: 3 }), 400, "prompt");
      expectError(await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "a", top_p: 0 }), 400, "top_p");
      expectError(await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "a", logprobs: 21 }), 400, "logprobs");
    });

    it("400 for fields that are valid OpenAI but not implemented", async () => {
      expectError(await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "a", echo: true }), 400, "echo");
      expectError(await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "a", presence_penalty: 0.5 }), 400, "presence_penalty");
      expectError(await postJson(`${base}/chat/completions`, { model: MODEL_ID, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] }), 400, "messages.0.content");
      expectError(await postJson(`${base}/chat/completions`, { model: MODEL_ID, messages: [{ role: "user", content: "x" }], tools: [{ type: "function" }] }), 400, "tools");
    });

    it("400 on empty prompts, out-of-vocabulary ids and empty stop strings", async () => {
      expectError(await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "" }), 400, "prompt");
      expectError(await postJson(`${base}/completions`, { model: MODEL_ID, prompt: [1, 100000] }), 400, "prompt");
      const r = await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "a", stop: [""] });
      expectError(r, 400);
      expect(r.json.error.message).toMatch(/stop/);
    });

    it("400 context_length_exceeded when prompt + max_tokens exceed the model's positions", async () => {
      const r = await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "abcdefghij", max_tokens: 120 });
      expectError(r, 400, "prompt", "context_length_exceeded");
      expect(r.json.error.message).toContain("maximum context length is 128 tokens");
      expect(r.json.error.message).toContain("you requested 130 tokens (10 in the prompt, 120 in the completion)");
      const chat = await postJson(`${base}/chat/completions`, { model: MODEL_ID, messages: [{ role: "user", content: "x".repeat(200) }] });
      expectError(chat, 400, "messages", "context_length_exceeded");
    });

    it("404 model_not_found for another model, 404 for unknown paths, 405 for wrong methods, 413 for big bodies", async () => {
      const wrongModel = await postJson(`${base}/chat/completions`, { model: "gpt-4", messages: [{ role: "user", content: "x" }] });
      expectError(wrongModel, 404, "model", "model_not_found");
      expect(wrongModel.json.error.message).toContain("gpt-4");
      const unknown = await fetch(`${base}/embeddings`, { method: "POST", body: "{}" });
      expect(unknown.status).toBe(404);
      expect((await fetch(`${base}/models/%E0%A4%A`)).status).toBe(400);
      expect((await fetch(`${base}/models`)).status).toBe(200);
      const wrongMethod = await fetch(`${base}/completions`);
      expectError({ status: wrongMethod.status, json: await wrongMethod.json(), headers: wrongMethod.headers }, 405);
      expect(wrongMethod.headers.get("allow")).toBe("POST");
      expectError(await postJson(`${base}/completions`, { model: MODEL_ID, prompt: "x".repeat(5000) }), 413);
    });
  });
});

describe("sampling defaults from generation_config.json", () => {
  it("reads Qwen2.5-Instruct's generation_config as vLLM does", () => {
    // The fields of a Qwen2.5-Instruct generation_config.json.
    const qwen = { bos_token_id: 151643, do_sample: true, eos_token_id: [151645, 151643], pad_token_id: 151643, repetition_penalty: 1.1, temperature: 0.7, top_k: 20, top_p: 0.8 };
    expect(samplingDefaultsFromGenerationConfig(qwen)).toEqual({ defaults: { temperature: 0.7, topP: 0.8, topK: 20 }, ignored: ["repetition_penalty"] });
    expect(samplingDefaultsFromGenerationConfig({ do_sample: false, temperature: 0.7 }).defaults).toEqual({ temperature: 0 });
    expect(samplingDefaultsFromGenerationConfig({ temperature: "hot", top_p: 2 })).toEqual({ defaults: {}, ignored: [] });
    expect(samplingDefaultsFromGenerationConfig(undefined)).toEqual({ defaults: {}, ignored: [] });
  });

  it("applies them to requests that omit the fields; request fields win", async () => {
    const { tokenizer, model } = fixtures(64);
    const calls: GenerationRequest[] = [];
    const generateFn: GenerateFn = (m, t, requests, options) => {
      calls.push(...requests);
      return generate(m, t, requests, options);
    };
    const server = await startServer({ model, tokenizer, modelId: MODEL_ID, port: 0, generateFn, defaultSampling: { temperature: 0.7, topP: 0.8, topK: 20 } });
    try {
      await postJson(`${server.url}/v1/completions`, { model: MODEL_ID, prompt: "a", max_tokens: 1 });
      await postJson(`${server.url}/v1/completions`, { model: MODEL_ID, prompt: "a", max_tokens: 1, temperature: 0, top_p: 1, top_k: -1 });
      expect(calls.map((r) => [r.temperature, r.topP, r.topK])).toEqual([
        [0.7, 0.8, 20],
        [0, 1, 0],
      ]);
    } finally {
      await server.close();
    }
  });
});
