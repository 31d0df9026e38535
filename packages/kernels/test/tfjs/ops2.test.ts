// Fused attention and chunked cross-entropy equal their plain-tfjs references in value and gradient, on cpu and wasm.
import * as tf from "@tensorflow/tfjs-core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { attentionBias, causalAttention, referenceCausalAttention } from "../../src/tfjs/ops/attention.js";
import { chunkedCrossEntropy, chunkedTokenLogProbs, IGNORE_INDEX, referenceCrossEntropy, referenceTokenLogProbs } from "../../src/tfjs/ops/crossEntropy.js";
import { expectClose, expectFiniteDifferences, gradsOf, seeded, TEST_BACKENDS, useBackend } from "./gradcheck.js";

describe.each(TEST_BACKENDS)("causalAttention on %s", (backend) => {
  let before = 0;
  beforeAll(async () => {
    await useBackend(backend);
  });
  afterEach(() => {
    tf.disposeVariables();
  });

  const qkv = (b: number, hq: number, hkv: number, s: number, d: number, seed = 1) => [seeded([b, hq, s, d], seed), seeded([b, hkv, s, d], seed + 1), seeded([b, hkv, s, d], seed + 2)] as const;

  it("equals the reference in value and in gradients wrt q, k, v (GQA, packed)", () => {
    before = tf.memory().numTensors;
    tf.tidy(() => {
      const [q, k, v] = qkv(2, 4, 2, 6, 8);
      const segmentIds = tf.tensor2d([0, 0, 0, 1, 1, 2, 5, 5, 5, 5, 7, 7], [2, 6], "int32");
      const fused = (...x: tf.Tensor[]) => causalAttention(x[0] as tf.Tensor, x[1] as tf.Tensor, x[2] as tf.Tensor, { segmentIds });
      const ref = (...x: tf.Tensor[]) => referenceCausalAttention(x[0] as tf.Tensor, x[1] as tf.Tensor, x[2] as tf.Tensor, { segmentIds });
      expectClose(fused(q, k, v), ref(q, k, v));
      const gf = gradsOf(fused, [q, k, v]);
      const gr = gradsOf(ref, [q, k, v]);
      for (let i = 0; i < 3; i++) expectClose(gf[i] as tf.Tensor, gr[i] as tf.Tensor);
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("matches finite differences on a tiny shape", () => {
    tf.tidy(() => {
      const [q, k, v] = qkv(1, 2, 1, 4, 3, 11);
      const segmentIds = tf.tensor2d([0, 0, 1, 1], [1, 4], "int32");
      const f = (...x: tf.Tensor[]) => causalAttention(x[0] as tf.Tensor, x[1] as tf.Tensor, x[2] as tf.Tensor, { segmentIds, scale: 0.7 });
      for (let which = 0; which < 3; which++) expectFiniteDifferences(f, [q, k, v], which);
    });
  });

  it("over two packed documents equals attention over each document alone", () => {
    tf.tidy(() => {
      const [q, k, v] = qkv(1, 2, 2, 7, 4, 21);
      const packed = causalAttention(q, k, v, { segmentIds: tf.tensor2d([3, 3, 3, 9, 9, 9, 9], [1, 7], "int32") });
      const part = (x: tf.Tensor, start: number, len: number) => tf.slice(x, [0, 0, start, 0], [-1, -1, len, -1]);
      expectClose(part(packed, 0, 3), causalAttention(part(q, 0, 3), part(k, 0, 3), part(v, 0, 3)));
      expectClose(part(packed, 3, 4), causalAttention(part(q, 3, 4), part(k, 3, 4), part(v, 3, 4)));
      // Without the packing mask the second document would see the first: the test can fail.
      const unpacked = causalAttention(q, k, v);
      expect(tf.max(tf.abs(tf.sub(part(unpacked, 3, 4), part(packed, 3, 4)))).dataSync()[0]).toBeGreaterThan(1e-3);
    });
  });

  it("builds the causal packing mask, and a precomputed one shared by layers gives the same result", () => {
    tf.tidy(() => {
      const segmentIds = tf.tensor2d([4, 4, 8], [1, 3], "int32");
      const M = -1e9;
      expect(Array.from(attentionBias(1, 3, segmentIds).dataSync())).toEqual([0, M, M, 0, 0, M, M, M, 0]);
      expect(Array.from(attentionBias(2, 2).dataSync())).toEqual([0, M, 0, 0, 0, M, 0, 0]);
      const [q, k, v] = qkv(1, 2, 1, 3, 4, 41);
      const bias = attentionBias(1, 3, segmentIds);
      expectClose(causalAttention(q, k, v, { bias }), causalAttention(q, k, v, { segmentIds }));
      expect(bias.isDisposed).toBe(false);
      expect(() => causalAttention(q, k, v, { bias: attentionBias(1, 2) })).toThrow("option bias must be [batch, 1, seq, seq] = [1, 1, 3, 3]");
    });
  });

  it("GQA equals MHA with kv heads repeated as repeat_kv", () => {
    tf.tidy(() => {
      const [q, k, v] = qkv(2, 6, 2, 5, 4, 31);
      // repeat_kv: query head h uses kv head floor(h / 3).
      const repeat = (x: tf.Tensor) => tf.gather(x, tf.tensor1d([0, 0, 0, 1, 1, 1], "int32"), 1);
      expectClose(causalAttention(q, k, v), causalAttention(q, repeat(k), repeat(v)));
    });
  });

  it("first token attends only to itself, and rejects bad shapes", () => {
    tf.tidy(() => {
      const [q, k, v] = qkv(1, 1, 1, 3, 2, 41);
      const out = causalAttention(q, k, v);
      expectClose(tf.slice(out, [0, 0, 0, 0], [1, 1, 1, 2]), tf.slice(v, [0, 0, 0, 0], [1, 1, 1, 2]));
      expect(() => causalAttention(seeded([1, 3, 3, 2], 1), seeded([1, 2, 3, 2], 2), seeded([1, 2, 3, 2], 3))).toThrow(/multiple of key\/value heads/);
    });
  });
});

describe.each(TEST_BACKENDS)("chunked cross-entropy on %s", (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  const N = 10;
  const H = 6;
  const V = 13;
  const labelValues = [3, IGNORE_INDEX, 0, 12, 7, IGNORE_INDEX, IGNORE_INDEX, 5, 5, 1];
  const inputs = () => [seeded([N, H], 5), seeded([V, H], 6)] as const;

  it("token log-probs equal the reference in value and gradients wrt hidden and lmHead", () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const [hidden, lmHead] = inputs();
      const labels = tf.tensor1d(labelValues, "int32");
      const fused = (...x: tf.Tensor[]) => chunkedTokenLogProbs(x[0] as tf.Tensor, x[1] as tf.Tensor, labels, { chunkSize: 3 }).logProbs;
      const ref = (...x: tf.Tensor[]) => referenceTokenLogProbs(x[0] as tf.Tensor, x[1] as tf.Tensor, labels);
      expectClose(fused(hidden, lmHead), ref(hidden, lmHead));
      const gf = gradsOf(fused, [hidden, lmHead]);
      const gr = gradsOf(ref, [hidden, lmHead]);
      expectClose(gf[0] as tf.Tensor, gr[0] as tf.Tensor);
      expectClose(gf[1] as tf.Tensor, gr[1] as tf.Tensor);
      // Ignored positions get exactly zero gradient.
      expect(Array.from(tf.sum(tf.abs(tf.gather(gf[0] as tf.Tensor, [1, 5, 6])), 1).dataSync())).toEqual([0, 0, 0]);
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("loss equals the reference; chunk size changes nothing; finite differences agree", () => {
    tf.tidy(() => {
      const [hidden, lmHead] = inputs();
      const labels = tf.tensor1d(labelValues, "int32");
      const ref = (...x: tf.Tensor[]) => referenceCrossEntropy(x[0] as tf.Tensor, x[1] as tf.Tensor, labels);
      const gr = gradsOf(ref, [hidden, lmHead]);
      for (const chunkSize of [1, 2, 4, 7, 1024]) {
        const fused = (...x: tf.Tensor[]) => chunkedCrossEntropy(x[0] as tf.Tensor, x[1] as tf.Tensor, labels, { chunkSize });
        expectClose(fused(hidden, lmHead), ref(hidden, lmHead));
        const gf = gradsOf(fused, [hidden, lmHead]);
        expectClose(gf[0] as tf.Tensor, gr[0] as tf.Tensor);
        expectClose(gf[1] as tf.Tensor, gr[1] as tf.Tensor);
      }
      const f = (...x: tf.Tensor[]) => chunkedCrossEntropy(x[0] as tf.Tensor, x[1] as tf.Tensor, labels, { chunkSize: 3 });
      expectFiniteDifferences(f, [hidden, lmHead], 0);
      expectFiniteDifferences(f, [hidden, lmHead], 1);
    });
  });

  it("matches the mean NLL computed by hand in float64", () => {
    tf.tidy(() => {
      const [hidden, lmHead] = inputs();
      const h = hidden.arraySync() as number[][];
      const w = lmHead.arraySync() as number[][];
      let total = 0;
      let count = 0;
      labelValues.forEach((label, i) => {
        if (label === IGNORE_INDEX) return;
        const z = w.map((row) => row.reduce((s, x, j) => s + x * (h[i] as number[])[j]!, 0));
        const max = Math.max(...z);
        total += max + Math.log(z.reduce((s, x) => s + Math.exp(x - max), 0)) - (z[label] as number);
        count++;
      });
      const loss = chunkedCrossEntropy(hidden, lmHead, tf.tensor1d(labelValues, "int32"), { chunkSize: 4 }).dataSync()[0] as number;
      expect(Math.abs(loss - total / count)).toBeLessThan(1e-5 * (1 + total / count));
    });
  });

  it("entropy and accuracy side outputs are right", () => {
    tf.tidy(() => {
      const [hidden, lmHead] = inputs();
      const logits = tf.matMul(hidden, lmHead, false, true);
      const argmax = Array.from(tf.argMax(logits, 1).dataSync());
      // Labels: the argmax at even positions (correct), argmax+1 at odd ones (wrong).
      const labels = argmax.map((a, i) => (i % 2 === 0 ? a : (a + 1) % V));
      const out = chunkedTokenLogProbs(hidden, lmHead, tf.tensor1d(labels, "int32"), { chunkSize: 4 });
      expect(Array.from(out.correct.dataSync())).toEqual(labels.map((_, i) => (i % 2 === 0 ? 1 : 0)));
      const logp = tf.logSoftmax(logits, 1);
      expectClose(out.entropy, tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), 1)));
      expect(Array.from(out.keptIndices)).toEqual(Array.from({ length: N }, (_, i) => i));
    });
  });

  it("all-ignored labels give loss 0 and zero gradients, no NaN", () => {
    tf.tidy(() => {
      const [hidden, lmHead] = inputs();
      const labels = tf.fill([N], IGNORE_INDEX, "int32");
      const f = (...x: tf.Tensor[]) => chunkedCrossEntropy(x[0] as tf.Tensor, x[1] as tf.Tensor, labels);
      expect(f(hidden, lmHead).dataSync()[0]).toBe(0);
      const g = tf.grads((x0: tf.Tensor, x1: tf.Tensor) => f(x0, x1))([hidden, lmHead]);
      for (const t of g) expect(Array.from(t.dataSync()).every((x) => x === 0)).toBe(true);
      expect(chunkedTokenLogProbs(hidden, lmHead, labels).logProbs.shape).toEqual([0]);
      expect(referenceCrossEntropy(hidden, lmHead, labels).dataSync()[0]).toBe(0);
    });
  });

  it("rejects out-of-range labels", () => {
    tf.tidy(() => {
      const [hidden, lmHead] = inputs();
      expect(() => chunkedCrossEntropy(hidden, lmHead, tf.tensor1d([...labelValues.slice(0, N - 1), V], "int32"))).toThrow(/outside \[0, 13\)/);
    });
  });
});
