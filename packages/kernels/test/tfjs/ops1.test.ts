// Fused RMSNorm, SwiGLU, RoPE and embedding lookup equal their plain-tfjs references in value and gradient, on cpu and wasm.
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { embeddingLookup, referenceEmbeddingLookup } from "../../src/tfjs/ops/embedding.js";
import { referenceRmsNorm, rmsNorm } from "../../src/tfjs/ops/rmsNorm.js";
import { applyRope, referenceApplyRope, ropeTables } from "../../src/tfjs/ops/rope.js";
import { referenceSwiglu, swiglu } from "../../src/tfjs/ops/swiglu.js";
import { expectClose, expectFiniteDifferences, gradsOf, maxRelDiff, seeded, TEST_BACKENDS, useBackend } from "./gradcheck.js";

/** Fused and reference agree in value and in the gradient of every input. */
function expectSameValueAndGrads(fused: (...xs: tf.Tensor[]) => tf.Tensor, reference: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], tol = 1e-5): void {
  tf.tidy(() => {
    expectClose(fused(...inputs), reference(...inputs), tol);
    const a = gradsOf(fused, inputs);
    const b = gradsOf(reference, inputs);
    expect(a.length).toBe(inputs.length);
    a.forEach((g, i) => {
      expectClose(g, b[i] as tf.Tensor, tol);
    });
  });
}

/** Forward + backward leaves no tensor behind (customGrad's saved clones are freed by backprop). */
function expectNoLeak(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): void {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const probe = seeded(f(...inputs).shape, 7);
    tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), probe)))(inputs);
  });
  expect(tf.memory().numTensors).toBe(before);
}

describe.each(TEST_BACKENDS)("ops part 1 on %s", (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe("rmsNorm", () => {
    it("matches a hand computation: [3, 4] → [3, 4] / sqrt(12.5 + eps) · weight", () => {
      tf.tidy(() => {
        const y = rmsNorm(tf.tensor2d([[3, 4]]), tf.tensor1d([2, -1]), 0.5).dataSync();
        const r = 1 / Math.sqrt(12.5 + 0.5);
        expect(y[0]).toBeCloseTo(3 * r * 2, 6);
        expect(y[1]).toBeCloseTo(4 * r * -1, 6);
      });
    });

    it("equals the reference in value and gradient (x, weight) at rank 3", () => {
      const x = seeded([2, 5, 32], 1, 3);
      const w = tf.add(seeded([32], 2, 0.5), 1);
      expectSameValueAndGrads((a, b) => rmsNorm(a, b, 1e-6), (a, b) => referenceRmsNorm(a, b, 1e-6), [x, w]);
      expectNoLeak((a, b) => rmsNorm(a, b), [x, w]);
      tf.dispose([x, w]);
    });

    it("passes finite differences in x and weight", () => {
      const x = seeded([3, 6], 3, 2);
      const w = tf.add(seeded([6], 4, 0.5), 1);
      const f = (a: tf.Tensor, b: tf.Tensor) => rmsNorm(a, b, 1e-6);
      expectFiniteDifferences(f, [x, w], 0, { maxEntries: 18 });
      expectFiniteDifferences(f, [x, w], 1);
      tf.dispose([x, w]);
    });

    it("is finite at x = 0 thanks to eps, and the gradient there is weight / sqrt(eps)", () => {
      tf.tidy(() => {
        const x = tf.zeros([2, 4]);
        const w = tf.tensor1d([1, 2, 3, 4]);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(rmsNorm(a, b, 1e-4)))([x, w]) as [tf.Tensor, tf.Tensor];
        expect(Array.from(rmsNorm(x, w, 1e-4).dataSync())).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
        expectClose(dx, tf.tile(tf.reshape(tf.div(w, Math.sqrt(1e-4)), [1, 4]), [2, 1]), 1e-5);
        expect(Array.from(dw.dataSync())).toEqual([0, 0, 0, 0]);
      });
    });

    it("rejects a weight that does not match the hidden axis", () => {
      tf.tidy(() => {
        expect(() => rmsNorm(tf.zeros([2, 4]), tf.ones([3]))).toThrow(/weight must be \[4\]/);
      });
    });
  });

  describe("swiglu", () => {
    it("equals silu(gate) · up computed in float64", () => {
      tf.tidy(() => {
        const gate = seeded([4, 8], 5, 4);
        const up = seeded([4, 8], 6, 2);
        const g = gate.dataSync();
        const u = up.dataSync();
        const y = swiglu(gate, up).dataSync();
        for (let i = 0; i < g.length; i++) {
          const z = g[i] as number;
          expect(Math.abs((y[i] as number) - (z / (1 + Math.exp(-z))) * (u[i] as number))).toBeLessThan(1e-5);
        }
      });
    });

    it("equals the reference in value and gradient (gate, up)", () => {
      const gate = seeded([2, 3, 40], 7, 5);
      const up = seeded([2, 3, 40], 8, 2);
      expectSameValueAndGrads(swiglu, referenceSwiglu, [gate, up]);
      expectNoLeak(swiglu, [gate, up]);
      tf.dispose([gate, up]);
    });

    it("passes finite differences in gate and up", () => {
      const gate = seeded([3, 5], 9, 3);
      const up = seeded([3, 5], 10, 2);
      expectFiniteDifferences(swiglu, [gate, up], 0);
      expectFiniteDifferences(swiglu, [gate, up], 1);
      tf.dispose([gate, up]);
    });

    it("has finite gradients for saturated gates", () => {
      tf.tidy(() => {
        const gate = tf.tensor1d([-80, -30, 30, 80]);
        const up = tf.ones([4]);
        const [dg, du] = gradsOf(swiglu, [gate, up]) as [tf.Tensor, tf.Tensor];
        expect(Array.from(dg.dataSync()).every(Number.isFinite)).toBe(true);
        expect(Array.from(du.dataSync()).every(Number.isFinite)).toBe(true);
      });
    });
  });

  describe("rope", () => {
    it("builds HF tables: angle p · θ^(−2i/d), halves repeated, row 0 = (cos 1, sin 0)", () => {
      const t = ropeTables(8, 64, 10_000);
      expect(t.cos.shape).toEqual([64, 8]);
      const cos = t.cos.dataSync();
      const sin = t.sin.dataSync();
      for (let p = 0; p < 64; p++) {
        for (let i = 0; i < 4; i++) {
          const angle = p * 10_000 ** (-(2 * i) / 8);
          for (const j of [i, i + 4]) {
            expect(Math.abs((cos[p * 8 + j] as number) - Math.cos(angle))).toBeLessThan(1e-5);
            expect(Math.abs((sin[p * 8 + j] as number) - Math.sin(angle))).toBeLessThan(1e-5);
          }
        }
      }
      expect(Array.from(cos.slice(0, 8))).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
      tf.tidy(() => {
        // rotate_half(x) = concat(−x₂, x₁), exactly
        const x = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]]);
        expect(Array.from(tf.matMul(x, t.rotateHalf).dataSync())).toEqual([-5, -6, -7, -8, 1, 2, 3, 4]);
      });
      tf.dispose(t);
    });

    it("follows rotate_half: e₀ at position p becomes cos(p·f₀) e₀ + sin(p·f₀) e_{d/2}", () => {
      const t = ropeTables(4, 16);
      tf.tidy(() => {
        const x = tf.tile(tf.tensor4d([1, 0, 0, 0], [1, 1, 1, 4]), [1, 1, 3, 1]);
        const y = applyRope(x, t, tf.tensor2d([[0, 5, 11]], [1, 3], "int32")).dataSync();
        [0, 5, 11].forEach((p, s) => {
          expect(y[s * 4 + 0]).toBeCloseTo(Math.cos(p), 5);
          expect(y[s * 4 + 1]).toBeCloseTo(0, 6);
          expect(y[s * 4 + 2]).toBeCloseTo(Math.sin(p), 5);
          expect(y[s * 4 + 3]).toBeCloseTo(0, 6);
        });
      });
      tf.dispose(t);
    });

    it("equals the reference in value and gradient with packed, per-row position ids", () => {
      const t = ropeTables(16, 32);
      const x = seeded([2, 3, 7, 16], 11, 2);
      const ids = tf.tensor2d(
        [
          [0, 1, 2, 0, 1, 2, 3],
          [0, 1, 2, 3, 4, 5, 6],
        ],
        [2, 7],
        "int32",
      );
      expectSameValueAndGrads((a) => applyRope(a, t, ids), (a) => referenceApplyRope(a, t, ids), [x]);
      expectNoLeak((a) => applyRope(a, t, ids), [x]);
      tf.dispose([x, ids, t]);
    });

    it("passes finite differences in x", () => {
      const t = ropeTables(6, 8, 100);
      const x = seeded([1, 2, 3, 6], 12, 1);
      const ids = tf.tensor2d([[4, 0, 7]], [1, 3], "int32");
      expectFiniteDifferences((a) => applyRope(a, t, ids), [x], 0, { maxEntries: 36 });
      tf.dispose([x, ids, t]);
    });

    it("on packed documents equals RoPE applied to each document on its own", () => {
      const t = ropeTables(8, 16);
      tf.tidy(() => {
        const x = seeded([1, 2, 8, 8], 13, 1);
        const packed = applyRope(x, t, tf.tensor2d([[0, 1, 2, 0, 1, 2, 3, 4]], [1, 8], "int32"));
        const docA = applyRope(tf.slice(x, [0, 0, 0, 0], [1, 2, 3, 8]), t, tf.tensor2d([[0, 1, 2]], [1, 3], "int32"));
        const docB = applyRope(tf.slice(x, [0, 0, 3, 0], [1, 2, 5, 8]), t, tf.tensor2d([[0, 1, 2, 3, 4]], [1, 5], "int32"));
        expectClose(packed, tf.concat([docA, docB], 2), 1e-6);
        // and differs from treating the pack as one document
        expect(maxRelDiff(packed, applyRope(x, t, tf.tensor2d([[0, 1, 2, 3, 4, 5, 6, 7]], [1, 8], "int32")))).toBeGreaterThan(1e-2);
      });
      tf.dispose(t);
    });

    it("preserves norms, and q·k depends only on the relative position", () => {
      const t = ropeTables(16, 64);
      tf.tidy(() => {
        const x = seeded([2, 4, 5, 16], 14, 3);
        const ids = tf.tensor2d(
          [
            [0, 9, 17, 33, 63],
            [1, 2, 3, 4, 5],
          ],
          [2, 5],
          "int32",
        );
        expectClose(tf.norm(applyRope(x, t, ids), "euclidean", -1), tf.norm(x, "euclidean", -1), 1e-5);
        const q = seeded([1, 1, 1, 16], 15);
        const k = seeded([1, 1, 1, 16], 16);
        const dot = (m: number, n: number) => tf.sum(tf.mul(applyRope(q, t, tf.tensor2d([[m]], [1, 1], "int32")), applyRope(k, t, tf.tensor2d([[n]], [1, 1], "int32")))).dataSync()[0] as number;
        expect(dot(12, 5)).toBeCloseTo(dot(7, 0), 4);
        expect(dot(40, 33)).toBeCloseTo(dot(7, 0), 4);
      });
      tf.dispose(t);
    });

    it("broadcasts [1, seq] position ids over the batch", () => {
      const t = ropeTables(8, 16);
      tf.tidy(() => {
        const x = seeded([3, 2, 4, 8], 17);
        const shared = applyRope(x, t, tf.tensor2d([[3, 1, 4, 1]], [1, 4], "int32"));
        const tiled = applyRope(x, t, tf.tensor2d([3, 1, 4, 1, 3, 1, 4, 1, 3, 1, 4, 1], [3, 4], "int32"));
        expectClose(shared, tiled, 1e-7);
      });
      tf.dispose(t);
    });

    it("rejects float position ids and a mismatched head dim", () => {
      const t = ropeTables(8, 16);
      tf.tidy(() => {
        expect(() => applyRope(tf.zeros([1, 1, 2, 8]), t, tf.tensor2d([[0, 1]]))).toThrow(/positionIds must be int32/);
        expect(() => applyRope(tf.zeros([1, 1, 2, 6]), t, tf.tensor2d([[0, 1]], [1, 2], "int32"))).toThrow(/ropeTables\(6/);
      });
      tf.dispose(t);
    });
  });

  describe("embeddingLookup", () => {
    const idsWithDuplicates = () =>
      tf.tensor2d(
        [
          [1, 3, 1, 4],
          [0, 3, 3, 1],
        ],
        [2, 4],
        "int32",
      );

    it("returns the table rows of the ids", () => {
      tf.tidy(() => {
        const table = seeded([6, 5], 18);
        const rows = table.arraySync() as number[][];
        const out = embeddingLookup(table, idsWithDuplicates()).arraySync() as number[][][];
        expect(out[0]?.[2]).toEqual(rows[1]);
        expect(out[1]?.[0]).toEqual(rows[0]);
        expect(out[1]?.[3]).toEqual(rows[1]);
      });
    });

    it("equals the one-hot reference in value and gradient, summing duplicate ids", () => {
      const table = seeded([6, 5], 19);
      const ids = idsWithDuplicates();
      expectSameValueAndGrads((t) => embeddingLookup(t, ids), (t) => referenceEmbeddingLookup(t, ids), [table]);
      expectNoLeak((t) => embeddingLookup(t, ids), [table]);
      tf.tidy(() => {
        const ones = tf.grads((t: tf.Tensor) => tf.sum(embeddingLookup(t, ids)))([table])[0] as tf.Tensor;
        // id 1 appears 3 times, 3 three times, 0 and 4 once, 2 and 5 never
        expect((ones.arraySync() as number[][]).map((row) => row[0])).toEqual([1, 3, 0, 3, 1, 0]);
      });
      tf.dispose([table, ids]);
    });

    it("passes finite differences in the table", () => {
      const table = seeded([6, 3], 20);
      const ids = idsWithDuplicates();
      expectFiniteDifferences((t) => embeddingLookup(t, ids), [table], 0, { maxEntries: 18 });
      tf.dispose([table, ids]);
    });

    it("rejects float ids", () => {
      tf.tidy(() => {
        expect(() => embeddingLookup(tf.zeros([4, 2]), tf.tensor1d([0, 1]))).toThrow(/ids must be int32/);
      });
    });
  });
});

describe("embeddingLookup vs tf.gather's own gradient (cpu: wasm lacks UnsortedSegmentSum)", () => {
  it("agrees", async () => {
    await useBackend("cpu");
    tf.tidy(() => {
      const table = seeded([7, 4], 21);
      const ids = tf.tensor1d([6, 0, 6, 2, 6], "int32");
      const [a] = gradsOf((t) => embeddingLookup(t, ids), [table]);
      const [b] = gradsOf((t) => tf.gather(t, ids), [table]);
      expectClose(a as tf.Tensor, b as tf.Tensor, 1e-6);
    });
  });
});

/**
 * Micro-benchmark, printed and not asserted (timings vary by machine): forward + backward of fused vs reference on wasm
 * at Qwen2.5-0.5B widths (hidden 896, intermediate 4864/2, 14 heads of 64) for 1024 tokens, fastest of 20 interleaved
 * runs after a warm-up (3 for the slow one-hot embedding reference), plus the peak bytes one step allocates above what existed before it (tf.profile).
 * Run with `INFIALIGN_BENCH=1 npx vitest run test/tfjs/ops1.test.ts -t bench`.
 */
describe.runIf(process.env.INFIALIGN_BENCH === "1")("bench: fused vs reference forward+backward on wasm", () => {
  it("prints timings", async () => {
    await useBackend("wasm");
    const tokens = 1024;
    const t = ropeTables(64, 2048);
    const inputs = {
      rmsNorm: [seeded([tokens, 896], 1), tf.ones([896])],
      swiglu: [seeded([tokens, 2432], 2), seeded([tokens, 2432], 3)],
      rope: [seeded([4, 14, 256, 64], 4)],
      embedding: [seeded([2048, 896], 5)],
    };
    const posIds = tf.tensor2d(Int32Array.from({ length: tokens }, (_, i) => i % 192), [4, 256], "int32");
    const ids = tf.tensor2d(Int32Array.from({ length: tokens }, (_, i) => (i * 7919) % 2048), [4, 256], "int32");
    const cases: [string, tf.Tensor[], (...xs: tf.Tensor[]) => tf.Tensor, (...xs: tf.Tensor[]) => tf.Tensor][] = [
      ["rmsNorm [1024, 896]", inputs.rmsNorm, (x, w) => rmsNorm(x, w), (x, w) => referenceRmsNorm(x, w)],
      ["swiglu [1024, 2432]", inputs.swiglu, swiglu, referenceSwiglu],
      ["applyRope [4, 14, 256, 64]", inputs.rope, (x) => applyRope(x, t, posIds), (x) => referenceApplyRope(x, t, posIds)],
      ["embedding 1024 ids of [2048, 896] (reference: one-hot matmul)", inputs.embedding, (x) => embeddingLookup(x, ids), (x) => referenceEmbeddingLookup(x, ids)],
    ];
    const step = (f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]) => () => {
      tf.tidy(() => {
        const gs = tf.grads((...a: tf.Tensor[]) => tf.sum(f(...a)))(xs);
        for (const g of gs) g.dataSync();
      });
    };
    /**
     * Fastest process CPU ms (user + system; wasm runs one thread in Node) of fused and reference, interleaved: CPU time
     * and the minimum, so that other processes on a shared machine skew the comparison less.
     */
    const timePair = async (a: () => void, b: () => void, rounds: number) => {
      a();
      b();
      const ms: [number[], number[]] = [[], []];
      for (let i = 0; i < rounds; i++) {
        [a, b].forEach((run, k) => {
          const start = process.cpuUsage();
          run();
          const used = process.cpuUsage(start);
          ms[k]?.push((used.user + used.system) / 1000);
        });
        await new Promise((resolve) => setImmediate(resolve));
      }
      return ms.map((m) => Math.min(...m));
    };
    for (const [name, xs, fused, reference] of cases) {
      const [fusedMs, refMs] = (await timePair(step(fused, xs), step(reference, xs), name.startsWith("embedding") ? 3 : 20)) as [number, number];
      const base = tf.memory().numBytes;
      const fusedPeak = (await tf.profile(step(fused, xs))).peakBytes - base;
      const refPeak = (await tf.profile(step(reference, xs))).peakBytes - base;
      console.log(`${name}: fused ${fusedMs.toFixed(2)} CPU ms, peak +${(fusedPeak / 2 ** 20).toFixed(1)} MiB | reference ${refMs.toFixed(2)} CPU ms, peak +${(refPeak / 2 ** 20).toFixed(1)} MiB`);
    }
    tf.dispose([Object.values(inputs), posIds, ids, t]);
  }, 600_000);
});
