// Continuous batching on both real engines (tfjs Qwen2Model on the cpu backend, onnxruntime OnnxQwen2Model), same tiny
// random weights: mergeCaches joins caches of different lengths without changing any row's logits, and requests that
// join a running batch decode exactly the greedy tokens of a solo generate().
import "@tensorflow/tfjs-backend-cpu";
import { selectBackend } from "@infialign/kernels/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseQwen2Config } from "../src/config.js";
import type { DecodeModel, GenerationRequest, KvCache } from "../src/engine.js";
import { generate } from "../src/generate/generate.js";
import { OnnxQwen2Model } from "../src/onnx/engine.js";
import { Qwen2Model } from "../src/qwen2/model.js";
import { ContinuousBatcher } from "../src/serve/continuousBatcher.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";
import { maxRelDiff } from "./qwen2Helpers.js";
import { until } from "./serveHelpers.js";

const tok = new ByteTokenizer();
const enc = (s: string) => [...new TextEncoder().encode(s)];
// initializer_range 0.3 so that random weights give peaked, seed-stable greedy choices (as onnxGenerate.test.ts).
const config = parseQwen2Config({
  vocab_size: tok.vocabSize,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
  initializer_range: 0.3,
  tie_word_embeddings: true,
});

const engines: Record<string, DecodeModel> = {};
let tfjs: Qwen2Model;
let ort: OnnxQwen2Model;
beforeAll(async () => {
  await selectBackend({ prefer: "cpu" });
  tfjs = Qwen2Model.init(config, { seed: 3 });
  ort = await OnnxQwen2Model.create(config, tfjs.toWeights(), { threads: 1 });
  engines.tfjs = tfjs;
  engines.onnxruntime = ort;
});
afterAll(async () => {
  tfjs.dispose();
  await ort.dispose();
});

/** A prefill of `prompt` alone: its cache and last logits. */
async function prefill(model: DecodeModel, prompt: number[]) {
  const n = prompt.length;
  return model.step({ ids: Int32Array.from(prompt), batch: 1, newTokens: n, positionIds: Int32Array.from({ length: n }, (_, i) => i), keyMask: new Uint8Array(n).fill(1) });
}

describe.each(["tfjs", "onnxruntime"])("continuous batching on the %s engine", (name) => {
  it("mergeCaches left-pads shorter rows and trims shared padding; a step on the merged cache equals solo steps", async () => {
    const model = engines[name] as DecodeModel;
    const prompts = [enc("short"), enc("a rather longer prompt"), enc("mid size")];
    const solos = await Promise.all(prompts.map((p) => prefill(model, p)));
    const next = [65, 66, 67];
    const expected = await Promise.all(
      solos.map((s, i) =>
        model.step({ ids: Int32Array.of(next[i] as number), batch: 1, newTokens: 1, positionIds: Int32Array.of(prompts[i]!.length), keyMask: new Uint8Array(prompts[i]!.length + 1).fill(1), cache: s.cache }),
      ),
    );
    // Rows in a new order, one repeated; a length beyond the longest adds padding every row shares (still correct).
    const order = [1, 0, 2, 0];
    for (const length of [22, 30]) {
      const merged = model.mergeCaches?.(
        // At 30, each part also says how many real positions its row has (only those need copying).
        order.map((i) => ({ cache: (solos[i] as { cache: KvCache }).cache, rows: [0], ...(length === 30 ? { lengths: [prompts[i]!.length] } : {}) })),
        length,
      ) as KvCache;
      expect([merged.batch, merged.length]).toEqual([4, length]);
      const keyMask = new Uint8Array(order.length * (length + 1));
      order.forEach((i, b) => {
        keyMask.fill(1, b * (length + 1) + length - prompts[i]!.length, (b + 1) * (length + 1));
      });
      const out = await model.step({ ids: Int32Array.from(order, (i) => next[i] as number), batch: 4, newTokens: 1, positionIds: Int32Array.from(order, (i) => prompts[i]!.length), keyMask, cache: merged });
      order.forEach((i, b) => {
        expect(maxRelDiff(out.logits.subarray(b * config.vocabSize, (b + 1) * config.vocabSize), expected[i]!.logits)).toBeLessThan(1e-4);
      });
      // Trimming back to the longest row drops only padding.
      const trimmed = model.mergeCaches?.([{ cache: merged, rows: [0, 2] }], 22) as KvCache;
      expect([trimmed.batch, trimmed.length]).toEqual([2, 22]);
      for (const c of [merged, trimmed, out.cache]) c.dispose();
    }
    for (const s of [...solos, ...expected]) s.cache.dispose();
  });

  it("requests that join a running batch decode the greedy tokens of a solo generate()", async () => {
    const model = engines[name] as DecodeModel;
    const batcher = new ContinuousBatcher({ model, tokenizer: tok, maxBatchSize: 3 });
    const requests: GenerationRequest[] = ["Hello", "2 + 2 =", "a much longer prompt, so the batch is left-padded", "x", "seeded"].map((p, i) => ({
      promptIds: enc(p),
      temperature: i === 4 ? 1 : 0,
      seed: 5,
      maxNewTokens: 6 + 5 * i,
      stopTokenIds: [],
    }));
    const pending = [];
    for (const request of requests) {
      const steps = batcher.stats.steps;
      pending.push(batcher.submit({ requests: [request] }));
      await until(() => batcher.stats.steps >= steps + 2, "two more decode steps");
    }
    const got = await Promise.all(pending);
    expect(Math.max(...batcher.stats.rowsPerStep)).toBe(3);
    for (const [i, request] of requests.entries()) {
      const [alone] = (await generate(model, tok, [request]))[0] ?? [];
      expect(got[i]?.[0]?.[0]?.tokenIds).toEqual(alone?.tokenIds);
      got[i]?.[0]?.[0]?.logprobs.forEach((lp, t) => {
        expect(lp).toBeCloseTo(alone?.logprobs[t] as number, 4);
      });
    }
  });
});
