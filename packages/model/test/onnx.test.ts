// OnnxQwen2Model (onnxruntime-node) against the float64 reference (src/qwen2/reference.ts) and the tfjs Qwen2Model:
// logits, KV-cache decoding, left padding, cache growth/branching, selectRows, and input validation.
import "@tensorflow/tfjs-backend-cpu";
import { selectBackend } from "@infialign/kernels/tfjs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Qwen2Config } from "../src/config.js";
import { ModelError } from "../src/errors.js";
import { OnnxQwen2Model } from "../src/onnx/engine.js";
import { buildQwen2Onnx } from "../src/onnx/graph.js";
import { Qwen2Model } from "../src/qwen2/model.js";
import { randomQwen2Weights } from "../src/qwen2/randomWeights.js";
import { referenceLogits } from "../src/qwen2/reference.js";

function tinyConfig(overrides: Partial<Qwen2Config> = {}): Qwen2Config {
  const base: Qwen2Config = {
    vocabSize: 37,
    hiddenSize: 16,
    intermediateSize: 24,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    headDim: 4,
    maxPositionEmbeddings: 64,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    initializerRange: 0.02,
  };
  const c = { ...base, ...overrides };
  return { ...c, headDim: c.hiddenSize / c.numAttentionHeads };
}



function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

const range = (n: number, from = 0) => Int32Array.from({ length: n }, (_, i) => from + i);

/** Full forward of unpadded rows, every position's logits. */
async function forwardAll(model: OnnxQwen2Model, rows: number[][]) {
  const batch = rows.length;
  const seq = (rows[0] as number[]).length;
  return model.step({
    ids: Int32Array.from(rows.flat()),
    batch,
    newTokens: seq,
    positionIds: Int32Array.from(rows.flatMap(() => Array.from(range(seq)))),
    keyMask: new Uint8Array(batch * seq).fill(1),
    allLogits: true,
  });
}

const ids = [3, 17, 0, 36, 5, 5, 22, 9, 14, 1, 30];

describe("OnnxQwen2Model", () => {
  it.each([
    { name: "tied, GQA, odd vocab", config: tinyConfig() },
    { name: "untied, MHA", config: tinyConfig({ tieWordEmbeddings: false, numKeyValueHeads: 4, vocabSize: 41 }) },
    { name: "GQA 4:1, theta 1e6", config: tinyConfig({ hiddenSize: 32, numKeyValueHeads: 1, ropeTheta: 1e6, numHiddenLayers: 3 }) },
  ])("logits equal the float64 reference to 1e-4 ($name)", async ({ config }) => {
    const weights = randomQwen2Weights(config, { seed: 7, std: 0.3, biasStd: 0.2, normStd: 0.2, embeddingStd: 1 });
    const model = await OnnxQwen2Model.create(config, weights, { threads: 1 });
    try {
      const { logits, cache } = await forwardAll(model, [ids]);
      const ref = referenceLogits(config, weights, ids);
      expect(maxAbsDiff(logits, ref)).toBeLessThan(1e-4);
      // The check can fail: logits are not constant, and a single wrong token changes them well beyond the tolerance.
      expect(maxAbsDiff(ref.subarray(0, config.vocabSize), ref.subarray(config.vocabSize, 2 * config.vocabSize))).toBeGreaterThan(0.1);
      expect(cache.length).toBe(ids.length);
      cache.dispose();
    } finally {
      await model.dispose();
    }
  });

  it("random shapes, left padding and a decode step match the float64 reference (property)", async () => {
    const shape = fc.record({
      kvHeads: fc.constantFrom(1, 2, 4),
      group: fc.constantFrom(1, 2, 3),
      headDim: fc.constantFrom(2, 4, 8),
      vocabSize: fc.integer({ min: 2, max: 61 }),
      layers: fc.integer({ min: 1, max: 2 }),
      tie: fc.boolean(),
      seed: fc.nat(),
      rows: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(shape, async ({ kvHeads, group, headDim, vocabSize, layers, tie, seed, rows }) => {
        const heads = kvHeads * group;
        const config = tinyConfig({ hiddenSize: heads * headDim, numAttentionHeads: heads, numKeyValueHeads: kvHeads, vocabSize, numHiddenLayers: layers, tieWordEmbeddings: tie, intermediateSize: 12 });
        const weights = randomQwen2Weights(config, { seed: seed, std: 0.3, biasStd: 0.2, normStd: 0.2, embeddingStd: 1 });
        const model = await OnnxQwen2Model.create(config, weights, { threads: 1 });
        const seqs = rows.map((n, r) => Array.from({ length: n + 1 }, (_, i) => (seed + 5 * r + 3 * i) % vocabSize));
        const width = Math.max(...rows);
        const pads = rows.map((n) => width - n);
        const { cache } = await model.step({
          ids: Int32Array.from(seqs.flatMap((q, r) => [...new Array(pads[r]).fill(0), ...q.slice(0, -1)])),
          batch: rows.length,
          newTokens: width,
          positionIds: Int32Array.from(rows.flatMap((n, r) => [...new Array(pads[r]).fill(0), ...range(n)])),
          keyMask: Uint8Array.from(rows.flatMap((n, r) => [...new Array(pads[r]).fill(0), ...new Array(n).fill(1)])),
        });
        const { logits } = await model.step({
          ids: Int32Array.from(seqs.map((q) => q.at(-1) as number)),
          batch: rows.length,
          newTokens: 1,
          positionIds: Int32Array.from(rows),
          keyMask: Uint8Array.from(rows.flatMap((n, r) => [...new Array(pads[r]).fill(0), ...new Array(n + 1).fill(1)])),
          cache,
        });
        await model.dispose();
        for (const [r, q] of seqs.entries()) {
          const ref = referenceLogits(config, weights, q).subarray((q.length - 1) * vocabSize);
          expect(maxAbsDiff(logits.subarray(r * vocabSize, (r + 1) * vocabSize), ref)).toBeLessThan(1e-4);
        }
      }),
      { numRuns: 15, seed: 42 },
    );
  });

  it("prefill + cached decode steps equal the full forward", async () => {
    const config = tinyConfig();
    const model = await OnnxQwen2Model.create(config, randomQwen2Weights(config, { seed: 11, std: 0.3, biasStd: 0.2, normStd: 0.2, embeddingStd: 1 }), { threads: 1 });
    const V = config.vocabSize;
    const full = (await forwardAll(model, [ids])).logits;
    const prefill = 4;
    let out = await model.step({ ids: Int32Array.from(ids.slice(0, prefill)), batch: 1, newTokens: prefill, positionIds: range(prefill), keyMask: new Uint8Array(prefill).fill(1) });
    expect(out.logits.length).toBe(V);
    expect(maxAbsDiff(out.logits, full.subarray((prefill - 1) * V, prefill * V))).toBeLessThan(1e-5);
    for (let t = prefill; t < ids.length; t++) {
      const next = await model.step({ ids: Int32Array.of(ids[t] as number), batch: 1, newTokens: 1, positionIds: Int32Array.of(t), keyMask: new Uint8Array(t + 1).fill(1), cache: out.cache });
      out.cache.dispose();
      out = next;
      expect(maxAbsDiff(out.logits, full.subarray(t * V, (t + 1) * V))).toBeLessThan(1e-5);
    }
    await model.dispose();
  });

  it("keeps the cache right across buffer growth and when two steps branch from one cache", async () => {
    const config = tinyConfig({ maxPositionEmbeddings: 256 });
    const model = await OnnxQwen2Model.create(config, randomQwen2Weights(config, { seed: 13, std: 0.3, biasStd: 0.2, normStd: 0.2, embeddingStd: 1 }), { threads: 1 });
    const V = config.vocabSize;
    // 150 positions cross the 64-slot growth steps twice (prefill 60 → slots 64 full at 64 → grows to 128 …).
    const seq = Array.from({ length: 150 }, (_, i) => (i * 7 + 3) % V);
    const full = (await forwardAll(model, [seq])).logits;
    const prefill = 60;
    let out = await model.step({ ids: Int32Array.from(seq.slice(0, prefill)), batch: 1, newTokens: prefill, positionIds: range(prefill), keyMask: new Uint8Array(prefill).fill(1) });
    const branchPoint = out.cache;
    const other = [9, 4, 30];
    let branch = branchPoint;
    let branchLogits: Float32Array = new Float32Array(0);
    for (let t = prefill; t < seq.length; t++) {
      const next = await model.step({ ids: Int32Array.of(seq[t] as number), batch: 1, newTokens: 1, positionIds: Int32Array.of(t), keyMask: new Uint8Array(t + 1).fill(1), cache: out.cache });
      if (out.cache !== branchPoint) out.cache.dispose();
      out = next;
      expect(maxAbsDiff(out.logits, full.subarray(t * V, (t + 1) * V))).toBeLessThan(1e-4);
      if (t === prefill + 1) {
        // A second continuation of the prefill cache while the first still appends to the same buffer: neither may see
        // or overwrite the other's keys.
        for (const [i, id] of other.entries()) {
          const step = await model.step({ ids: Int32Array.of(id), batch: 1, newTokens: 1, positionIds: Int32Array.of(prefill + i), keyMask: new Uint8Array(prefill + i + 1).fill(1), cache: branch });
          if (branch !== branchPoint) branch.dispose();
          branch = step.cache;
          branchLogits = step.logits;
        }
      }
    }
    const alone = (await forwardAll(model, [[...seq.slice(0, prefill), ...other]])).logits;
    expect(maxAbsDiff(branchLogits, alone.subarray((prefill + 2) * V))).toBeLessThan(1e-4);
    const again = await model.step({ ids: Int32Array.of(1), batch: 1, newTokens: 1, positionIds: Int32Array.of(150), keyMask: new Uint8Array(151).fill(1), cache: out.cache });
    expect(maxAbsDiff(again.logits, (await forwardAll(model, [[...seq, 1]])).logits.subarray(150 * V))).toBeLessThan(1e-4);
    branchPoint.dispose();
    await expect(model.step({ ids: Int32Array.of(1), batch: 1, newTokens: 1, positionIds: Int32Array.of(60), keyMask: new Uint8Array(61).fill(1), cache: branchPoint })).rejects.toThrow(/after dispose/);
    await model.dispose();
  });

  it("a left-padded batch equals its rows run alone, through prefill, decode and selectRows", async () => {
    const config = tinyConfig({ tieWordEmbeddings: false });
    const model = await OnnxQwen2Model.create(config, randomQwen2Weights(config, { seed: 5, std: 0.3, biasStd: 0.2, normStd: 0.2, embeddingStd: 1 }), { threads: 2 });
    const V = config.vocabSize;
    const rows = [ids.slice(0, 7), ids.slice(3, 6), ids.slice(1, 8).reverse()];
    const width = Math.max(...rows.map((r) => r.length));
    const pad = (r: number[]) => width - r.length;
    const batchIds = Int32Array.from(rows.flatMap((r) => [...new Array(pad(r)).fill(2), ...r]));
    const positions = Int32Array.from(rows.flatMap((r) => [...new Array(pad(r)).fill(0), ...range(r.length)]));
    const mask = Uint8Array.from(rows.flatMap((r) => [...new Array(pad(r)).fill(0), ...new Array(r.length).fill(1)]));
    const batched = await model.step({ ids: batchIds, batch: rows.length, newTokens: width, positionIds: positions, keyMask: mask, allLogits: true });
    expect(batched.logits.length).toBe(rows.length * width * V);
    const nextTokens = [4, 33, 12];
    const decoded = await model.step({
      ids: Int32Array.from(nextTokens),
      batch: rows.length,
      newTokens: 1,
      positionIds: Int32Array.from(rows.map((r) => r.length)),
      keyMask: Uint8Array.from(rows.flatMap((r) => [...new Array(pad(r)).fill(0), ...new Array(r.length + 1).fill(1)])),
      cache: batched.cache,
    });
    for (const [b, row] of rows.entries()) {
      const alone = (await forwardAll(model, [[...row, nextTokens[b] as number]])).logits;
      for (let t = 0; t < row.length; t++) {
        const got = batched.logits.subarray((b * width + pad(row) + t) * V, (b * width + pad(row) + t + 1) * V);
        expect(maxAbsDiff(got, alone.subarray(t * V, (t + 1) * V))).toBeLessThan(1e-5);
      }
      expect(maxAbsDiff(decoded.logits.subarray(b * V, (b + 1) * V), alone.subarray(row.length * V))).toBeLessThan(1e-5);
    }
    // n samples per prompt: rows repeat and reorder; each selected row continues exactly like its source row.
    const picked = [2, 0, 2];
    const selected = model.selectRows(decoded.cache, picked);
    expect(selected.batch).toBe(3);
    const widthNow = width + 1;
    const after = await model.step({
      ids: Int32Array.of(1, 1, 1),
      batch: 3,
      newTokens: 1,
      positionIds: Int32Array.from(picked.map((r) => (rows[r] as number[]).length + 1)),
      keyMask: Uint8Array.from(picked.flatMap((r) => [...new Array(pad(rows[r] as number[])).fill(0), ...new Array(widthNow - pad(rows[r] as number[]) + 1).fill(1)])),
      cache: selected,
    });
    for (const [i, r] of picked.entries()) {
      const row = rows[r] as number[];
      const alone = (await forwardAll(model, [[...row, nextTokens[r] as number, 1]])).logits;
      expect(maxAbsDiff(after.logits.subarray(i * V, (i + 1) * V), alone.subarray((row.length + 1) * V))).toBeLessThan(1e-5);
    }
    for (const c of [batched.cache, decoded.cache, selected, after.cache]) c.dispose();
    await model.dispose();
  });

  it("equals the tfjs Qwen2Model step to 1e-4 on a left-padded batch, prefill and decode", async () => {
    await selectBackend({ prefer: "cpu" });
    const config = tinyConfig({ tieWordEmbeddings: false, vocabSize: 53 });
    const weights = randomQwen2Weights(config, { seed: 23, std: 0.3, biasStd: 0.2, normStd: 0.2, embeddingStd: 1 });
    const ort = await OnnxQwen2Model.create(config, weights, { threads: 1 });
    const tfjs = Qwen2Model.fromWeights(config, weights);
    const V = config.vocabSize;
    const rows = [ids.slice(2, 9), ids.slice(0, 4)];
    const width = 7;
    const pads = rows.map((r) => width - r.length);
    const prefill = {
      ids: Int32Array.from(rows.flatMap((r, b) => [...new Array(pads[b]).fill(0), ...r])),
      batch: 2,
      newTokens: width,
      positionIds: Int32Array.from(rows.flatMap((r, b) => [...new Array(pads[b]).fill(0), ...range(r.length)])),
      keyMask: Uint8Array.from(rows.flatMap((r, b) => [...new Array(pads[b]).fill(0), ...new Array(r.length).fill(1)])),
      allLogits: true,
    };
    const [a, b] = [await ort.step(prefill), await tfjs.step(prefill)];
    for (const [r, row] of rows.entries()) {
      // Padding positions carry no meaning (each engine fills them differently); real positions must agree.
      const from = (r * width + (pads[r] as number)) * V;
      const to = (r + 1) * width * V;
      expect(maxAbsDiff(a.logits.subarray(from, to), b.logits.subarray(from, to))).toBeLessThan(1e-4);
      expect(maxAbsDiff(a.logits.subarray(from, to), referenceLogits(config, weights, row))).toBeLessThan(1e-4);
    }
    const decode = {
      ids: Int32Array.of(8, 50),
      batch: 2,
      newTokens: 1,
      positionIds: Int32Array.from(rows.map((r) => r.length)),
      keyMask: Uint8Array.from(rows.flatMap((r, b) => [...new Array(pads[b]).fill(0), ...new Array(r.length + 1).fill(1)])),
    };
    const [c, d] = [await ort.step({ ...decode, cache: a.cache }), await tfjs.step({ ...decode, cache: b.cache })];
    expect(c.logits.length).toBe(2 * V);
    expect(maxAbsDiff(c.logits, d.logits)).toBeLessThan(1e-4);
    for (const cache of [a.cache, b.cache, c.cache, d.cache]) cache.dispose();
    tfjs.dispose();
    await ort.dispose();
  });

  it("rejects missing or mis-shaped weights and malformed steps with ModelError", async () => {
    const config = tinyConfig();
    const weights = randomQwen2Weights(config, { seed: 1, std: 0.3, biasStd: 0.2, normStd: 0.2, embeddingStd: 1 });
    const missing = new Map(weights);
    missing.delete("model.layers.1.self_attn.k_proj.bias");
    expect(() => buildQwen2Onnx(config, missing)).toThrow(/missing "model\.layers\.1\.self_attn\.k_proj\.bias"/);
    const misShaped = new Map(weights);
    misShaped.set("model.norm.weight", { shape: [8], data: new Float32Array(8) });
    expect(() => buildQwen2Onnx(config, misShaped)).toThrow(ModelError);
    expect(() => buildQwen2Onnx({ ...config, tieWordEmbeddings: false }, weights)).toThrow(/lm_head\.weight/);

    const model = await OnnxQwen2Model.create(config, weights, { threads: 1 });
    const ok = { ids: Int32Array.of(1, 2), batch: 1, newTokens: 2, positionIds: Int32Array.of(0, 1), keyMask: Uint8Array.of(1, 1) };
    await expect(model.step({ ...ok, ids: Int32Array.of(1, config.vocabSize) })).rejects.toThrow(/outside the vocabulary/);
    await expect(model.step({ ...ok, keyMask: Uint8Array.of(1) })).rejects.toThrow(/keyMask/);
    const { cache } = await model.step(ok);
    expect(() => model.selectRows(cache, [1])).toThrow(ModelError);
    await expect(model.step({ ...ok, batch: 2, ids: new Int32Array(4), positionIds: new Int32Array(4), keyMask: new Uint8Array(8), cache })).rejects.toThrow(/cache holds 1 rows/);
    await model.dispose();
  });
});
