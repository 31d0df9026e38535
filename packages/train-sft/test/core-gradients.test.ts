import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { selectBackend } from "@infialign/kernels/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { clipGradNorm, countItemsInBatch, GradientAccumulator, globalNorm } from "../src/core/gradients.js";

beforeAll(async () => {
  await selectBackend({ prefer: "cpu" });
});

const named = (init: Record<string, number[]>) => new Map(Object.entries(init).map(([k, v]) => [k, tf.tensor1d(v)] as [string, tf.Tensor]));
const read = (g: Map<string, tf.Tensor>) => Object.fromEntries([...g].map(([k, t]) => [k, Array.from(t.dataSync())]));

describe("globalNorm / clipGradNorm (torch clip_grad_norm_)", () => {
  it("total 2-norm over all tensors", () => {
    expect(globalNorm(named({ a: [3], b: [0, 4] }))).toBeCloseTo(5, 6);
    expect(globalNorm(new Map())).toBe(0);
  });

  it("scales by maxNorm/(norm + 1e-6) above the limit and returns the pre-clip norm", () => {
    const { norm, grads, clipped } = clipGradNorm(named({ a: [3], b: [0, 4] }), 1);
    expect(norm).toBeCloseTo(5, 6);
    expect(clipped).toBe(true);
    const g = read(grads);
    expect(g.a![0]).toBeCloseTo(3 / 5.000001, 6);
    expect(g.b![1]).toBeCloseTo(4 / 5.000001, 6);
  });

  it("leaves gradients below the limit as they are (same tensors)", () => {
    const input = named({ a: [0.3, -0.4] });
    const result = clipGradNorm(input, 1);
    expect(result.clipped).toBe(false);
    expect(result.grads).toBe(input);
    expect(result.norm).toBeCloseTo(0.5, 6);
  });

  it("reports a non-finite norm without scaling", () => {
    const nan = clipGradNorm(named({ a: [1, Number.NaN] }), 1);
    expect(Number.isNaN(nan.norm)).toBe(true);
    expect(nan.clipped).toBe(false);
    expect(clipGradNorm(named({ a: [Number.POSITIVE_INFINITY] }), 1).norm).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("GradientAccumulator", () => {
  it("sums with scales and divides on take()", () => {
    const acc = new GradientAccumulator();
    acc.add(named({ w: [1, 2] }));
    acc.add(named({ w: [3, 4] }), 0.5);
    expect(acc.count).toBe(2);
    expect(read(acc.take(2))).toEqual({ w: [1.25, 2] }); // ([1,2] + [1.5,2]) / 2
    expect(acc.count).toBe(0);
    expect(read(acc.take())).toEqual({});
  });

  it("micro-batch token sums / num_items_in_batch equal the big batch's token mean", () => {
    // Toy "tokens": squared errors of a linear model; micro-batches have 1, 3 and 2 loss tokens.
    const w = tf.variable(tf.tensor1d([0.5, -0.25]), true, "acc_w");
    const xs = [[[1, 2]], [[0, 1], [2, -1], [1, 1]], [[3, 0], [-1, 2]]];
    const ys = [[1], [0, 2, -1], [0.5, 1]];
    const sse = (x: number[][], y: number[]) => tf.sum(tf.square(tf.sub(tf.reshape(tf.matMul(tf.tensor2d(x), tf.reshape(w, [2, 1])), [-1]), tf.tensor1d(y))));
    const n = countItemsInBatch(ys, (y) => y.length);
    expect(n).toBe(6);
    const acc = new GradientAccumulator();
    xs.forEach((x, i) => {
      const { grads, value } = tf.variableGrads(() => tf.div(sse(x, ys[i]!), n) as tf.Scalar, [w]);
      value.dispose();
      acc.add(new Map([["w", grads[w.name]!]]));
    });
    const accumulated = read(acc.take()).w!;
    const big = tf.variableGrads(() => tf.div(sse(xs.flat(), ys.flat()), 6) as tf.Scalar, [w]).grads[w.name]!;
    const want = Array.from(big.dataSync());
    // by hand: d/dw mean (x·w − y)² = (2/6) Σ (x·w − y) x
    const rows = xs.flat();
    const targets = ys.flat();
    const hand = [0, 1].map((j) => (2 / 6) * rows.reduce((s, x, i) => s + (x[0]! * 0.5 + x[1]! * -0.25 - targets[i]!) * x[j]!, 0));
    for (let j = 0; j < 2; j++) {
      expect(accumulated[j]).toBeCloseTo(want[j]!, 6);
      expect(accumulated[j]).toBeCloseTo(hand[j]!, 5);
    }
    w.dispose();
  });
});
