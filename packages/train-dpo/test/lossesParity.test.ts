// Numerical parity with TRL at the extremes, and TRL's metric names for reference-free runs. Expected values are
// computed by hand (in float64 plain JS) from the formulas in REFERENCE.md §3.2-3.3 and TRL's trainers.
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { type PreferenceBatch, preferenceLoss, preferenceMetrics, resolvePreferenceLossOptions } from "../src/losses.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sig = (x: number) => 1 / (1 + Math.exp(-x));

/** One pair with β·Δ = z (β = 1, reference log-probs 0, one token each). */
const pairWithMargin = (z: number): PreferenceBatch => ({
  policyChosenLogps: [z / 2],
  policyRejectedLogps: [-z / 2],
  refChosenLogps: [0],
  refRejectedLogps: [0],
  chosenTokens: [1],
  rejectedTokens: [1],
});

describe("discopop (TRL DPOTrainer loss_type='discopop', τ = 0.05)", () => {
  // Hand values: (1 − σ(z/τ))·softplus(−z) + σ(z/τ)·e^(−z).
  const cases: Array<[number, number]> = [
    // z = 0: ½·ln 2 + ½·1
    [0, 0.5 * Math.LN2 + 0.5],
    // z = 1: σ(20) ≈ 1 − 2.06e-9, so ≈ e^−1
    [1, (1 - sig(20)) * softplus(-1) + sig(20) * Math.exp(-1)],
    // z = −1: σ(−20) ≈ 2.06e-9 → ≈ softplus(1) + 2.06e-9·e
    [-1, (1 - sig(-20)) * softplus(1) + sig(-20) * Math.exp(1)],
    // z = −100: e^100 overflows float32 and σ(−2000) = 0 → TRL gives NaN; the value is softplus(100) ≈ 100
    [-100, 100],
    // z = −1000: softplus(1000) = 1000 (the exponential term is e^(−20000 + 1000) = 0)
    [-1000, 1000],
    // z = 100: σ(2000)·e^(−100) ≈ 3.7e-44, the logistic part (1 − σ(2000))·softplus(−100) ≈ 0
    [100, 0],
  ];
  for (const [z, expected] of cases) {
    it(`z = ${z} → ${expected}`, () => {
      const out = preferenceLoss(pairWithMargin(z), { lossType: "discopop", beta: 1 });
      const got = out.loss.dataSync()[0]!;
      expect(Number.isFinite(got)).toBe(true);
      expect(got).toBeCloseTo(expected, 4);
    });
  }

  it("has the logistic gradient −σ(−z) at z = −100 instead of NaN", () => {
    const b = pairWithMargin(-100);
    const g = tf.grad((w: tf.Tensor) => preferenceLoss({ ...b, policyChosenLogps: w as tf.Tensor1D }, { lossType: "discopop", beta: 1 }).loss)(tf.tensor1d([-50]));
    // d/dz softplus(−z) = −σ(−z) = −1 (the σ(z/τ) terms are ~e^−2000).
    expect(g.dataSync()[0]).toBeCloseTo(-1, 5);
  });
});

describe("sigmoid label smoothing (cDPO)", () => {
  it("applies −(1−ε)·log σ(z) − ε·log σ(−z) (TRL ≤ v0.28, LLaMA-Factory) and is plain DPO at ε = 0 (TRL ≥ v0.29)", () => {
    const at = (z: number, eps: number) => preferenceLoss(pairWithMargin(z), { lossType: "sigmoid", beta: 1, labelSmoothing: eps }).loss.dataSync()[0]!;
    expect(at(1, 0.1)).toBeCloseTo(0.9 * softplus(-1) + 0.1 * softplus(1), 5);
    // Extremes: z = ±100 stay finite; 0.9·100 and 0.1·100.
    expect(at(-100, 0.1)).toBeCloseTo(90, 3);
    expect(at(100, 0.1)).toBeCloseTo(10, 3);
    expect(at(-100, 0)).toBeCloseTo(100, 3);
    expect(at(100, 0)).toBeCloseTo(0, 6);
  });
});

describe("exo_pair ε", () => {
  it("refuses ε = 0 as TRL ≥ v0.29 does, instead of substituting 1e-3", () => {
    expect(() => resolvePreferenceLossOptions({ lossType: "exo_pair" })).toThrow(/exo_pair needs ε > 0 .*labelSmoothing: 1e-3/);
    expect(() => preferenceLoss(pairWithMargin(1), { lossType: ["sigmoid", "exo_pair"] })).toThrow(/exo_pair needs ε > 0/);
  });

  it("matches σ(z)(log σ(z) − log(1−ε)) + σ(−z)(log σ(−z) − log ε), including z = ±100", () => {
    const exo = (z: number, e: number) => sig(z) * (-softplus(-z) - Math.log1p(-e)) + sig(-z) * (-softplus(z) - Math.log(e));
    for (const [z, e] of [
      [1, 1e-3],
      [1, 0.1],
      [-100, 1e-3],
      [100, 1e-3],
    ] as const) {
      const got = preferenceLoss(pairWithMargin(z), { lossType: "exo_pair", beta: 1, labelSmoothing: e }).loss.dataSync()[0]!;
      expect(got).toBeCloseTo(exo(z, e), 3);
    }
    // z = −100: the model puts all mass on the rejected answer, KL ≈ −log ε = 6.9078; z = 100: ≈ −log(1 − ε) = 0.0010005.
    expect(exo(-100, 1e-3)).toBeCloseTo(-Math.log(1e-3), 6);
    expect(exo(100, 1e-3)).toBeCloseTo(-Math.log1p(-1e-3), 6);
  });
});

describe("orpo", () => {
  // ℓ_w = −1 (2 tokens, Σ = −2), ℓ_l = −2 (4 tokens, Σ = −8).
  const batch: PreferenceBatch = { policyChosenLogps: [-2], policyRejectedLogps: [-8], chosenTokens: [2], rejectedTokens: [4] };
  const logOdds = -1 - -2 - (Math.log1p(-Math.exp(-1)) - Math.log1p(-Math.exp(-2)));

  it("takes the NLL over prompt + completion when the prompt log-probs are given (TRL ORPOTrainer)", () => {
    // Prompt: 3 scored tokens, Σ log p = −7 → NLL = (2 + 7) / (2 + 3) = 1.8.
    const full = preferenceLoss({ ...batch, chosenPromptLogps: [-7], chosenPromptTokens: [3] }, { lossType: "orpo", orpoLambda: 0.1 });
    expect(full.loss.dataSync()[0]).toBeCloseTo(1.8 + 0.1 * softplus(-logOdds), 5);
    expect(full.nllLoss!.dataSync()[0]).toBeCloseTo(1.8, 5);
    // Completion only (the ORPO paper's Eq. 6 and LLaMA-Factory): NLL = 2 / 2.
    const completion = preferenceLoss(batch, { lossType: "orpo", orpoLambda: 0.1 });
    expect(completion.loss.dataSync()[0]).toBeCloseTo(1 + 0.1 * softplus(-logOdds), 5);
    // Token reduction over the batch: (2 + 7 + 3 + 1) / (2 + 3 + 1 + 1) for two pairs.
    const two: PreferenceBatch = {
      policyChosenLogps: [-2, -3],
      policyRejectedLogps: [-8, -8],
      chosenTokens: [2, 1],
      rejectedTokens: [4, 4],
      chosenPromptLogps: [-7, -1],
      chosenPromptTokens: [3, 1],
    };
    expect(preferenceLoss(two, { lossType: "orpo" }).nllLoss!.dataSync()[0]).toBeCloseTo(13 / 7, 5);
    // sft stays on the completion (TRL DPO `sft`).
    expect(preferenceLoss({ ...batch, chosenPromptLogps: [-7], chosenPromptTokens: [3] }, { lossType: "sft" }).loss.dataSync()[0]).toBeCloseTo(1, 5);
    expect(() => preferenceLoss({ ...batch, chosenPromptLogps: [-7] }, { lossType: "orpo" })).toThrow(/chosenPromptLogps and chosenPromptTokens go together/);
  });

  it("keeps the log odds finite when an average log-prob is near 0 (log1mexp)", () => {
    // ℓ_w = −1e-6: log(1 − e^ℓ) = log(1e-6 − 5e-13) ≈ −13.8155; float32 1 − e^ℓ by subtraction loses most digits.
    const near: PreferenceBatch = { policyChosenLogps: [-2e-6], policyRejectedLogps: [-8], chosenTokens: [2], rejectedTokens: [4] };
    const expected = -1e-6 - -2 - (Math.log(-Math.expm1(-1e-6)) - Math.log1p(-Math.exp(-2)));
    const out = preferenceLoss(near, { lossType: "orpo" });
    expect(out.logOdds!.dataSync()[0]).toBeCloseTo(expected, 3);
    // ℓ_w = −1e-9: e^ℓ rounds to 1 in float32 and log1p(−e^ℓ) = −∞; log(−expm1(ℓ)) = log(1e-9).
    const nearer: PreferenceBatch = { ...near, policyChosenLogps: [-2e-9] };
    const lo = preferenceLoss(nearer, { lossType: "orpo" }).logOdds!.dataSync()[0]!;
    expect(lo).toBeCloseTo(2 - (Math.log(1e-9) - Math.log1p(-Math.exp(-2))), 2);
    const g = tf.grad((w: tf.Tensor) => preferenceLoss({ ...nearer, policyChosenLogps: w as tf.Tensor1D }, { lossType: "orpo" }).loss)(tf.tensor1d([-2e-9]));
    expect(Number.isFinite(g.dataSync()[0]!)).toBe(true);
  });

  it("logs TRL ORPOTrainer's metrics: nll_loss, log_odds_ratio, log_odds_chosen, per-token logps", () => {
    const out = preferenceLoss(batch, { lossType: "orpo", orpoLambda: 0.1 });
    const m = preferenceMetrics(batch, out, undefined, undefined, ["orpo"]);
    expect(m.nll_loss).toBeCloseTo(1, 5);
    expect(m.log_odds_chosen).toBeCloseTo(logOdds, 5);
    expect(m.log_odds_ratio).toBeCloseTo(-softplus(-logOdds), 5);
    expect(m["logps/chosen"]).toBeCloseTo(-1, 6);
    expect(m["logps/rejected"]).toBeCloseTo(-2, 6);
    // rewards = λ·ℓ (TRL ORPO: beta · average log-prob).
    expect(m["rewards/chosen"]).toBeCloseTo(-0.1, 6);
    expect(m["rewards/rejected"]).toBeCloseTo(-0.2, 6);
  });
});

describe("reference-free and DPO metric conventions", () => {
  it("simpo logs per-token logps and nll_loss 0 (TRL CPOTrainer, cpo_alpha = 0), or the sft term's NLL", () => {
    const batch: PreferenceBatch = { policyChosenLogps: [-2, -6], policyRejectedLogps: [-8, -3], chosenTokens: [2, 3], rejectedTokens: [4, 1] };
    const m = preferenceMetrics(batch, preferenceLoss(batch, { lossType: "simpo" }), undefined, undefined, ["simpo"]);
    expect(m["logps/chosen"]).toBeCloseTo((-1 + -2) / 2, 6);
    expect(m["logps/rejected"]).toBeCloseTo((-2 + -3) / 2, 6);
    expect(m.nll_loss).toBe(0);
    expect(m.log_odds_ratio).toBeUndefined();
    const withSft = preferenceMetrics(batch, preferenceLoss(batch, { lossType: ["simpo", "sft"], lossWeights: [1, 0.5] }), undefined, undefined, ["simpo", "sft"]);
    expect(withSft.nll_loss).toBeCloseTo(8 / 5, 5);
  });

  it("DPO keeps token-summed logps, adds entropy and mean_token_accuracy and no nll_loss", () => {
    const batch: PreferenceBatch = { ...pairWithMargin(1), chosenTokens: [2], rejectedTokens: [4] };
    const m = preferenceMetrics(batch, preferenceLoss(batch, { beta: 1 }), { chosen: 0.5, rejected: 0.25 }, { entropy: 2.5, meanTokenAccuracy: 0.75 }, ["sigmoid"]);
    expect(m["logps/chosen"]).toBe(0.5);
    expect(m.entropy).toBe(2.5);
    expect(m.mean_token_accuracy).toBe(0.75);
    expect(m.nll_loss).toBeUndefined();
  });
});
