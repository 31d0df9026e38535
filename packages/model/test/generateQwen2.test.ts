// generate() and scoreCompletions() on a tiny random Qwen2Model: greedy with the KV cache equals greedy with a full
// recompute, batched prompts of different lengths equal one-at-a-time, scores equal generation log-probs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../src/generate/generate.js";
import { scoreCompletions } from "../src/generate/score.js";
import { OnnxQwen2Model } from "../src/onnx/engine.js";
import { Qwen2Model } from "../src/qwen2/model.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";
import { TEST_BACKENDS, tinyConfig, useBackend } from "./qwen2Helpers.js";

const tok = new ByteTokenizer();
const enc = (s: string) => [...new TextEncoder().encode(s)];
const PROMPTS = [enc("Hi"), enc("The quick brown fox"), enc("2+2=")];

describe.each(TEST_BACKENDS)("generate with Qwen2Model on %s", (backend) => {
  let model: Qwen2Model;
  beforeAll(async () => {
    await useBackend(backend);
    model = Qwen2Model.init(tinyConfig({ vocab_size: tok.vocabSize, hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 }), { seed: 3 });
  });
  afterAll(() => model.dispose());

  it("greedy decoding gives identical tokens with and without the KV cache", async () => {
    const requests = PROMPTS.map((promptIds) => ({ promptIds, temperature: 0, maxNewTokens: 16, stopTokenIds: [] }));
    const cached = await generate(model, tok, requests, { useCache: true });
    const recomputed = await generate(model, tok, requests, { useCache: false });
    expect(cached.map((r) => r[0]!.tokenIds)).toEqual(recomputed.map((r) => r[0]!.tokenIds));
    expect(cached.every((r) => r[0]!.tokenIds.length === 16)).toBe(true);
    // A random model should not be stuck on one token, or the comparison would prove little.
    expect(new Set(cached.flatMap((r) => r[0]!.tokenIds)).size).toBeGreaterThan(3);
    cached.forEach((r, i) => {
      r[0]!.logprobs.forEach((lp, j) => {
        expect(lp).toBeCloseTo(recomputed[i]![0]!.logprobs[j]!, 4);
      });
    });
  });

  it("batched left-padded prompts with n samples equal one prompt at a time", async () => {
    const requests = PROMPTS.map((promptIds, i) => ({ promptIds, maxNewTokens: 10, seed: 10 + i, n: 2, temperature: 0.8, stopTokenIds: [] }));
    const together = await generate(model, tok, requests, { maxBatchSize: 4 });
    const alone = [];
    for (const r of requests) alone.push(...(await generate(model, tok, [r])));
    expect(together.map((r) => r.map((s) => s.tokenIds))).toEqual(alone.map((r) => r.map((s) => s.tokenIds)));
  });

  it("scoreCompletions equals the logprobs generate reported (1e-4)", async () => {
    const requests = PROMPTS.map((promptIds, i) => ({ promptIds, maxNewTokens: 8, seed: i, stopTokenIds: [] }));
    const samples = await generate(model, tok, requests);
    const scores = await scoreCompletions(
      model,
      samples.map((r, i) => ({ promptIds: PROMPTS[i]!, completionIds: r[0]!.tokenIds })),
    );
    scores.forEach((s, i) => {
      expect(s).toHaveLength(8);
      s.forEach((lp, j) => {
        expect(Math.abs(lp - samples[i]![0]!.logprobs[j]!)).toBeLessThan(1e-4);
      });
    });
  });
});

describe("generate with OnnxQwen2Model", () => {
  it("gives the tfjs model's greedy tokens and scores (same weights)", async () => {
    await useBackend("cpu");
    const tfjs = Qwen2Model.init(tinyConfig({ vocab_size: tok.vocabSize, hidden_size: 32, max_position_embeddings: 64 }), { seed: 5 });
    const ort = await OnnxQwen2Model.create(tfjs.config, tfjs.toWeights(), { threads: 1 });
    try {
      const requests = PROMPTS.map((promptIds) => ({ promptIds, temperature: 0, maxNewTokens: 12, stopTokenIds: [] }));
      const [a, b] = [await generate(tfjs, tok, requests), await generate(ort, tok, requests)];
      expect(b.map((r) => r[0]!.tokenIds)).toEqual(a.map((r) => r[0]!.tokenIds));
      const items = a.map((r, i) => ({ promptIds: PROMPTS[i]!, completionIds: r[0]!.tokenIds }));
      const [sa, sb] = [await scoreCompletions(tfjs, items), await scoreCompletions(ort, items)];
      sa.forEach((s, i) => {
        s.forEach((lp, j) => {
          expect(Math.abs(lp - sb[i]![j]!)).toBeLessThan(1e-4);
        });
      });
    } finally {
      tfjs.dispose();
      await ort.dispose();
    }
  });
});
