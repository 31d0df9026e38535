import { adamwUpdate } from "@infialign/kernels";
import { selectBackend } from "@infialign/kernels/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { AdamW, defaultDecayPredicate } from "../src/core/optimizer.js";

beforeAll(async () => {
  await selectBackend({ prefer: "cpu" });
});

function vars(init: Record<string, number[]>): Map<string, tf.Variable> {
  return new Map(Object.entries(init).map(([name, values]) => [name, tf.variable(tf.tensor1d(values), true)]));
}

function grads(init: Record<string, number[]>): Map<string, tf.Tensor> {
  return new Map(Object.entries(init).map(([name, values]) => [name, tf.tensor1d(values)]));
}

function values(v: tf.Variable): number[] {
  return Array.from(v.dataSync());
}

/**
 * Float64 AdamW written from Loshchilov & Hutter 2019, Algorithm 2 with explicit m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ) and
 * θ ← θ − lr·λ·θ − lr·m̂/(√v̂+ε): the textbook arrangement, not torch's folded step size the implementation uses.
 */
function reference(theta: number[], gradsPerStep: number[][], lrs: number[], o: { b1: number; b2: number; eps: number; wd: number }): number[] {
  const th = [...theta];
  const m = th.map(() => 0);
  const v = th.map(() => 0);
  gradsPerStep.forEach((g, step) => {
    const t = step + 1;
    const lr = lrs[step]!;
    for (let i = 0; i < th.length; i++) {
      m[i] = o.b1 * m[i]! + (1 - o.b1) * g[i]!;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * g[i]! * g[i]!;
      const mHat = m[i]! / (1 - o.b1 ** t);
      const vHat = v[i]! / (1 - o.b2 ** t);
      th[i] = th[i]! - lr * o.wd * th[i]! - (lr * mHat) / (Math.sqrt(vHat) + o.eps);
    }
  });
  return th;
}

// Five steps of gradients and learning rates shared by the tfjs and host AdamW tests.
const gs = [
  [0.1, -0.4, 1.5],
  [-0.2, 0.3, 0.0],
  [0.05, -0.5, 2.0],
  [1e-3, 0.2, -1.0],
  [0.3, -0.1, 0.4],
];
const lrs = [1e-2, 2e-2, 3e-2, 2e-2, 1e-2];

describe("AdamW", () => {
  it("first step by hand: decoupled decay then lr·g/(|g|+ε)", () => {
    const v = vars({ "layer.weight": [1.0, -2.0] });
    const opt = new AdamW(v, { weightDecay: 0.01 });
    opt.step(grads({ "layer.weight": [0.5, -0.25] }), 0.1);
    // θ1 = θ0(1 − 0.1·0.01) − 0.1·g/(|g| + 1e-8): m̂ = g and √v̂ = |g| at t = 1.
    // 1.0·0.999 − 0.1·0.5/0.50000001 = 0.999 − 0.0999999980 = 0.8990000020
    // −2.0·0.999 + 0.1·0.25/0.25000001 = −1.998 + 0.0999999960 = −1.8980000040
    const got = values(v.get("layer.weight")!);
    expect(got[0]).toBeCloseTo(0.899000002, 6);
    expect(got[1]).toBeCloseTo(-1.898000004, 6);
    expect(opt.stepCount).toBe(1);
  });

  it("matches a float64 hand computation over several steps (β2 = 0.95, changing lr and grads)", () => {
    const o = { b1: 0.9, b2: 0.95, eps: 1e-8, wd: 0.1 };
    const theta = [0.3, -1.2, 2.5];
    const v = vars({ "mlp.up_proj.weight": theta });
    const opt = new AdamW(v, { beta1: o.b1, beta2: o.b2, epsilon: o.eps, weightDecay: o.wd });
    gs.forEach((g, i) => {
      opt.step(grads({ "mlp.up_proj.weight": g }), lrs[i]!);
    });
    const want = reference(theta, gs, lrs, o);
    const got = values(v.get("mlp.up_proj.weight")!);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
  });

  it("second step by hand with a zero gradient: the moments still move the parameter", () => {
    const v = vars({ w: [1.0] });
    const opt = new AdamW(v, { weightDecay: 0 });
    opt.step(grads({ w: [0.5] }), 0.1);
    opt.step(grads({ w: [0] }), 0.1);
    // t=1: θ = 1 − 0.1·0.5/(0.5+1e-8) = 0.900000002
    // t=2: m = 0.9·0.05 = 0.045, v = 0.999·0.00025 = 0.00024975; m̂ = 0.045/0.19 = 0.236842105,
    //      v̂ = 0.00024975/0.001999 = 0.124937469, √v̂ = 0.353465230; step = 0.1·0.236842105/0.353465230 = 0.067005872
    expect(values(v.get("w")!)[0]).toBeCloseTo(0.900000002 - 0.067005872, 6);
  });

  it("leaves parameters without a gradient untouched, including their step count (torch skips grad=None)", () => {
    const v = vars({ a: [1.0], b: [1.0] });
    const opt = new AdamW(v, { weightDecay: 0.5 });
    opt.step(grads({ a: [0.5] }), 0.1);
    expect(values(v.get("b")!)).toEqual([1.0]);
    opt.step(grads({ a: [0.5], b: [0.5] }), 0.1);
    // b's first update is a t=1 update: 1·(1 − 0.05) − 0.1·0.5/(0.5+1e-8)
    expect(values(v.get("b")!)[0]).toBeCloseTo(0.95 - 0.099999998, 6);
    expect(opt.state().paramSteps).toEqual(new Map([["a", 2], ["b", 1]]));
  });

  it("skips weight decay for biases and norm weights as HF get_decay_parameter_names", () => {
    const names = [
      "model.embed_tokens.weight",
      "model.layers.0.self_attn.q_proj.weight",
      "model.layers.0.self_attn.q_proj.bias",
      "model.layers.0.input_layernorm.weight",
      "model.layers.0.post_attention_layernorm.weight",
      "model.layers.0.mlp.down_proj.weight",
      "model.norm.weight",
      "lm_head.weight",
      "encoder.rmsnorm.weight",
      "block.attn_norm.weight",
      "normalizer.weight",
    ];
    const decayed = names.filter(defaultDecayPredicate);
    expect(decayed).toEqual([
      "model.embed_tokens.weight",
      "model.layers.0.self_attn.q_proj.weight",
      "model.layers.0.mlp.down_proj.weight",
      "lm_head.weight",
      "normalizer.weight",
    ]);
    const v = vars({ "model.norm.weight": [1.0], "lm_head.weight": [1.0] });
    const opt = new AdamW(v, { weightDecay: 0.5 });
    opt.step(grads({ "model.norm.weight": [0], "lm_head.weight": [0] }), 0.1);
    // zero gradient: m = v = 0, the Adam term is 0/(0+ε) = 0; only decay acts, on lm_head only.
    expect(values(v.get("model.norm.weight")!)).toEqual([1.0]);
    expect(values(v.get("lm_head.weight")!)[0]).toBeCloseTo(0.95, 7);
    expect(opt.decayedNames()).toEqual(["lm_head.weight"]);
  });

  it("state() / loadState() continue bit-exactly", () => {
    const init = { x: [0.1, 0.2], y: [-0.3] };
    const g1 = { x: [0.4, -0.1], y: [0.2] };
    const g2 = { x: [-0.3, 0.25], y: [0.05] };
    const a = vars(init);
    const optA = new AdamW(a, { beta2: 0.95, weightDecay: 0.1 });
    optA.step(grads(g1), 0.05);
    const b = vars({ x: values(a.get("x")!), y: values(a.get("y")!) });
    const optB = new AdamW(b, { beta2: 0.95, weightDecay: 0.1 });
    optB.loadState(optA.state());
    optA.step(grads(g2), 0.05);
    optB.step(grads(g2), 0.05);
    expect(values(b.get("x")!)).toEqual(values(a.get("x")!));
    expect(values(b.get("y")!)).toEqual(values(a.get("y")!));
    expect(optB.stepCount).toBe(2);
  });

  it("rejects unknown gradient names and invalid options with the field named", () => {
    const opt = new AdamW(vars({ w: [1] }));
    expect(() => opt.step(grads({ nope: [1] }), 0.1)).toThrow(/"nope".*not a parameter/);
    expect(() => new AdamW(vars({ w: [1] }), { beta1: 1, epsilon: -1 })).toThrow(/beta1=1.*epsilon=-1/);
    const other = new AdamW(vars({ z: [1] }));
    expect(() => other.loadState(opt.state())).not.toThrow();
    opt.step(grads({ w: [1] }), 0.1);
    expect(() => other.loadState(opt.state())).toThrow(/"w" is not a parameter/);
  });
});

describe("AdamW.stepHost", () => {
  const o = { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 };
  const host = (g: number[]) => new Map([["w", { shape: [g.length], data: Float32Array.from(g) }]]);

  it("matches the tfjs step path over several steps, and when the two are mixed", () => {
    const a = vars({ w: [0.3, -1.2, 2.5] });
    const b = vars({ w: [0.3, -1.2, 2.5] });
    const c = vars({ w: [0.3, -1.2, 2.5] });
    const optA = new AdamW(a, o);
    const optB = new AdamW(b, o);
    const optC = new AdamW(c, o);
    gs.forEach((g, i) => {
      optA.step(grads({ w: g }), lrs[i]!);
      optB.stepHost(host(g), lrs[i]!);
      // step assigns the variable behind stepHost's host copy: the next stepHost must see it.
      if (i % 2 === 0) optC.stepHost(host(g), lrs[i]!);
      else optC.step(grads({ w: g }), lrs[i]!);
    });
    const want = values(a.get("w")!);
    for (const got of [values(b.get("w")!), values(c.get("w")!)]) {
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-6);
    }
  });

  it("starts from externally assigned weights (data id changed since its own assign)", () => {
    const v = vars({ w: [0.3, -1.2, 2.5] });
    const opt = new AdamW(v, o);
    opt.stepHost(host(gs[0]!), lrs[0]!);
    const assigned = tf.tensor1d([5, -6, 7]);
    v.get("w")!.assign(assigned);
    assigned.dispose();
    opt.stepHost(host(gs[1]!), lrs[1]!);
    // The same two updates by the kernel, with θ replaced by the assigned values in between.
    const theta = Float32Array.from([0.3, -1.2, 2.5]);
    const m = new Float32Array(3);
    const s = new Float32Array(3);
    adamwUpdate(theta, Float32Array.from(gs[0]!), m, s, { lr: lrs[0]!, ...o, step: 1 });
    theta.set([5, -6, 7]);
    adamwUpdate(theta, Float32Array.from(gs[1]!), m, s, { lr: lrs[1]!, ...o, step: 2 });
    expect(values(v.get("w")!)).toEqual(Array.from(theta));
  });

  it("does not change tensors that still hold the previous weights (no aliasing of the host copy)", () => {
    const v = vars({ w: [0.3, -1.2, 2.5] });
    const opt = new AdamW(v, o);
    opt.stepHost(host(gs[0]!), lrs[0]!);
    const before = v.get("w")!.clone();
    const snapshot = Array.from(before.dataSync());
    opt.stepHost(host(gs[1]!), lrs[1]!);
    expect(Array.from(before.dataSync())).toEqual(snapshot);
    expect(values(v.get("w")!)).not.toEqual(snapshot);
    before.dispose();
  });

  it("loadState then stepHost continues from the restored weights bit-exactly", () => {
    const v = vars({ w: [0.3, -1.2, 2.5] });
    const opt = new AdamW(v, o);
    opt.stepHost(host(gs[0]!), lrs[0]!);
    const saved = opt.state();
    const weights = values(v.get("w")!);
    opt.stepHost(host(gs[1]!), lrs[1]!);
    opt.stepHost(host(gs[2]!), lrs[2]!);
    const want = values(v.get("w")!);
    const restored = tf.tensor1d(weights);
    v.get("w")!.assign(restored);
    restored.dispose();
    opt.loadState(saved);
    opt.stepHost(host(gs[1]!), lrs[1]!);
    opt.stepHost(host(gs[2]!), lrs[2]!);
    expect(values(v.get("w")!)).toEqual(want);
    expect(opt.stepCount).toBe(3);
  });
});
