import { ByteTokenizer, type DecodeModel, type KvCache, type StepInput, type StepOutput, startServer } from "@infialign/model";
import { describe, expect, it } from "vitest";
import { PROTOCOL_PRESETS } from "../src/protocol.js";
import { endpointRunner, estimatePromptTokens } from "../src/run/endpointRunner.js";
import { localRunner } from "../src/run/localRunner.js";
import type { EvalItem } from "../src/types.js";
import { chatReply, protocol, type ScriptedServer, scriptedServer } from "./runHelpers.js";

const chats = (s: ScriptedServer) => s.requests.filter((r) => r.path === "/v1/chat/completions").map((r) => r.body!);

const item: EvalItem = { benchmark: "toy", id: "a", messages: [{ role: "user", content: "What is 1 + 1?" }], kind: "math", gold: "2", meta: {} };

describe("endpointRunner", () => {
  it("asks for log-probs and returns them with the reasoning kept in the text", async () => {
    const server = await scriptedServer((path) =>
      path === "/v1/models"
        ? { json: { object: "list", data: [{ id: "m", object: "model" }] } }
        : {
            json: {
              choices: [
                {
                  message: { content: "\\boxed{2}", reasoning_content: "1+1=2" },
                  finish_reason: "stop",
                  logprobs: { content: [{ token: "\\", logprob: -0.5 }, { token: "boxed", logprob: -0.25 }] },
                },
              ],
              usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
            },
          },
    );
    try {
      const runner = endpointRunner({ baseUrl: server.url, model: "m", logprobs: true, sleep: async () => {} });
      const c = await runner.complete(item, 2, protocol(4, 10));
      expect(c).toEqual({ text: "<think>1+1=2</think>\\boxed{2}", finishReason: "stop", completionTokens: 2, logprobs: [-0.5, -0.25] });
      expect(chats(server)[0]).toMatchObject({ model: "m", logprobs: true, seed: 12, temperature: 0.6, top_p: 0.95, max_tokens: 256 });
      await runner.close?.();
    } finally {
      await server.close();
    }
  });

  for (const logprobs of [false, true]) {
    it(`retries a reply with content null and no reasoning, then reports it (logprobs: ${logprobs})`, async () => {
      const server = await scriptedServer((path) => (path === "/v1/models" ? { json: { data: [] } } : { json: { choices: [{ message: { content: null } }] } }));
      try {
        const runner = endpointRunner({ baseUrl: server.url, model: "m", logprobs, maxRetries: 2, sleep: async () => {}, warn: () => {} });
        await expect(runner.complete(item, 0, protocol(1))).rejects.toThrow(/^\[infialign\/eval\] endpoint-runner: POST .* failed after 3 attempts: response is not a chat completion \(.*(content null|content is null).*\)/);
        expect(chats(server)).toHaveLength(3);
        await runner.close?.();
      } finally {
        await server.close();
      }
    });
  }

  it("labels request failures as its own, not the data package's teacher", async () => {
    const server = await scriptedServer((path) => (path === "/v1/models" ? { json: { data: [] } } : { status: 400, json: { error: { message: "bad" } } }));
    try {
      const runner = endpointRunner({ baseUrl: server.url, model: "m", sleep: async () => {} });
      const error = (await runner.complete(item, 0, protocol(1)).catch((e: unknown) => e)) as Error;
      expect(error.message).toMatch(/^\[infialign\/eval\] endpoint-runner: POST .*HTTP 400: bad/);
      expect(error.message).not.toContain("[infialign/data]");
      await runner.close?.();
    } finally {
      await server.close();
    }
  });

  it("refuses a base URL that is not an http(s) URL when built, naming itself", () => {
    expect(() => endpointRunner({ baseUrl: "not-a-url", model: "m" })).toThrow(/^\[infialign\/eval\] endpoint-runner: baseURL must be an http\(s\) URL/);
    expect(() => endpointRunner({ baseUrl: "http://127.0.0.1:1/v1", model: "m", maxRetries: -1, contextLength: 0 })).toThrow(
      "[infialign/eval] endpoint-runner: invalid options: maxRetries must be an integer ≥ 0, got -1; contextLength must be an integer ≥ 2, got 0",
    );
  });

  it("clamps max_tokens to max_model_len of /v1/models minus the prompt tokens the server counts, warning once", async () => {
    // As infialign-serve's model card: { id, object, created, owned_by, root, parent, max_model_len }.
    const card = { id: "m", object: "model", created: 0, owned_by: "infialign", root: "m", parent: null, max_model_len: 1_024 };
    const server = await scriptedServer((path, body) =>
      path === "/v1/models"
        ? { json: { object: "list", data: [{ id: "other", max_model_len: 99 }, card] } }
        : { json: chatReply("\\boxed{2}", { usage: { prompt_tokens: 30, completion_tokens: body?.max_tokens === 1 ? 1 : 5 } }) },
    );
    const warnings: string[] = [];
    try {
      const runner = endpointRunner({ baseUrl: server.url, model: "m", sleep: async () => {}, warn: (m) => warnings.push(m) });
      const quick = { ...protocol(3), maxTokens: 1_024 };
      for (const i of [0, 1, 2]) expect((await runner.complete(item, i, quick)).text).toBe("\\boxed{2}");
      // One 1-token request counts the prompt; every sample then asks for 1024 − 30.
      expect(chats(server).map((b) => b.max_tokens)).toEqual([1, 994, 994, 994]);
      expect(server.requests.filter((r) => r.path === "/v1/models")).toHaveLength(1);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^\[infialign\/eval\] endpoint-runner: max_tokens 1024 does not fit model "m"'s context of 1024 tokens.*30 prompt tokens, max_tokens 994/);
      // A protocol that fits is sent unchanged, without counting.
      await runner.complete(item, 0, { ...protocol(1), maxTokens: 256 });
      expect(chats(server).at(-1)!.max_tokens).toBe(256);
      expect(chats(server)).toHaveLength(5);
      await runner.close?.();
    } finally {
      await server.close();
    }
  });

  it("takes contextLength over /v1/models and falls back to the prompt estimate when the server reports no usage", async () => {
    const server = await scriptedServer((path) => (path === "/v1/models" ? { json: { data: [{ id: "m", max_model_len: 100_000 }] } } : { json: chatReply("\\boxed{2}") }));
    try {
      const runner = endpointRunner({ baseUrl: server.url, model: "m", contextLength: 512, sleep: async () => {}, warn: () => {} });
      await runner.complete(item, 0, { ...protocol(1), maxTokens: 1_024 });
      expect(chats(server).map((b) => b.max_tokens)).toEqual([1, 512 - estimatePromptTokens(item.messages)]);
      expect(server.requests.filter((r) => r.path === "/v1/models")).toHaveLength(0);
      await runner.close?.();
    } finally {
      await server.close();
    }
  });

  it("fails naming the item when its prompt leaves no room in the context", async () => {
    const server = await scriptedServer(() => ({ json: chatReply("x", { usage: { prompt_tokens: 600, completion_tokens: 1 } }) }));
    try {
      const runner = endpointRunner({ baseUrl: server.url, model: "m", contextLength: 600, sleep: async () => {}, warn: () => {} });
      await expect(runner.complete(item, 0, { ...protocol(1), maxTokens: 1_024 })).rejects.toThrow(/the prompt of toy item "a" is 600 tokens, which leaves no room .* context of 600 tokens/);
      await runner.close?.();
    } finally {
      await server.close();
    }
  });

  it("warns and sends max_tokens unclamped when /v1/models cannot be read", async () => {
    const server = await scriptedServer((path) => (path === "/v1/models" ? { status: 404, json: { error: { message: "no" } } } : { json: chatReply("\\boxed{2}") }));
    const warnings: string[] = [];
    try {
      const runner = endpointRunner({ baseUrl: server.url, model: "m", sleep: async () => {}, warn: (m) => warnings.push(m) });
      await runner.complete(item, 0, { ...protocol(1), maxTokens: 40_000 });
      expect(chats(server).map((b) => b.max_tokens)).toEqual([40_000]);
      expect(warnings).toEqual([expect.stringMatching(/could not read the context length of model "m" from GET .*\/v1\/models \(HTTP 404\).*--context-length/)]);
      await runner.close?.();
    } finally {
      await server.close();
    }
  });
});

/** Keeps each row's real tokens; the logits spell SCRIPT after the generation prompt, then the end-of-turn token. */
class ScriptModel implements DecodeModel {
  readonly vocabSize: number;
  readonly maxPositions = 512;
  batches: number[] = [];
  constructor(
    private readonly tok: ByteTokenizer,
    private readonly script: number[],
  ) {
    this.vocabSize = tok.vocabSize;
  }
  async step(input: StepInput): Promise<StepOutput> {
    const past = (input.cache as unknown as { rows: number[][] } | undefined)?.rows;
    const cacheLength = past?.[0]?.length ?? 0;
    if (!input.cache) this.batches.push(input.batch);
    const rows: number[][] = [];
    const logits = new Float32Array(input.batch * this.vocabSize);
    for (let b = 0; b < input.batch; b++) {
      const row = [...(past?.[b] ?? [])];
      for (let t = 0; t < input.newTokens; t++) {
        if (input.keyMask[b * (cacheLength + input.newTokens) + cacheLength + t] === 1) row.push(input.ids[b * input.newTokens + t]!);
      }
      rows.push(row);
      const start = row.lastIndexOf(257) + "assistant\n".length + 1;
      const next = this.script[row.length - start] ?? this.tok.eosTokenIds[0]!;
      logits[b * this.vocabSize + next] = 30;
    }
    const cache = { rows, length: cacheLength + input.newTokens, batch: input.batch, dispose() {} };
    return { logits, cache: cache as KvCache };
  }
  selectRows(cache: KvCache, rows: readonly number[]): KvCache {
    const c = cache as unknown as { rows: number[][]; length: number };
    return { rows: rows.map((r) => [...c.rows[r]!]), length: c.length, batch: rows.length, dispose() {} } as unknown as KvCache;
  }
}

describe("localRunner", () => {
  it("decodes concurrent calls as one batch with the model's log-probs", async () => {
    const tok = new ByteTokenizer();
    const script = [...new TextEncoder().encode("\\boxed{2}")];
    const model = new ScriptModel(tok, script);
    const runner = localRunner({ model, tokenizer: tok, id: "script" });
    const out = await Promise.all([0, 1, 2].map((i) => runner.complete(item, i, protocol(3))));
    expect(model.batches).toEqual([3]);
    for (const c of out) {
      expect(c.text).toBe("\\boxed{2}");
      expect(c.finishReason).toBe("stop");
      // The end-of-turn token is generated (and scored) too, as vLLM counts it.
      expect(c.logprobs).toHaveLength(script.length + 1);
      expect(c.completionTokens).toBe(script.length + 1);
      // One logit at 30 and the rest at 0: log p = 30 − log(e^30 + V − 1).
      expect(c.logprobs![0]).toBeCloseTo(30 - Math.log(Math.exp(30) + tok.vocabSize - 1), 5);
    }
    expect(runner.id).toBe("script");
  });
});

describe("endpointRunner against infialign-serve", () => {
  it("runs the quick preset (1,024 tokens) on a 512-token model: max_model_len is read and max_tokens clamped, no HTTP 400", async () => {
    const tok = new ByteTokenizer();
    const model = new ScriptModel(tok, [...new TextEncoder().encode("\\boxed{2}")]);
    const server = await startServer({ model, tokenizer: tok, modelId: "script", port: 0, log: () => {} });
    const warnings: string[] = [];
    try {
      const runner = endpointRunner({ baseUrl: `${server.url}/v1`, model: "script", maxRetries: 0, warn: (m) => warnings.push(m) });
      const c = await runner.complete(item, 0, PROTOCOL_PRESETS.quick);
      expect(c.text).toBe("\\boxed{2}");
      expect(warnings).toEqual([expect.stringMatching(/max_tokens 1024 does not fit model "script"'s context of 512 tokens/)]);
      await runner.close?.();
    } finally {
      await server.close();
    }
  });
});
