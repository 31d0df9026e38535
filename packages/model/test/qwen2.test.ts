// Qwen2Model's tfjs forward equals the float64 reference, packing equals separate documents, and the KV-cache decode
// step equals the full forward (prefill + decode, left padding, selectRows), on cpu and wasm.
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Qwen2Config } from "../src/config.js";
import type { KvCache } from "../src/engine.js";
import { ModelError } from "../src/errors.js";
import { Qwen2Model, qwen2ParameterShapes } from "../src/qwen2/model.js";
import { referenceLogits } from "../src/qwen2/reference.js";
import { maxRelDiff, randomIds, TEST_BACKENDS, tinyConfig, useBackend } from "./qwen2Helpers.js";

const CONFIGS: Array<[string, Qwen2Config]> = [
  ["untied GQA (hkv < hq), odd vocab", tinyConfig()],
  ["tied MHA (hkv == hq)", tinyConfig({ tie_word_embeddings: true, num_key_value_heads: 4, vocab_size: 41 })],
  ["one kv head, 3 layers", tinyConfig({ num_key_value_heads: 1, num_hidden_layers: 3, hidden_size: 24, num_attention_heads: 2, rope_theta: 1e6 })],
];

/** Logits of one sequence from the training forward, as a flat Float32Array `[seq, vocab]`. */
function forwardLogits(model: Qwen2Model, ids: number[]): Float32Array {
  return tf.tidy(() => model.logits(tf.tensor2d(ids, [1, ids.length], "int32")).dataSync() as Float32Array);
}

/** Random (but non-trivial) biases and norm weights, so a forward that ignored them would fail. */
function perturbed(config: Qwen2Config, seed: number): Qwen2Model {
  const base = Qwen2Model.init(config, { seed });
  const weights = base.toWeights();
  base.dispose();
  let k = 0;
  for (const [name, t] of weights) {
    if (!name.endsWith(".bias") && !name.endsWith("norm.weight")) continue;
    const r = randomIds(t.data.length, 1000, seed * 31 + k++);
    t.data.set(r.map((x) => (name.endsWith(".bias") ? (x - 500) / 2000 : 0.75 + x / 2000)));
  }
  return Qwen2Model.fromWeights(config, weights);
}

describe.each(TEST_BACKENDS)("Qwen2Model on %s", (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe.each(CONFIGS)("%s", (_, config) => {
    let model: Qwen2Model;
    beforeAll(() => {
      model = perturbed(config, 3);
    });
    afterAll(() => model.dispose());

    it("forward logits equal the float64 reference to 1e-4", () => {
      const ids = randomIds(11, config.vocabSize, 5);
      const got = forwardLogits(model, ids);
      const want = referenceLogits(config, model.toWeights(), ids);
      expect(got.length).toBe(ids.length * config.vocabSize);
      // The logits are O(1): a wrong op would be off by far more.
      expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0.5);
      expect(maxRelDiff(got, want)).toBeLessThan(1e-4);
    });

    it("packed documents (segmentIds + restarting positionIds) equal each document alone", () => {
      const docs = [randomIds(5, config.vocabSize, 7), randomIds(3, config.vocabSize, 8), randomIds(4, config.vocabSize, 9)];
      const ids = docs.flat();
      const positions = docs.flatMap((d) => d.map((_, i) => i));
      const segments = docs.flatMap((d, j) => d.map(() => j + 10));
      const packed = tf.tidy(
        () =>
          model
            .logits(tf.tensor2d(ids, [1, ids.length], "int32"), {
              positionIds: tf.tensor2d(positions, [1, ids.length], "int32"),
              segmentIds: tf.tensor2d(segments, [1, ids.length], "int32"),
            })
            .dataSync() as Float32Array,
      );
      const alone = docs.flatMap((d) => [...forwardLogits(model, d)]);
      expect(maxRelDiff(packed, alone)).toBeLessThan(1e-5);
    });

    it("loss and tokenLogProbs shift labels inside (HF ForCausalLMLoss), skip -100, and equal the reference's log-softmax", () => {
      const ids = randomIds(9, config.vocabSize, 13);
      const labels = ids.map((id, t) => (t < 3 ? -100 : id));
      const want = referenceLogits(config, model.toWeights(), ids);
      const v = config.vocabSize;
      // log p(ids[t + 1] | ids[≤ t]) for t = 2 … 7 (labels[t + 1] ≠ -100).
      const refLogProbs: number[] = [];
      for (let t = 2; t + 1 < ids.length; t++) {
        const row = want.subarray(t * v, (t + 1) * v);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0));
        refLogProbs.push((row[ids[t + 1] as number] as number) - lse);
      }
      tf.tidy(() => {
        const batch = { inputIds: tf.tensor2d(ids, [1, ids.length], "int32"), labels: tf.tensor2d(labels, [1, ids.length], "int32") };
        const { loss, numTokens } = model.loss(batch, { chunkSize: 4 });
        expect(numTokens).toBe(refLogProbs.length);
        const refLoss = -refLogProbs.reduce((s, x) => s + x, 0) / refLogProbs.length;
        expect(Math.abs((loss.dataSync()[0] as number) - refLoss)).toBeLessThan(1e-4);
        const out = model.tokenLogProbs(batch);
        expect([...out.keptIndices]).toEqual([2, 3, 4, 5, 6, 7]);
        expect(maxRelDiff(out.logProbs.dataSync(), refLogProbs)).toBeLessThan(1e-4);
      });
    });

    it("the loss of packed documents equals the token-weighted mean of each document's loss", () => {
      const docs = [randomIds(5, config.vocabSize, 17), randomIds(4, config.vocabSize, 18)];
      const ids = docs.flat();
      const lossOf = (x: number[], extra: { positionIds?: number[]; segmentIds?: number[] } = {}) =>
        tf.tidy(() => {
          const inputIds = tf.tensor2d(x, [1, x.length], "int32");
          const r = model.loss({
            inputIds,
            labels: inputIds,
            ...(extra.positionIds ? { positionIds: tf.tensor2d(extra.positionIds, [1, x.length], "int32") } : {}),
            ...(extra.segmentIds ? { segmentIds: tf.tensor2d(extra.segmentIds, [1, x.length], "int32") } : {}),
          });
          return { loss: r.loss.dataSync()[0] as number, n: r.numTokens };
        });
      const packed = lossOf(ids, { positionIds: docs.flatMap((d) => d.map((_, i) => i)), segmentIds: docs.flatMap((d, j) => d.map(() => j)) });
      const alone = docs.map((d) => lossOf(d));
      expect(packed.n).toBe(ids.length - docs.length);
      expect(Math.abs(packed.loss - alone.reduce((s, a) => s + a.loss * a.n, 0) / packed.n)).toBeLessThan(1e-5);
    });

    it("prefill + one-token decode steps equal the full forward at every position", async () => {
      const ids = randomIds(9, config.vocabSize, 11);
      const full = forwardLogits(model, ids);
      const v = config.vocabSize;
      const prefill = 4;
      let out = await model.step({
        ids: Int32Array.from(ids.slice(0, prefill)),
        batch: 1,
        newTokens: prefill,
        positionIds: Int32Array.from({ length: prefill }, (_, i) => i),
        keyMask: new Uint8Array(prefill).fill(1),
        allLogits: true,
      });
      expect(maxRelDiff(out.logits, full.subarray(0, prefill * v))).toBeLessThan(1e-5);
      const before = tf.memory().numTensors;
      for (let t = prefill; t < ids.length; t++) {
        const next = await model.step({ ids: Int32Array.of(ids[t] as number), batch: 1, newTokens: 1, positionIds: Int32Array.of(t), keyMask: new Uint8Array(t + 1).fill(1), cache: out.cache });
        out.cache.dispose();
        out = next;
        expect(out.cache.length).toBe(t + 1);
        expect(maxRelDiff(out.logits, full.subarray(t * v, (t + 1) * v))).toBeLessThan(1e-5);
      }
      out.cache.dispose();
      // Each step frees its temporaries; only the cache it returns (now disposed) outlives it.
      expect(tf.memory().numTensors).toBeLessThanOrEqual(before - 2 * config.numHiddenLayers);
    });

    it("left-padded batch rows equal the unpadded rows; selectRows repeats and reorders rows", async () => {
      const v = config.vocabSize;
      const prompts = [randomIds(6, v, 21), randomIds(3, v, 22)];
      const width = 6;
      const pad = 0;
      const ids = prompts.flatMap((p) => [...new Array(width - p.length).fill(pad), ...p]);
      const positionIds = prompts.flatMap((p) => [...new Array(width - p.length).fill(0), ...p.map((_, i) => i)]);
      const keyMask = Uint8Array.from(prompts.flatMap((p) => [...new Array(width - p.length).fill(0), ...p.map(() => 1)]));
      const out = await model.step({ ids: Int32Array.from(ids), batch: 2, newTokens: width, positionIds: Int32Array.from(positionIds), keyMask });
      expect(out.logits.length).toBe(2 * v);
      const singles = prompts.map((p) => forwardLogits(model, p).subarray((p.length - 1) * v));
      prompts.forEach((_, r) => {
        expect(maxRelDiff(out.logits.subarray(r * v, (r + 1) * v), singles[r] as Float32Array)).toBeLessThan(1e-5);
      });
      // Decode one more token per row from a reordered, repeated cache: rows [1, 0, 1].
      const picked: KvCache = model.selectRows(out.cache, [1, 0, 1]);
      expect([picked.batch, picked.length]).toEqual([3, width]);
      const nextIds = [5, 6, 7];
      const rowOf = [1, 0, 1];
      const mask = new Uint8Array(3 * (width + 1));
      for (const [i, r] of rowOf.entries()) mask.set([...keyMask.subarray(r * width, (r + 1) * width), 1], i * (width + 1));
      const step = await model.step({
        ids: Int32Array.from(nextIds),
        batch: 3,
        newTokens: 1,
        positionIds: Int32Array.from(rowOf.map((r) => (prompts[r] as number[]).length)),
        keyMask: mask,
        cache: picked,
      });
      rowOf.forEach((r, i) => {
        const seq = [...(prompts[r] as number[]), nextIds[i] as number];
        const want = forwardLogits(model, seq).subarray((seq.length - 1) * v);
        expect(maxRelDiff(step.logits.subarray(i * v, (i + 1) * v), want)).toBeLessThan(1e-5);
      });
      for (const c of [out.cache, picked, step.cache]) c.dispose();
    });
  });
});

describe("Qwen2Model weights", () => {
  beforeAll(async () => {
    await useBackend("cpu");
  });

  it("init is seeded: HF init statistics, same seed same weights, other seed other weights", () => {
    const config = tinyConfig({ initializer_range: 0.02, hidden_size: 64, intermediate_size: 96, num_attention_heads: 4 });
    const a = Qwen2Model.init(config, { seed: 1 });
    const b = Qwen2Model.init(config, { seed: 1 });
    const c = Qwen2Model.init(config, { seed: 2 });
    const wa = a.toWeights();
    expect([...wa.keys()]).toEqual([...qwen2ParameterShapes(config).keys()]);
    const q = wa.get("model.layers.0.self_attn.q_proj.weight")?.data as Float32Array;
    const mean = q.reduce((s, x) => s + x, 0) / q.length;
    const std = Math.sqrt(q.reduce((s, x) => s + (x - mean) ** 2, 0) / q.length);
    expect(Math.abs(mean)).toBeLessThan(0.003);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(wa.get("model.layers.0.self_attn.q_proj.bias")?.data.every((x) => x === 0)).toBe(true);
    expect(wa.get("model.norm.weight")?.data.every((x) => x === 1)).toBe(true);
    expect(b.toWeights().get("lm_head.weight")?.data).toEqual(wa.get("lm_head.weight")?.data);
    expect(c.toWeights().get("lm_head.weight")?.data).not.toEqual(wa.get("lm_head.weight")?.data);
    for (const m of [a, b, c]) m.dispose();
  });

  it("toWeights → fromWeights round-trips bit-exactly; tied models save no lm_head.weight", () => {
    const config = tinyConfig({ tie_word_embeddings: true });
    const a = Qwen2Model.init(config, { seed: 4 });
    const w = a.toWeights();
    expect(w.has("lm_head.weight")).toBe(false);
    const b = Qwen2Model.fromWeights(config, w);
    for (const [name, t] of b.toWeights()) expect(t.data, name).toEqual(w.get(name)?.data);
    for (const m of [a, b]) m.dispose();
  });

  it("fromWeights names every missing, unexpected and mis-shaped tensor", () => {
    const config = tinyConfig();
    const a = Qwen2Model.init(config);
    const w = a.toWeights();
    a.dispose();
    w.delete("model.layers.1.mlp.up_proj.weight");
    w.set("model.layers.9.mlp.up_proj.weight", { shape: [1], data: new Float32Array(1) });
    w.set("model.norm.weight", { shape: [3], data: new Float32Array(3) });
    const attempt = () => Qwen2Model.fromWeights(config, w);
    expect(attempt).toThrow(ModelError);
    expect(attempt).toThrow(/missing 1: model\.layers\.1\.mlp\.up_proj\.weight.*unexpected 1: model\.layers\.9\.mlp\.up_proj\.weight.*model\.norm\.weight is \[3\].*expected \[16\]/);
  });

  it("step rejects inconsistent inputs with a ModelError", async () => {
    const model = Qwen2Model.init(tinyConfig());
    await expect(model.step({ ids: Int32Array.of(1, 2), batch: 1, newTokens: 2, positionIds: Int32Array.of(0, 1), keyMask: new Uint8Array(3) })).rejects.toThrow(/keyMask has 3 entries/);
    await expect(model.step({ ids: Int32Array.of(99), batch: 1, newTokens: 1, positionIds: Int32Array.of(0), keyMask: new Uint8Array(1) })).rejects.toThrow(/token id 99/);
    await expect(model.step({ ids: Int32Array.of(1), batch: 1, newTokens: 1, positionIds: Int32Array.of(64), keyMask: new Uint8Array(1) })).rejects.toThrow(/max_position_embeddings/);
    model.dispose();
  });
});
