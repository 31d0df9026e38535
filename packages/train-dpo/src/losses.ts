// The DPO loss family over per-pair sequence log-probs, with TRL's `loss_type` names and metric names
// (trl/trainer/dpo_trainer.py `_compute_loss`, TRL v1.9; v0.19-v0.28 for the cDPO smoothing of `sigmoid` and BCO's
// running mean), plus the reference-free SimPO (Meng et al. 2024; TRL `CPOTrainer` loss_type="simpo") and ORPO
// (Hong et al. 2024; TRL `ORPOTrainer`). Which TRL version each loss matches: README "Losses".
import * as tf from "@tensorflow/tfjs-core";

/** TRL DPOTrainer `loss_type` values (REFERENCE §3.2). `aot_unpaired` was `aot_pair` in TRL v0.19. */
export const DPO_LOSS_TYPES = [
  "sigmoid",
  "hinge",
  "ipo",
  "exo_pair",
  "nca_pair",
  "robust",
  "bco_pair",
  "sppo_hard",
  "aot",
  "aot_unpaired",
  "apo_zero",
  "apo_down",
  "discopop",
  "sigmoid_norm",
  "sft",
] as const;
export type DpoLossType = (typeof DPO_LOSS_TYPES)[number];

/** Reference-free objectives: SimPO (Meng et al. 2024, Eq. 6) and ORPO (Hong et al. 2024, Eq. 6). */
export const REFERENCE_FREE_LOSS_TYPES = ["simpo", "orpo"] as const;
export type PreferenceLossType = DpoLossType | (typeof REFERENCE_FREE_LOSS_TYPES)[number];

/** Losses that never read the reference log-probs (so no reference pass or cache is needed). */
export function needsReference(lossTypes: readonly PreferenceLossType[]): boolean {
  return lossTypes.some((t) => t !== "sft" && t !== "simpo" && t !== "orpo");
}

type Vector = tf.Tensor1D | readonly number[] | Float32Array | Float64Array;

/** One batch of preference pairs, one entry per pair. Log-probs are summed over completion tokens only. */
export interface PreferenceBatch {
  /** Σ log πθ(y_w|x) over the chosen completion's tokens. Gradients flow through this and `policyRejectedLogps`. */
  policyChosenLogps: Vector;
  /** Σ log πθ(y_l|x) over the rejected completion's tokens. */
  policyRejectedLogps: Vector;
  /** Σ log π_ref(y_w|x); required unless every loss is reference-free (`sft`, `simpo`, `orpo`). Treated as constant. */
  refChosenLogps?: Vector;
  /** Σ log π_ref(y_l|x). */
  refRejectedLogps?: Vector;
  /** Completion token counts of the chosen responses (for `ipo`, `sigmoid_norm`, `simpo`, `orpo`, `sft`). */
  chosenTokens: Vector;
  /** Completion token counts of the rejected responses. */
  rejectedTokens: Vector;
  /**
   * Token-summed negative log-likelihood of the chosen completion for `sft` and ORPO's NLL term. Defaults to
   * `−policyChosenLogps` (the same tokens); pass it when the NLL is taken over other tokens.
   */
  chosenNll?: Vector;
  /**
   * Σ log πθ over the chosen row's prompt tokens (every prompt token after the first, as a causal LM scores them).
   * When given, ORPO's NLL term covers prompt + chosen completion, as TRL's `ORPOTrainer` and the ORPO authors' code
   * compute it: (chosenNll + (−chosenPromptLogps)) / (chosenTokens + chosenPromptTokens). `sft` never reads it (TRL's
   * DPO `sft` term is over the completion only). Constant here or differentiable, as the caller chooses.
   */
  chosenPromptLogps?: Vector;
  /** Prompt tokens scored in `chosenPromptLogps`, per pair. Required with it. */
  chosenPromptTokens?: Vector;
}

/** Options of {@link preferenceLoss}; see {@link resolvePreferenceLossOptions} for the defaults. */
export interface PreferenceLossOptions {
  /** One loss or several combined with `lossWeights` (MPO, TRL `loss_type` list). @default ["sigmoid"] */
  lossType?: PreferenceLossType | readonly PreferenceLossType[];
  /** Weight of each entry of `lossType` (TRL `loss_weights`). @default all 1 */
  lossWeights?: readonly number[];
  /** β of the DPO family: temperature of the implicit reward β·log(πθ/π_ref); IPO's τ. @default 0.1 */
  beta?: number;
  /**
   * ε: label smoothing of `sigmoid` (cDPO, Mitchell 2023, as TRL ≤ v0.28 and LLaMA-Factory `dpo_label_smoothing`;
   * TRL ≥ v0.29 ignores ε for `sigmoid`, which is ε = 0 here), `aot`, `aot_unpaired`, SimPO (TRL CPO); noise rate of
   * `robust` (Chowdhury et al. 2024, in [0, 0.5)); `exo_pair`'s ε (Ji et al. 2024), which must then be > 0 (TRL ≥
   * v0.29 raises too; the EXO paper uses 1e-3, which TRL ≤ v0.28 substituted for 0 silently).
   * @default 0
   */
  labelSmoothing?: number;
  /** τ of DiscoPOP's log-ratio modulation (Chris Lu et al. 2024). @default 0.05 */
  discopopTau?: number;
  /**
   * δ subtracted from the rewards in `bco_pair` (TRL v0.19: running mean of all rewards seen so far). Overrides
   * `bcoRunningMean`. @default 0 (TRL HEAD form) unless `bcoRunningMean` is given
   */
  bcoDelta?: number;
  /**
   * Running mean of the rewards kept by the caller across steps (save `state()` in checkpoints): each call adds the
   * batch's mean reward first, then uses the running mean as δ, as TRL v0.19 `RunningMoments` does. Updated once per
   * `preferenceLoss` call, so call it once per micro-batch.
   */
  bcoRunningMean?: RunningMean;
  /** SimPO β (scales the length-normalised log-prob margin). @default 2.0 (princeton-nlp/SimPO simpo_config.py) */
  simpoBeta?: number;
  /** SimPO γ/β: the target margin is γ = simpoBeta · ratio. @default 0.25 */
  simpoGammaBetaRatio?: number;
  /** ORPO λ weighting the odds-ratio term against the chosen NLL (TRL ORPO `beta`). @default 0.1 */
  orpoLambda?: number;
  /**
   * How NLL terms (`sft`, ORPO) are averaged: `"token"` = Σ NLL / Σ chosen tokens over the batch (TRL's
   * cross-entropy with mean reduction); `"pair"` = mean over pairs of each pair's per-token NLL.
   * @default "token"
   */
  nllReduction?: "token" | "pair";
}

export interface ResolvedPreferenceLossOptions {
  lossTypes: PreferenceLossType[];
  lossWeights: number[];
  beta: number;
  labelSmoothing: number;
  discopopTau: number;
  bcoDelta: number | undefined;
  bcoRunningMean: RunningMean | undefined;
  simpoBeta: number;
  simpoGammaBetaRatio: number;
  orpoLambda: number;
  nllReduction: "token" | "pair";
}

export const DEFAULT_PREFERENCE_LOSS_OPTIONS = {
  lossType: ["sigmoid"],
  beta: 0.1,
  labelSmoothing: 0,
  discopopTau: 0.05,
  simpoBeta: 2.0,
  simpoGammaBetaRatio: 0.25,
  orpoLambda: 0.1,
  nllReduction: "token",
} as const satisfies PreferenceLossOptions;

const ALL_TYPES: readonly string[] = [...DPO_LOSS_TYPES, ...REFERENCE_FREE_LOSS_TYPES];

/** Applies the defaults once and checks every option, reporting all problems in one error. */
export function resolvePreferenceLossOptions(options: PreferenceLossOptions = {}): ResolvedPreferenceLossOptions {
  const d = DEFAULT_PREFERENCE_LOSS_OPTIONS;
  const raw = options.lossType ?? d.lossType;
  const lossTypes = [...(typeof raw === "string" ? [raw] : raw)] as PreferenceLossType[];
  const lossWeights = [...(options.lossWeights ?? lossTypes.map(() => 1))];
  const r: ResolvedPreferenceLossOptions = {
    lossTypes,
    lossWeights,
    beta: options.beta ?? d.beta,
    labelSmoothing: options.labelSmoothing ?? d.labelSmoothing,
    discopopTau: options.discopopTau ?? d.discopopTau,
    bcoDelta: options.bcoDelta,
    bcoRunningMean: options.bcoRunningMean,
    simpoBeta: options.simpoBeta ?? d.simpoBeta,
    simpoGammaBetaRatio: options.simpoGammaBetaRatio ?? d.simpoGammaBetaRatio,
    orpoLambda: options.orpoLambda ?? d.orpoLambda,
    nllReduction: options.nllReduction ?? d.nllReduction,
  };
  const problems: string[] = [];
  if (lossTypes.length === 0) problems.push("lossType: empty list (give at least one loss)");
  for (const t of lossTypes) if (!ALL_TYPES.includes(t)) problems.push(`lossType: unknown "${t}" (expected one of ${ALL_TYPES.join(", ")})`);
  if (new Set(lossTypes).size !== lossTypes.length) problems.push(`lossType: repeated entries in [${lossTypes.join(", ")}]`);
  if (lossWeights.length !== lossTypes.length) problems.push(`lossWeights: ${lossWeights.length} weights for ${lossTypes.length} losses (give one per lossType entry)`);
  if (lossWeights.some((w) => !Number.isFinite(w))) problems.push("lossWeights: every weight must be a finite number");
  if (!(r.beta > 0)) problems.push(`beta: must be > 0, got ${r.beta}`);
  if (!(r.simpoBeta > 0)) problems.push(`simpoBeta: must be > 0, got ${r.simpoBeta}`);
  if (!(r.orpoLambda >= 0)) problems.push(`orpoLambda: must be >= 0, got ${r.orpoLambda}`);
  if (!(r.discopopTau > 0)) problems.push(`discopopTau: must be > 0, got ${r.discopopTau}`);
  if (!(r.labelSmoothing >= 0 && r.labelSmoothing < 1)) problems.push(`labelSmoothing: must be in [0, 1), got ${r.labelSmoothing}`);
  if (lossTypes.includes("robust") && !(r.labelSmoothing < 0.5)) problems.push(`labelSmoothing: robust needs ε in [0, 0.5), got ${r.labelSmoothing}`);
  if (lossTypes.includes("exo_pair") && r.labelSmoothing === 0) problems.push("labelSmoothing: exo_pair needs ε > 0 (log ε is undefined at 0); the EXO paper uses 1e-3, so pass labelSmoothing: 1e-3");
  if (r.bcoDelta !== undefined && !Number.isFinite(r.bcoDelta)) problems.push(`bcoDelta: must be finite, got ${r.bcoDelta}`);
  if (r.nllReduction !== "token" && r.nllReduction !== "pair") problems.push(`nllReduction: expected "token" or "pair", got "${r.nllReduction}"`);
  if (problems.length > 0) throw new RangeError(`[infialign/train-dpo] losses: invalid options:\n  - ${problems.join("\n  - ")}`);
  return r;
}

/** Running mean of scalars across batches (TRL v0.19 `RunningMoments`, mean part), for `bco_pair`'s δ. */
export class RunningMean {
  constructor(
    private sum = 0,
    private n = 0,
  ) {}
  update(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) this.sum += values[i]!;
    this.n += values.length;
  }
  get mean(): number {
    return this.n === 0 ? 0 : this.sum / this.n;
  }
  get count(): number {
    return this.n;
  }
  /** Plain state for checkpoints; restore with `RunningMean.fromState`. */
  state(): { sum: number; count: number } {
    return { sum: this.sum, count: this.n };
  }
  static fromState(s: { sum: number; count: number }): RunningMean {
    return new RunningMean(s.sum, s.count);
  }
}

export interface PreferenceLossResult {
  /**
   * Per-pair loss, Σ_k weight_k · loss_k (shape `[pairs]`). `aot` and `aot_unpaired` are defined on order statistics
   * of the batch, so their terms follow sorted order rather than pair order (their mean is what matters).
   */
  losses: tf.Tensor1D;
  /** The scalar to minimise: Σ_k weight_k · mean_k (NLL terms reduced per `nllReduction`). */
  loss: tf.Scalar;
  /** Unweighted batch loss of each component, by loss type. */
  components: Partial<Record<PreferenceLossType, tf.Scalar>>;
  /** Implicit rewards of the chosen responses, for metrics: β·(log πθ − log π_ref), or the reference-free analogue. */
  chosenRewards: tf.Tensor1D;
  /** Implicit rewards of the rejected responses, for metrics. */
  rejectedRewards: tf.Tensor1D;
  /**
   * The chosen-NLL term of the objective, unweighted and reduced per `nllReduction` (ORPO's when the run has `orpo`,
   * else `sft`'s); absent when no loss has one. TRL's ORPO/CPO `nll_loss`.
   */
  nllLoss?: tf.Scalar;
  /** ORPO's per-pair log odds ratio log(odds(ℓ_w) / odds(ℓ_l)) (TRL ORPO logs its mean as `log_odds_chosen`). */
  logOdds?: tf.Tensor1D;
}

function toTensor(v: Vector, name: string, n: number | undefined): tf.Tensor1D {
  const t = v instanceof tf.Tensor ? (v as tf.Tensor1D) : tf.tensor1d(Array.from(v as ArrayLike<number>), "float32");
  if (t.rank !== 1) throw new RangeError(`[infialign/train-dpo] losses: ${name} must be 1-D (one value per pair), got shape [${t.shape.join(", ")}]`);
  if (n !== undefined && t.shape[0] !== n) throw new RangeError(`[infialign/train-dpo] losses: ${name} has ${t.shape[0]} entries, expected ${n} (one per pair)`);
  return t.dtype === "float32" ? t : (tf.cast(t, "float32") as tf.Tensor1D);
}

/** −log σ(x), stable for large |x| (softplus(−x)). */
const negLogSigmoid = (x: tf.Tensor): tf.Tensor => tf.softplus(tf.neg(x));

const LN2 = Math.LN2;

/**
 * log(1 − eˣ) for x ≤ 0 without cancellation (Mächler 2012): log(−expm1(x)) above −ln 2, log1p(−eˣ) below. Each
 * branch sees its input clamped to its own side of −ln 2, where both equal −ln 2, so their sum + ln 2 is the branch
 * that applies; unlike tf.where (no gradient for the condition in tfjs) the unused branch stays finite.
 */
function log1mexp(x: tf.Tensor): tf.Tensor {
  const far = tf.log1p(tf.neg(tf.exp(tf.minimum(x, -LN2))));
  const near = tf.log(tf.neg(tf.expm1(tf.maximum(x, -LN2))));
  return tf.add(tf.add(far, near), LN2);
}

/** −(1−ε)·log σ(x) − ε·log σ(−x): the cDPO-smoothed logistic loss. */
function smoothedLogistic(x: tf.Tensor, eps: number): tf.Tensor {
  const main = negLogSigmoid(x);
  return eps === 0 ? main : tf.add(tf.mul(main, 1 - eps), tf.mul(negLogSigmoid(tf.neg(x)), eps));
}

/**
 * Sorts `x` along the batch (descending) with a gradient through `gather`. The permutation is computed on the host:
 * indices derived from `x` by an op would sit on the gradient tape, and tfjs has no gradient for integer inputs.
 */
function sortWithGrad(x: tf.Tensor1D): tf.Tensor1D {
  const values = x.dataSync();
  const order = Array.from(values.keys()).sort((a, b) => values[b]! - values[a]! || a - b);
  return tf.gather(x, tf.tensor1d(order, "int32")) as tf.Tensor1D;
}

/**
 * Per-pair losses of the chosen loss types, their weighted combination and the implicit rewards. Differentiable in
 * the policy log-probs (call it inside `tf.grad`/`tf.variableGrads`); reference log-probs are constants. The returned
 * tensors belong to the caller (`tf.dispose(result)`); intermediates are freed.
 * Formulas: REFERENCE.md §3.2-3.3; r_w = log πθ(y_w|x) − log π_ref(y_w|x), Δ = r_w − r_l, r̄ = r / #tokens.
 */
export function preferenceLoss(batch: PreferenceBatch, options: PreferenceLossOptions | ResolvedPreferenceLossOptions = {}): PreferenceLossResult {
  const o = "lossTypes" in options ? options : resolvePreferenceLossOptions(options);
  const refNeeded = needsReference(o.lossTypes);
  if (refNeeded && (batch.refChosenLogps === undefined || batch.refRejectedLogps === undefined)) {
    const which = o.lossTypes.filter((t) => t !== "sft" && t !== "simpo" && t !== "orpo").join(", ");
    throw new RangeError(
      `[infialign/train-dpo] losses: refChosenLogps and refRejectedLogps are required by loss type(s) ${which}; compute them with RefLogpCache or use a reference-free loss (simpo, orpo)`,
    );
  }
  return tf.tidy(() => {
    const pw = toTensor(batch.policyChosenLogps, "policyChosenLogps", undefined);
    const n = pw.shape[0];
    if (n === 0) throw new RangeError("[infialign/train-dpo] losses: empty batch (0 pairs)");
    const pl = toTensor(batch.policyRejectedLogps, "policyRejectedLogps", n);
    const nw = toTensor(batch.chosenTokens, "chosenTokens", n);
    const nl = toTensor(batch.rejectedTokens, "rejectedTokens", n);
    const nll = batch.chosenNll === undefined ? tf.neg(pw) : toTensor(batch.chosenNll, "chosenNll", n);
    if ((batch.chosenPromptLogps === undefined) !== (batch.chosenPromptTokens === undefined)) {
      throw new RangeError("[infialign/train-dpo] losses: chosenPromptLogps and chosenPromptTokens go together; pass both (ORPO NLL over prompt + completion) or neither");
    }
    const promptLp = batch.chosenPromptLogps === undefined ? undefined : toTensor(batch.chosenPromptLogps, "chosenPromptLogps", n);
    const promptN = batch.chosenPromptTokens === undefined ? undefined : toTensor(batch.chosenPromptTokens, "chosenPromptTokens", n);
    const rw0 = batch.refChosenLogps === undefined ? undefined : toTensor(batch.refChosenLogps, "refChosenLogps", n);
    const rl0 = batch.refRejectedLogps === undefined ? undefined : toTensor(batch.refRejectedLogps, "refRejectedLogps", n);
    const { beta, labelSmoothing: eps } = o;

    // Reference log-probs are data, not parameters: gradients are only ever taken with respect to the policy's.
    const refOf = () => ({ refW: rw0!, refL: rl0! });
    const logratios = () => {
      const { refW, refL } = refOf();
      const rw = tf.sub(pw, refW);
      const rl = tf.sub(pl, refL);
      return { rw, rl, delta: tf.sub(rw, rl) };
    };
    const avgW = tf.div(pw, nw);
    const avgL = tf.div(pl, nl);

    const perPair: tf.Tensor[] = [];
    const means: tf.Scalar[] = [];
    const components: Partial<Record<PreferenceLossType, tf.Scalar>> = {};
    let nllLoss: tf.Scalar | undefined;
    let logOddsOut: tf.Tensor1D | undefined;
    for (const type of o.lossTypes) {
      let losses: tf.Tensor;
      let mean: tf.Scalar | undefined;
      switch (type) {
        case "sigmoid":
          losses = smoothedLogistic(tf.mul(logratios().delta, beta), eps);
          break;
        case "hinge":
          losses = tf.relu(tf.sub(1, tf.mul(logratios().delta, beta)));
          break;
        case "ipo": {
          // IPO (Azar et al. 2023, Eq. 17) on length-averaged log-ratios, as TRL averages log-probs for ipo.
          const { refW, refL } = refOf();
          const d = tf.sub(tf.sub(avgW, avgL), tf.sub(tf.div(refW, nw), tf.div(refL, nl)));
          losses = tf.square(tf.sub(d, 1 / (2 * beta)));
          break;
        }
        case "exo_pair": {
          // EXO (Ji et al. 2024, Eq. 16): reverse KL between the model's and the smoothed label distribution over the
          // pair; ε > 0 is checked in resolvePreferenceLossOptions.
          const z = tf.mul(logratios().delta, beta);
          // log σ as −softplus(−x): tf.logSigmoid's custom gradient loses its saved input inside tf.tidy.
          const a = tf.mul(tf.sigmoid(z), tf.sub(tf.neg(negLogSigmoid(z)), Math.log1p(-eps)));
          const b = tf.mul(tf.sigmoid(tf.neg(z)), tf.sub(tf.neg(negLogSigmoid(tf.neg(z))), Math.log(eps)));
          losses = tf.add(a, b);
          break;
        }
        case "nca_pair": {
          // NCA (Chen et al. 2024): absolute rewards, pushing the rejected one down.
          const { rw, rl } = logratios();
          const cw = tf.mul(rw, beta);
          const cl = tf.mul(rl, beta);
          losses = tf.add(negLogSigmoid(cw), tf.mul(tf.add(negLogSigmoid(tf.neg(cw)), negLogSigmoid(tf.neg(cl))), 0.5));
          break;
        }
        case "robust": {
          // Robust DPO (Chowdhury et al. 2024, Eq. 8): unbiased under label-flip rate ε.
          const z = tf.mul(logratios().delta, beta);
          losses = tf.div(tf.sub(tf.mul(negLogSigmoid(z), 1 - eps), tf.mul(negLogSigmoid(tf.neg(z)), eps)), 1 - 2 * eps);
          break;
        }
        case "bco_pair": {
          const { rw, rl } = logratios();
          const cw = tf.mul(rw, beta);
          const cl = tf.mul(rl, beta);
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
          losses = tf.add(negLogSigmoid(tf.sub(cw, dd)), negLogSigmoid(tf.neg(tf.sub(cl, dd))));
          break;
        }
        case "sppo_hard": {
          // SPPO (Wu et al. 2024) with hard labels: winner's log-ratio → 1/(2β), loser's → −1/(2β).
          const { rw, rl } = logratios();
          losses = tf.add(tf.square(tf.sub(rw, 0.5 / beta)), tf.square(tf.add(rl, 0.5 / beta)));
          break;
        }
        case "aot": {
          // AOT (Melnyk et al. 2024): match order statistics of the policy and reference log-ratio distributions.
          const { refW, refL } = refOf();
          const d = tf.sub(sortWithGrad(tf.sub(pw, pl) as tf.Tensor1D), sortWithGrad(tf.sub(refW, refL) as tf.Tensor1D));
          losses = smoothedLogistic(tf.mul(d, beta), eps);
          break;
        }
        case "aot_unpaired": {
          const { rw, rl } = logratios();
          const d = tf.sub(sortWithGrad(rw as tf.Tensor1D), sortWithGrad(rl as tf.Tensor1D));
          losses = smoothedLogistic(tf.mul(d, beta), eps);
          break;
        }
        case "apo_zero": {
          // APO (D'Oosterlinck et al. 2024): chosen better than the model → raise chosen, lower rejected.
          const { rw, rl } = logratios();
          losses = tf.add(tf.sub(1, tf.sigmoid(tf.mul(rw, beta))), tf.sigmoid(tf.mul(rl, beta)));
          break;
        }
        case "apo_down": {
          const { rw, delta } = logratios();
          losses = tf.add(tf.sigmoid(tf.mul(rw, beta)), tf.sub(1, tf.sigmoid(tf.mul(delta, beta))));
          break;
        }
        case "discopop": {
          // DiscoPOP (Chris Lu et al. 2024, Eq. 5): (1 − σ(z/τ))·(−log σ(z)) + σ(z/τ)·e^(−z). The exponential term is
          // taken as exp(log σ(z/τ) − z): the literal product overflows e^(−z) to ∞ below z ≈ −88.7 in float32 while
          // σ(z/τ) underflows to 0, giving NaN (TRL's form); 1 − σ(x) is σ(−x) for the same reason.
          const z = tf.mul(logratios().delta, beta);
          const zt = tf.div(z, o.discopopTau);
          const expTerm = tf.exp(tf.sub(tf.neg(negLogSigmoid(zt)), z));
          losses = tf.add(tf.mul(negLogSigmoid(z), tf.sigmoid(tf.neg(zt))), expTerm);
          break;
        }
        case "sigmoid_norm": {
          const { refW, refL } = refOf();
          const d = tf.sub(tf.sub(avgW, tf.div(refW, nw)), tf.sub(avgL, tf.div(refL, nl)));
          losses = negLogSigmoid(tf.mul(d, beta));
          break;
        }
        case "sft":
          losses = tf.div(nll, nw);
          mean = nllMean(nll, nw, o.nllReduction);
          nllLoss ??= mean;
          break;
        case "simpo": {
          // SimPO (Meng et al. 2024, Eq. 6): −log σ(β(ℓ_w − ℓ_l) − γ), ℓ = average log-prob, γ = β·(γ/β).
          const gamma = o.simpoBeta * o.simpoGammaBetaRatio;
          losses = smoothedLogistic(tf.sub(tf.mul(tf.sub(avgW, avgL), o.simpoBeta), gamma), eps);
          break;
        }
        case "orpo": {
          // ORPO (Hong et al. 2024, Eq. 6-7): NLL(chosen) − λ·log σ(log odds), odds(ℓ) = e^ℓ / (1 − e^ℓ), ℓ = average
          // log-prob; log(1 − e^ℓ) through log1mexp, as TRL's ORPOTrainer, so ℓ near 0 stays finite.
          const logOdds = tf.sub(tf.sub(avgW, avgL), tf.sub(log1mexp(avgW), log1mexp(avgL))) as tf.Tensor1D;
          const ratio = tf.mul(negLogSigmoid(logOdds), o.orpoLambda);
          const orpoNll = promptLp && promptN ? tf.sub(nll, promptLp) : nll;
          const orpoTokens = promptN ? tf.add(nw, promptN) : nw;
          losses = tf.add(tf.div(orpoNll, orpoTokens), ratio);
          const nllTerm = nllMean(orpoNll, orpoTokens, o.nllReduction);
          mean = tf.add(nllTerm, tf.mean(ratio)) as tf.Scalar;
          nllLoss = nllTerm;
          logOddsOut = logOdds;
          break;
        }
        default:
          throw new RangeError(`[infialign/train-dpo] losses: unknown loss type "${String(type)}"`);
      }
      const m = mean ?? (tf.mean(losses) as tf.Scalar);
      components[type] = m;
      perPair.push(losses);
      means.push(m);
    }
    const w = o.lossWeights;
    let losses = tf.mul(perPair[0]!, w[0]!) as tf.Tensor1D;
    let loss = tf.mul(means[0]!, w[0]!) as tf.Scalar;
    for (let k = 1; k < perPair.length; k++) {
      losses = tf.add(losses, tf.mul(perPair[k]!, w[k]!));
      loss = tf.add(loss, tf.mul(means[k]!, w[k]!));
    }

    // Rewards as TRL logs them: β·(log πθ − log π_ref) with a reference; reference-free losses log their own scale.
    let chosenRewards: tf.Tensor1D;
    let rejectedRewards: tf.Tensor1D;
    if (rw0 && rl0) {
      chosenRewards = tf.mul(tf.sub(pw, rw0), beta);
      rejectedRewards = tf.mul(tf.sub(pl, rl0), beta);
    } else {
      const scale = o.lossTypes.includes("simpo") ? o.simpoBeta : o.lossTypes.includes("orpo") ? o.orpoLambda : beta;
      chosenRewards = tf.mul(avgW, scale);
      rejectedRewards = tf.mul(avgL, scale);
    }
    return {
      losses,
      loss,
      components,
      chosenRewards,
      rejectedRewards,
      ...(nllLoss === undefined ? {} : { nllLoss }),
      ...(logOddsOut === undefined ? {} : { logOdds: logOddsOut }),
    };
  });
}

function nllMean(nll: tf.Tensor, tokens: tf.Tensor, reduction: "token" | "pair"): tf.Scalar {
  return (reduction === "token" ? tf.div(tf.sum(nll), tf.sum(tokens)) : tf.mean(tf.div(nll, tokens))) as tf.Scalar;
}

/**
 * TRL metric names and values for one batch (prefix `eval_` is the caller's business). With a reference (the DPO
 * trainer) `logps/*` are token sums, as TRL's DPOTrainer logs them; in reference-free runs (only `simpo`, `orpo`,
 * `sft`) they are per-token averages and `nll_loss` is added, as TRL's ORPOTrainer and CPOTrainer log them, and `orpo`
 * adds `log_odds_ratio` (mean log σ(log odds)) and `log_odds_chosen` (mean log odds).
 */
export interface PreferenceMetrics {
  loss: number;
  "rewards/chosen": number;
  "rewards/rejected": number;
  "rewards/accuracies": number;
  "rewards/margins": number;
  "logps/chosen": number;
  "logps/rejected": number;
  /** Mean logit over the chosen completions' tokens; present when the caller passed it. */
  "logits/chosen"?: number;
  "logits/rejected"?: number;
  /** Mean per-token entropy of the policy over the completion tokens of chosen and rejected (TRL DPO ≥ v0.29). */
  entropy?: number;
  /** Share of chosen completion tokens whose argmax prediction is the label (TRL DPO ≥ v0.29). */
  mean_token_accuracy?: number;
  /** The chosen-NLL term (reference-free runs; 0 without one, as TRL CPO with cpo_alpha = 0 logs it). */
  nll_loss?: number;
  /** ORPO: mean log σ(log odds). */
  log_odds_ratio?: number;
  /** ORPO: mean log odds ratio. */
  log_odds_chosen?: number;
}

/** What only the model's forward pass knows, for {@link preferenceMetrics}. */
export interface ForwardMetrics {
  /** Entropy of the predictive distribution, averaged over the completion tokens of chosen and rejected rows. */
  entropy: number;
  /** Argmax accuracy over the chosen completion tokens. */
  meanTokenAccuracy: number;
}

/**
 * Reads the metrics of a batch (synchronously; call outside gradient tapes). `meanLogits` are the mean logit over
 * the chosen / rejected completion tokens and `forward` the token statistics, which only the model's forward pass
 * knows. `lossTypes` (the run's, resolved) decides the TRL trainer whose conventions apply; without it the batch's
 * reference log-probs decide.
 */
export function preferenceMetrics(
  batch: PreferenceBatch,
  result: PreferenceLossResult,
  meanLogits?: { chosen: number; rejected: number },
  forward?: ForwardMetrics,
  lossTypes?: readonly PreferenceLossType[],
): PreferenceMetrics {
  const cr = result.chosenRewards.dataSync();
  const rr = result.rejectedRewards.dataSync();
  const referenceFree = lossTypes ? !needsReference(lossTypes) : batch.refChosenLogps === undefined;
  const pw = valuesOf(batch.policyChosenLogps);
  const pl = valuesOf(batch.policyRejectedLogps);
  const nw = valuesOf(batch.chosenTokens);
  const nl = valuesOf(batch.rejectedTokens);
  let c = 0;
  let r = 0;
  let acc = 0;
  for (let i = 0; i < cr.length; i++) {
    c += cr[i]!;
    r += rr[i]!;
    if (cr[i]! > rr[i]!) acc++;
  }
  const n = cr.length;
  const metrics: PreferenceMetrics = {
    loss: result.loss.dataSync()[0]!,
    "rewards/chosen": c / n,
    "rewards/rejected": r / n,
    "rewards/accuracies": acc / n,
    "rewards/margins": (c - r) / n,
    // TRL ORPO/CPO(simpo) average log-probs per token (`average_log_prob=True`); TRL DPO sums them.
    "logps/chosen": referenceFree ? meanOfRatios(pw, nw) : mean(pw),
    "logps/rejected": referenceFree ? meanOfRatios(pl, nl) : mean(pl),
  };
  if (meanLogits) {
    metrics["logits/chosen"] = meanLogits.chosen;
    metrics["logits/rejected"] = meanLogits.rejected;
  }
  if (forward) {
    metrics.entropy = forward.entropy;
    metrics.mean_token_accuracy = forward.meanTokenAccuracy;
  }
  if (referenceFree) metrics.nll_loss = result.nllLoss ? result.nllLoss.dataSync()[0]! : 0;
  if (result.logOdds) {
    const lo = result.logOdds.dataSync();
    let logSig = 0;
    for (let i = 0; i < lo.length; i++) logSig += -softplus(-lo[i]!);
    metrics.log_odds_ratio = logSig / lo.length;
    metrics.log_odds_chosen = mean(lo);
  }
  return metrics;
}

function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

function meanOfRatios(xs: ArrayLike<number>, ns: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]! / ns[i]!;
  return s / xs.length;
}

function valuesOf(v: Vector): ArrayLike<number> {
  return v instanceof tf.Tensor ? v.dataSync() : (v as ArrayLike<number>);
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}
