import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  DPO_LOSS_TYPES,
  needsReference,
  type PreferenceBatch,
  type PreferenceLossOptions,
  type PreferenceLossType,
  preferenceLoss,
  preferenceMetrics,
  RunningMean,
} from "../src/losses.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

// Plain-JS formulas written from REFERENCE.md §3.2-3.3, independent of the tfjs implementation.
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const ls = (x: number) => Math.log(sig(x));

function lossOf(type: PreferenceLossType, batch: PreferenceBatch, out = preferenceLoss(batch, { lossType: type, beta: 0.5 })): number[] {
  return Array.from(out.losses.dataSync());
}

/** One pair: r_w = 1, r_l = −1, Δ = 2; chosen 2 tokens, rejected 4 tokens. */
const one: PreferenceBatch = {
  policyChosenLogps: [-2],
  policyRejectedLogps: [-4],
  refChosenLogps: [-3],
  refRejectedLogps: [-3],
  chosenTokens: [2],
  rejectedTokens: [4],
};

describe("hand-checked literals (one pair, β = 0.5 unless noted)", () => {
  const cases: Array<[PreferenceLossType, PreferenceLossOptions, number]> = [
    // −log σ(1) = log(1 + e^−1)
    ["sigmoid", { beta: 0.5 }, 0.3132616875],
    // 0.9·log(1+e^−1) + 0.1·log(1+e)
    ["sigmoid", { beta: 0.5, labelSmoothing: 0.1 }, 0.4132616875],
    // max(0, 1 − 0.25·2)
    ["hinge", { beta: 0.25 }, 0.5],
    // r̄ margin = (−1 − (−1)) − (−1.5 − (−0.75)) = 0.75; (0.75 − 1/(2·0.5))² = 0.0625
    ["ipo", { beta: 0.5 }, 0.0625],
    // ε = 1e-3 (EXO paper); ε = 0 is refused (lossesParity.test.ts)
    ["exo_pair", { beta: 0.5, labelSmoothing: 1e-3 }, 1.2763098387],
    ["nca_pair", { beta: 0.5 }, 1.1981539684],
    ["robust", { beta: 0.5, labelSmoothing: 0.1 }, 0.1882616875],
    ["bco_pair", { beta: 0.5 }, 0.9481539684],
    ["bco_pair", { beta: 0.5, bcoDelta: 0.2 }, 0.9575412934],
    // (1 − 2)² + (−1 + 2)² with 1/(2β) = 2
    ["sppo_hard", { beta: 0.25 }, 2],
    ["apo_zero", { beta: 0.5 }, 0.7550813376],
    ["apo_down", { beta: 0.5 }, 0.8914007526],
    // σ(1/0.05) ≈ 1, so the exponential branch e^−1 dominates
    ["discopop", { beta: 0.5 }, 0.3678794411],
    // −log σ(0.5·(1/2 − (−1/4)))
    ["sigmoid_norm", { beta: 0.5 }, 0.5231232641],
    // NLL per chosen token = 2/2
    ["sft", {}, 1],
    // ℓ_w = ℓ_l = −1: −log σ(2·0 − 2·0.25)
    ["simpo", { simpoBeta: 2, simpoGammaBetaRatio: 0.25 }, 0.9740769842],
  ];
  for (const [type, opts, expected] of cases) {
    it(`${type} ${JSON.stringify(opts)} = ${expected}`, () => {
      const out = preferenceLoss(one, { lossType: type, ...opts });
      expect(out.losses.dataSync()[0]).toBeCloseTo(expected, 5);
      expect(out.loss.dataSync()[0]).toBeCloseTo(expected, 5);
    });
  }

  it("orpo: ℓ_w = −1, ℓ_l = −2, λ = 0.1 gives 1 + 0.1·softplus(−1.3132617)", () => {
    const batch: PreferenceBatch = { policyChosenLogps: [-2], policyRejectedLogps: [-8], chosenTokens: [2], rejectedTokens: [4] };
    const out = preferenceLoss(batch, { lossType: "orpo", orpoLambda: 0.1 });
    expect(out.losses.dataSync()[0]).toBeCloseTo(1.0238183026, 5);
  });

  it("aot: sorted log-ratio differences [2, −1] vs reference [1, 0] → δ = [1, −1]", () => {
    const batch: PreferenceBatch = {
      policyChosenLogps: [-1, -4],
      policyRejectedLogps: [-3, -3],
      refChosenLogps: [-2, -2],
      refRejectedLogps: [-2, -3],
      chosenTokens: [1, 1],
      rejectedTokens: [1, 1],
    };
    const out = preferenceLoss(batch, { lossType: "aot", beta: 1 });
    expect(out.loss.dataSync()[0]).toBeCloseTo(0.8132616875, 5);
  });

  it("aot_unpaired: chosen log-ratios [1, 3] and rejected [0, −2] sort to δ = [3, 3] → log(1 + e^−3)", () => {
    const batch: PreferenceBatch = {
      policyChosenLogps: [-1, -1],
      policyRejectedLogps: [-2, -4],
      refChosenLogps: [-2, -4],
      refRejectedLogps: [-2, -2],
      chosenTokens: [1, 1],
      rejectedTokens: [1, 1],
    };
    const out = preferenceLoss(batch, { lossType: "aot_unpaired", beta: 1 });
    expect(Array.from(out.losses.dataSync())).toEqual([expect.closeTo(0.0485873516, 6), expect.closeTo(0.0485873516, 6)]);
  });
});

describe("batch values against the formulas", () => {
  const pw = [-10.5, -20.25, -5, -7.75];
  const pl = [-12, -18.5, -9.25, -7.5];
  const rw = [-11, -19, -6.5, -8];
  const rl = [-11.5, -19.25, -8, -7.25];
  const nw = [4, 5, 2, 3];
  const nl = [6, 3, 4, 5];
  const batch: PreferenceBatch = { policyChosenLogps: pw, policyRejectedLogps: pl, refChosenLogps: rw, refRejectedLogps: rl, chosenTokens: nw, rejectedTokens: nl };
  const b = 0.5;
  const r = (i: number) => ({ w: pw[i]! - rw[i]!, l: pl[i]! - rl[i]! });
  const expectations: Record<string, (i: number) => number> = {
    sigmoid: (i) => -ls(b * (r(i).w - r(i).l)),
    hinge: (i) => Math.max(0, 1 - b * (r(i).w - r(i).l)),
    ipo: (i) => (r(i).w / nw[i]! - r(i).l / nl[i]! - 1 / (2 * b)) ** 2,
    nca_pair: (i) => -ls(b * r(i).w) - 0.5 * ls(-b * r(i).w) - 0.5 * ls(-b * r(i).l),
    sppo_hard: (i) => (r(i).w - 1 / (2 * b)) ** 2 + (r(i).l + 1 / (2 * b)) ** 2,
    apo_zero: (i) => 1 - sig(b * r(i).w) + sig(b * r(i).l),
    apo_down: (i) => sig(b * r(i).w) + 1 - sig(b * (r(i).w - r(i).l)),
    discopop: (i) => {
      const z = b * (r(i).w - r(i).l);
      const m = sig(z / 0.05);
      return (1 - m) * -ls(z) + m * Math.exp(-z);
    },
    sigmoid_norm: (i) => -ls(b * (r(i).w / nw[i]! - r(i).l / nl[i]!)),
  };
  for (const [type, f] of Object.entries(expectations)) {
    it(type, () => {
      const got = lossOf(type as PreferenceLossType, batch);
      for (let i = 0; i < pw.length; i++) expect(got[i]).toBeCloseTo(f(i), 4);
    });
  }

  it("aot_unpaired sorts chosen and rejected log-ratios separately", () => {
    const sw = pw.map((_, i) => r(i).w).sort((x, y) => x - y);
    const sl = pw.map((_, i) => r(i).l).sort((x, y) => x - y);
    const expected = sw.map((w, i) => -ls(b * (w - sl[i]!))).reduce((s, x) => s + x, 0) / 4;
    expect(preferenceLoss(batch, { lossType: "aot_unpaired", beta: b }).loss.dataSync()[0]).toBeCloseTo(expected, 4);
  });

  it("sft averages the NLL over tokens (TRL) or over pairs", () => {
    const token = -pw.reduce((s, x) => s + x, 0) / nw.reduce((s, x) => s + x, 0);
    const pair = pw.map((x, i) => -x / nw[i]!).reduce((s, x) => s + x, 0) / 4;
    expect(preferenceLoss(batch, { lossType: "sft" }).loss.dataSync()[0]).toBeCloseTo(token, 4);
    expect(preferenceLoss(batch, { lossType: "sft", nllReduction: "pair" }).loss.dataSync()[0]).toBeCloseTo(pair, 4);
    expect(token).not.toBeCloseTo(pair, 2);
  });

  it("MPO: weighted sum of sigmoid, bco_pair and sft (per pair and batch)", () => {
    const out = preferenceLoss(batch, { lossType: ["sigmoid", "bco_pair", "sft"], lossWeights: [0.8, 0.2, 1], beta: b });
    const per = pw.map((x, i) => 0.8 * expectations.sigmoid!(i) + 0.2 * (-ls(b * r(i).w) - ls(-b * r(i).l)) + (-x / nw[i]!));
    const got = Array.from(out.losses.dataSync());
    for (let i = 0; i < 4; i++) expect(got[i]).toBeCloseTo(per[i]!, 4);
    const sigMean = pw.map((_, i) => expectations.sigmoid!(i)).reduce((s, x) => s + x, 0) / 4;
    const bcoMean = pw.map((_, i) => -ls(b * r(i).w) - ls(-b * r(i).l)).reduce((s, x) => s + x, 0) / 4;
    const sftMean = -pw.reduce((s, x) => s + x, 0) / nw.reduce((s, x) => s + x, 0);
    expect(out.loss.dataSync()[0]).toBeCloseTo(0.8 * sigMean + 0.2 * bcoMean + sftMean, 4);
    expect(out.components.sigmoid!.dataSync()[0]).toBeCloseTo(sigMean, 4);
  });

  it("bco_pair running mean: δ is the mean of all batch reward means seen so far", () => {
    const running = new RunningMean();
    preferenceLoss(batch, { lossType: "bco_pair", beta: b, bcoRunningMean: running });
    const rewards = pw.flatMap((_, i) => [b * r(i).w, b * r(i).l]);
    const m1 = rewards.reduce((s, x) => s + x, 0) / rewards.length;
    expect(running.mean).toBeCloseTo(m1, 5);
    const second = preferenceLoss(batch, { lossType: "bco_pair", beta: b, bcoRunningMean: running });
    expect(running.count).toBe(2);
    const d = m1;
    const expected = pw.map((_, i) => -ls(b * r(i).w - d) - ls(-(b * r(i).l - d)));
    const got = Array.from(second.losses.dataSync());
    for (let i = 0; i < 4; i++) expect(got[i]).toBeCloseTo(expected[i]!, 4);
    expect(RunningMean.fromState(running.state()).mean).toBe(running.mean);
  });

  it("metrics use TRL names and definitions", () => {
    const out = preferenceLoss(batch, { beta: b });
    const m = preferenceMetrics(batch, out, { chosen: 1.5, rejected: -0.5 });
    const cw = pw.map((_, i) => b * r(i).w);
    const cl = pw.map((_, i) => b * r(i).l);
    const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(m["rewards/chosen"]).toBeCloseTo(avg(cw), 5);
    expect(m["rewards/rejected"]).toBeCloseTo(avg(cl), 5);
    expect(m["rewards/margins"]).toBeCloseTo(avg(cw) - avg(cl), 5);
    expect(m["rewards/accuracies"]).toBe(cw.filter((x, i) => x > cl[i]!).length / 4);
    expect(m["logps/chosen"]).toBeCloseTo(avg(pw), 5);
    expect(m["logps/rejected"]).toBeCloseTo(avg(pl), 5);
    expect(m["logits/chosen"]).toBe(1.5);
    expect(m.loss).toBeCloseTo(avg(pw.map((_, i) => expectations.sigmoid!(i))), 5);
  });
});

describe("gradients", () => {
  const base = { refChosenLogps: [-3, -6], refRejectedLogps: [-3, -5], chosenTokens: [2, 3], rejectedTokens: [4, 3] };

  it("every loss has finite gradients; sigmoid and simpo push chosen up and rejected down", () => {
    for (const type of [...DPO_LOSS_TYPES, "simpo", "orpo"] as PreferenceLossType[]) {
      // sft does not read the rejected log-probs; the zero term keeps both inputs on the tape.
      const g = tf.grads((w: tf.Tensor, l: tf.Tensor) =>
        tf.add(
          preferenceLoss({ ...base, policyChosenLogps: w as tf.Tensor1D, policyRejectedLogps: l as tf.Tensor1D }, { lossType: type, beta: 0.5, ...(type === "exo_pair" ? { labelSmoothing: 1e-3 } : {}) }).loss,
          tf.mul(tf.sum(l), 0),
        ),
      )([tf.tensor1d([-2, -5]), tf.tensor1d([-4, -7])]);
      const gw = Array.from(g[0]!.dataSync());
      const gl = Array.from(g[1]!.dataSync());
      for (const v of [...gw, ...gl]) expect(Number.isFinite(v), `${type} gradient ${v}`).toBe(true);
      if (type === "sigmoid" || type === "simpo" || type === "robust") {
        for (const v of gw) expect(v, type).toBeLessThan(0);
        for (const v of gl) expect(v, type).toBeGreaterThan(0);
      }
    }
  });

  it("sigmoid gradient matches the closed form −β·σ(−βΔ)/n and finite differences for discopop", () => {
    const b = 0.5;
    const f = (w: tf.Tensor) =>
      preferenceLoss({ ...base, policyChosenLogps: w as tf.Tensor1D, policyRejectedLogps: [-4, -7] }, { lossType: "sigmoid", beta: b }).loss;
    const g = Array.from(tf.grad(f)(tf.tensor1d([-2, -5])).dataSync());
    const deltas = [-2 - -3 - (-4 - -3), -5 - -6 - (-7 - -5)];
    for (const [i, d] of deltas.entries()) expect(g[i]).toBeCloseTo((-b * sig(-b * d)) / 2, 5);

    const disco = (w: number[]) =>
      preferenceLoss({ ...base, policyChosenLogps: w, policyRejectedLogps: [-4, -7] }, { lossType: "discopop", beta: b }).loss.dataSync()[0]!;
    const gd = tf.grad((w: tf.Tensor) => preferenceLoss({ ...base, policyChosenLogps: w as tf.Tensor1D, policyRejectedLogps: [-4, -7] }, { lossType: "discopop", beta: b }).loss)(
      tf.tensor1d([-2, -5]),
    );
    const h = 1e-2;
    const fd = (disco([-2 + h, -5]) - disco([-2 - h, -5])) / (2 * h);
    expect(gd.dataSync()[0]).toBeCloseTo(fd, 3);
  });
});

describe("memory", () => {
  it("leaves only the returned tensors alive, for every loss", () => {
    const before = tf.memory().numTensors;
    for (const type of [...DPO_LOSS_TYPES, "simpo", "orpo"] as PreferenceLossType[]) {
      const out = preferenceLoss({ ...one, policyChosenLogps: Float64Array.of(-2), chosenNll: [2] }, { lossType: type, ...(type === "exo_pair" ? { labelSmoothing: 1e-3 } : {}) });
      tf.dispose(out as unknown as tf.TensorContainer);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("validation", () => {
  it("reports every invalid option at once", () => {
    expect(() => preferenceLoss(one, { lossType: ["sigmoid", "nope" as PreferenceLossType], lossWeights: [1], beta: -1 })).toThrow(
      /unknown "nope"[\s\S]*lossWeights: 1 weights for 2 losses[\s\S]*beta: must be > 0/,
    );
  });
  it("names the missing reference log-probs", () => {
    expect(() => preferenceLoss({ policyChosenLogps: [-1], policyRejectedLogps: [-2], chosenTokens: [1], rejectedTokens: [1] }, { lossType: "ipo" })).toThrow(
      /refChosenLogps and refRejectedLogps are required by loss type\(s\) ipo/,
    );
    expect(needsReference(["simpo", "orpo", "sft"])).toBe(false);
    expect(needsReference(["simpo", "sigmoid"])).toBe(true);
  });
  it("checks lengths", () => {
    expect(() => preferenceLoss({ ...one, rejectedTokens: [1, 2] })).toThrow(/rejectedTokens has 2 entries, expected 1/);
  });
});
