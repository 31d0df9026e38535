// The built-in losses of the table: TRL DPOTrainer's `loss_type`s (trl/trainer/dpo_trainer.py `_compute_loss`, TRL
// v1.9; v0.19-v0.28 for the cDPO smoothing of `sigmoid` and BCO's running mean), SimPO (Meng et al. 2024; TRL
// `CPOTrainer` loss_type="simpo") and ORPO (Hong et al. 2024; TRL `ORPOTrainer`); their hyperparameters are in
// hyperparameters.ts. Formulas:
// REFERENCE.md §3.2-3.3; r = log πθ − log π_ref, Δ = r_w − r_l, r̄ = r / #tokens. Which TRL version each matches: README
// "Losses".
import * as tf from "@tensorflow/tfjs-core";
import type { DPO_LOSS_TYPES, PreferenceLossDefinition, PreferenceLossInputs, REFERENCE_FREE_LOSS_TYPES } from "./definition.js";
import { BUILTIN_HYPERPARAMETERS } from "./hyperparameters.js";
import { log1mexp, negLogSigmoid, nllMean, smoothedLogistic, sortWithGrad } from "./ops.js";

// Reference log-probs are data, not parameters: gradients are only ever taken with respect to the policy's.
function logRatios(x: PreferenceLossInputs) {
  const rw = tf.sub(x.policyChosenLogps, x.refChosenLogps!);
  const rl = tf.sub(x.policyRejectedLogps, x.refRejectedLogps!);
  return { rw, rl, delta: tf.sub(rw, rl) };
}

const averages = (x: PreferenceLossInputs) => ({ avgW: x.chosenAverageLogps, avgL: x.rejectedAverageLogps });

type Builtin = Omit<PreferenceLossDefinition, "name">;
const dpo = (description: string, reads: string[], compute: Builtin["compute"], extra: Partial<Builtin> = {}): Builtin => ({ description, needsReference: true, reads, compute, ...extra });

/** The built-in losses by name, each as the table holds it (the table adds the names, in the order above). */
export const BUILTIN_LOSSES: Record<(typeof DPO_LOSS_TYPES)[number] | (typeof REFERENCE_FREE_LOSS_TYPES)[number], Builtin> = {
  sigmoid: dpo("DPO −log σ(βΔ), cDPO label smoothing (Rafailov et al. 2023, Eq. 7)", ["beta", "labelSmoothing"], (x, o) => ({ losses: smoothedLogistic(tf.mul(logRatios(x).delta, o.beta), o.labelSmoothing) }), {
    llamaFactory: { prefLoss: "sigmoid", prefBeta: "beta", labelSmoothing: true },
  }),
  hinge: dpo("SLiC hinge max(0, 1 − βΔ) (Zhao et al. 2023)", ["beta"], (x, o) => ({ losses: tf.relu(tf.sub(1, tf.mul(logRatios(x).delta, o.beta))) }), {
    llamaFactory: { prefLoss: "hinge", prefBeta: "beta" },
  }),
  ipo: dpo(
    "IPO (Azar et al. 2023, Eq. 17) on length-averaged log-ratios, as TRL",
    ["beta"],
    (x, o) => {
      const { avgW, avgL } = averages(x);
      const d = tf.sub(tf.sub(avgW, avgL), tf.sub(tf.div(x.refChosenLogps!, x.chosenTokens), tf.div(x.refRejectedLogps!, x.rejectedTokens)));
      return { losses: tf.square(tf.sub(d, 1 / (2 * o.beta))) };
    },
    { llamaFactory: { prefLoss: "ipo", prefBeta: "beta" } },
  ),
  exo_pair: dpo(
    "EXO (Ji et al. 2024, Eq. 16): reverse KL to the ε-smoothed labels; needs labelSmoothing > 0",
    ["beta", "labelSmoothing"],
    (x, o) => {
      const eps = o.labelSmoothing;
      const z = tf.mul(logRatios(x).delta, o.beta);
      // log σ as −softplus(−x): tf.logSigmoid's custom gradient loses its saved input inside tf.tidy.
      const a = tf.mul(tf.sigmoid(z), tf.sub(tf.neg(negLogSigmoid(z)), Math.log1p(-eps)));
      const b = tf.mul(tf.sigmoid(tf.neg(z)), tf.sub(tf.neg(negLogSigmoid(tf.neg(z))), Math.log(eps)));
      return { losses: tf.add(a, b) };
    },
    {
      check: (o) =>
        o.labelSmoothing === 0
          ? [{ option: "labelSmoothing", message: "exo_pair needs ε > 0 (log ε is undefined at 0; TRL raises too); the EXO paper uses 1e-3, so pass labelSmoothing: 1e-3" }]
          : [],
    },
  ),
  nca_pair: dpo("NCA (Chen et al. 2024): absolute rewards, pushing the rejected one down", ["beta"], (x, o) => {
    const { rw, rl } = logRatios(x);
    const cw = tf.mul(rw, o.beta);
    const cl = tf.mul(rl, o.beta);
    return { losses: tf.add(negLogSigmoid(cw), tf.mul(tf.add(negLogSigmoid(tf.neg(cw)), negLogSigmoid(tf.neg(cl))), 0.5)) };
  }),
  robust: dpo("Robust DPO (Chowdhury et al. 2024, Eq. 8): unbiased under label-flip rate ε = labelSmoothing", ["beta", "labelSmoothing"], (x, o) => {
    const eps = o.labelSmoothing;
    const z = tf.mul(logRatios(x).delta, o.beta);
    return { losses: tf.div(tf.sub(tf.mul(negLogSigmoid(z), 1 - eps), tf.mul(negLogSigmoid(tf.neg(z)), eps)), 1 - 2 * eps) };
  }),
  bco_pair: dpo(
    "BCO (Jung et al. 2024) on pairs: rewards shifted by δ (running mean in trainDpo)",
    ["beta"],
    (x, o) => {
      const { rw, rl } = logRatios(x);
      const cw = tf.mul(rw, o.beta);
      const cl = tf.mul(rl, o.beta);
      let delta = o.bcoDelta;
      if (delta === undefined && o.bcoRunningMean) {
        const rewards = tf.concat([cw, cl]).dataSync();
        // TRL v0.19 updates RunningMoments with the batch mean of the (detached) rewards before reading δ.
        let s = 0;
        for (const v of rewards) s += v;
        o.bcoRunningMean.update([s / rewards.length]);
        delta = o.bcoRunningMean.mean;
      }
      const dd = delta ?? 0;
      return { losses: tf.add(negLogSigmoid(tf.sub(cw, dd)), negLogSigmoid(tf.neg(tf.sub(cl, dd)))) };
    },
    { hyperparameters: { bcoDelta: BUILTIN_HYPERPARAMETERS.bcoDelta } },
  ),
  sppo_hard: dpo("SPPO (Wu et al. 2024), hard labels: winner's log-ratio → 1/(2β), loser's → −1/(2β)", ["beta"], (x, o) => {
    const { rw, rl } = logRatios(x);
    return { losses: tf.add(tf.square(tf.sub(rw, 0.5 / o.beta)), tf.square(tf.add(rl, 0.5 / o.beta))) };
  }),
  aot: dpo("AOT (Melnyk et al. 2024): order statistics of policy vs reference log-ratio margins", ["beta", "labelSmoothing"], (x, o) => {
    const d = tf.sub(sortWithGrad(tf.sub(x.policyChosenLogps, x.policyRejectedLogps) as tf.Tensor1D), sortWithGrad(tf.sub(x.refChosenLogps!, x.refRejectedLogps!) as tf.Tensor1D));
    return { losses: smoothedLogistic(tf.mul(d, o.beta), o.labelSmoothing) };
  }),
  aot_unpaired: dpo("AOT, unpaired: order statistics of chosen vs rejected log-ratios (TRL ≤ v0.28: aot_pair)", ["beta", "labelSmoothing"], (x, o) => {
    const { rw, rl } = logRatios(x);
    const d = tf.sub(sortWithGrad(rw as tf.Tensor1D), sortWithGrad(rl as tf.Tensor1D));
    return { losses: smoothedLogistic(tf.mul(d, o.beta), o.labelSmoothing) };
  }),
  apo_zero: dpo("APO-zero (D'Oosterlinck et al. 2024): raise chosen, lower rejected", ["beta"], (x, o) => {
    const { rw, rl } = logRatios(x);
    return { losses: tf.add(tf.sub(1, tf.sigmoid(tf.mul(rw, o.beta))), tf.sigmoid(tf.mul(rl, o.beta))) };
  }),
  apo_down: dpo("APO-down (D'Oosterlinck et al. 2024): lower chosen, lower rejected more", ["beta"], (x, o) => {
    const { rw, delta } = logRatios(x);
    return { losses: tf.add(tf.sigmoid(tf.mul(rw, o.beta)), tf.sub(1, tf.sigmoid(tf.mul(delta, o.beta)))) };
  }),
  discopop: dpo(
    "DiscoPOP (Chris Lu et al. 2024, Eq. 5): log-ratio-modulated logistic/exponential mix",
    ["beta"],
    (x, o) => {
      // (1 − σ(z/τ))·(−log σ(z)) + σ(z/τ)·e^(−z). The exponential term is taken as exp(log σ(z/τ) − z): the literal
      // product overflows e^(−z) to ∞ below z ≈ −88.7 in float32 while σ(z/τ) underflows to 0, giving NaN (TRL's
      // form); 1 − σ(x) is σ(−x) for the same reason.
      const z = tf.mul(logRatios(x).delta, o.beta);
      const zt = tf.div(z, o.discopopTau);
      const expTerm = tf.exp(tf.sub(tf.neg(negLogSigmoid(zt)), z));
      return { losses: tf.add(tf.mul(negLogSigmoid(z), tf.sigmoid(tf.neg(zt))), expTerm) };
    },
    { hyperparameters: { discopopTau: BUILTIN_HYPERPARAMETERS.discopopTau } },
  ),
  sigmoid_norm: dpo("DPO on length-normalised log-ratios", ["beta"], (x, o) => {
    const { avgW, avgL } = averages(x);
    const d = tf.sub(tf.sub(avgW, tf.div(x.refChosenLogps!, x.chosenTokens)), tf.sub(avgL, tf.div(x.refRejectedLogps!, x.rejectedTokens)));
    return { losses: negLogSigmoid(tf.mul(d, o.beta)) };
  }),
  sft: {
    description: "NLL of the chosen completion (an SFT term, e.g. MPO's or CPO's cpo_alpha)",
    needsReference: false,
    reads: ["nllReduction"],
    isNll: true,
    compute: (x, o) => ({ losses: tf.div(x.chosenNll, x.chosenTokens), mean: nllMean(x.chosenNll, x.chosenTokens, o.nllReduction) }),
    llamaFactory: "pref_ftx",
  },
  simpo: {
    description: "SimPO (Meng et al. 2024, Eq. 6): −log σ(β(ℓ_w − ℓ_l) − γ) on average log-probs, reference-free",
    needsReference: false,
    reads: ["labelSmoothing"],
    hyperparameters: { simpoBeta: BUILTIN_HYPERPARAMETERS.simpoBeta, simpoGammaBetaRatio: BUILTIN_HYPERPARAMETERS.simpoGammaBetaRatio },
    rewardScale: "simpoBeta",
    compute: (x, o) => {
      const { avgW, avgL } = averages(x);
      const gamma = o.simpoBeta * o.simpoGammaBetaRatio;
      return { losses: smoothedLogistic(tf.sub(tf.mul(tf.sub(avgW, avgL), o.simpoBeta), gamma), o.labelSmoothing) };
    },
    llamaFactory: { prefLoss: "simpo", prefBeta: "simpoBeta", extra: (o) => ({ simpo_gamma: o.simpoBeta * o.simpoGammaBetaRatio }) },
  },
  orpo: {
    description: "ORPO (Hong et al. 2024, Eq. 6-7): chosen NLL − λ·log σ(log odds ratio), reference-free",
    needsReference: false,
    reads: ["nllReduction"],
    hyperparameters: { orpoLambda: BUILTIN_HYPERPARAMETERS.orpoLambda, orpoNllScope: BUILTIN_HYPERPARAMETERS.orpoNllScope },
    rewardScale: "orpoLambda",
    needsPromptLogps: (o) => o.orpoNllScope === "prompt_and_completion",
    compute: (x, o) => {
      // odds(ℓ) = e^ℓ / (1 − e^ℓ), ℓ = average log-prob; log(1 − e^ℓ) through log1mexp, as TRL's ORPOTrainer, so ℓ near
      // 0 stays finite.
      const { avgW, avgL } = averages(x);
      const logOdds = tf.sub(tf.sub(avgW, avgL), tf.sub(log1mexp(avgW), log1mexp(avgL))) as tf.Tensor1D;
      const ratio = tf.mul(negLogSigmoid(logOdds), o.orpoLambda);
      const promptLp = x.chosenPromptLogps;
      const promptN = x.chosenPromptTokens;
      const nll = promptLp && promptN ? tf.sub(x.chosenNll, promptLp) : x.chosenNll;
      const tokens = promptN ? tf.add(x.chosenTokens, promptN) : x.chosenTokens;
      const nllTerm = nllMean(nll, tokens, o.nllReduction);
      return { losses: tf.add(tf.div(nll, tokens), ratio), mean: tf.add(nllTerm, tf.mean(ratio)) as tf.Scalar, nllLoss: nllTerm, logOdds };
    },
    llamaFactory: { prefLoss: "orpo", prefBeta: "orpoLambda" },
  },
};
