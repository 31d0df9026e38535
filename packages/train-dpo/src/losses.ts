// The preference loss over per-pair sequence log-probs: any losses of the loss table (losses/table.ts: TRL's DPO
// `loss_type`s, SimPO, ORPO and those added with registerLoss), weighted and summed (MPO), with the implicit rewards and
// TRL's metric names (TRL DPOTrainer, or ORPOTrainer / CPOTrainer for reference-free runs).
import * as tf from "@tensorflow/tfjs-core";
import type { DPO_LOSS_TYPES, PreferenceLossInputs, PreferenceLossName, REFERENCE_FREE_LOSS_TYPES, ResolvedPreferenceLossOptions } from "./losses/definition.js";
import { BUILTIN_HYPERPARAMETER_DEFAULTS, type BuiltinHyperparameterValues } from "./losses/hyperparameters.js";
import type { RunningMean } from "./losses/runningMean.js";
import { lossHyperparameters, preferenceLossDefinition, preferenceLosses } from "./losses/table.js";

export type { PreferenceLossName, ResolvedPreferenceLossOptions } from "./losses/definition.js";
export { DPO_LOSS_TYPES, REFERENCE_FREE_LOSS_TYPES } from "./losses/definition.js";
export { RunningMean } from "./losses/runningMean.js";

export type DpoLossType = (typeof DPO_LOSS_TYPES)[number];
/** A built-in loss: TRL DPOTrainer's, SimPO or ORPO. */
export type PreferenceLossType = DpoLossType | (typeof REFERENCE_FREE_LOSS_TYPES)[number];

const PREFIX = "[infialign/train-dpo] losses";

/** Whether any of the losses reads reference log-probs (a name not in the table counts as needing them). */
export function needsReference(lossTypes: readonly PreferenceLossName[]): boolean {
  return lossTypes.some((t) => preferenceLossDefinition(t)?.needsReference ?? true);
}

type Vector = tf.Tensor1D | readonly number[] | Float32Array | Float64Array;

/** One batch of preference pairs, one entry per pair. Log-probs are summed over completion tokens only. */
export interface PreferenceBatch {
  /** Σ log πθ(y_w|x) over the chosen completion's tokens. Gradients flow through this and `policyRejectedLogps`. */
  policyChosenLogps: Vector;
  /** Σ log πθ(y_l|x) over the rejected completion's tokens. */
  policyRejectedLogps: Vector;
  /** Σ log π_ref(y_w|x); required when some loss needs the reference (not `sft`, `simpo`, `orpo`). Treated as constant. */
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

/**
 * Options of {@link preferenceLoss}: the losses, their weights, and hyperparameters of the loss table by name (the
 * built-in ones typed; those of losses added with registerLoss as `unknown`). Defaults: {@link resolvePreferenceLossOptions}.
 */
export type PreferenceLossOptions = {
  /** One loss or several combined with `lossWeights` (MPO, TRL `loss_type` list). @default ["sigmoid"] */
  lossType?: PreferenceLossName | readonly PreferenceLossName[];
  /** Weight of each entry of `lossType` (TRL `loss_weights`). @default all 1 */
  lossWeights?: readonly number[];
  /**
   * Running mean of the rewards kept by the caller across steps (save `state()` in checkpoints): each call adds the
   * batch's mean reward first, then uses the running mean as δ, as TRL v0.19 `RunningMoments` does. Updated once per
   * `preferenceLoss` call, so call it once per micro-batch. `bcoDelta` overrides it.
   */
  bcoRunningMean?: RunningMean;
} & Partial<BuiltinHyperparameterValues> & { [hyperparameter: string]: unknown };

/** The defaults of the built-in options, from the loss table. */
export const DEFAULT_PREFERENCE_LOSS_OPTIONS = { lossType: ["sigmoid"] as const, ...BUILTIN_HYPERPARAMETER_DEFAULTS };

/**
 * Applies the defaults of the loss table once and checks every option against its schema and the chosen losses' own
 * checks, reporting all problems in one error.
 */
export function resolvePreferenceLossOptions(options: PreferenceLossOptions = {}): ResolvedPreferenceLossOptions {
  const raw = options.lossType ?? DEFAULT_PREFERENCE_LOSS_OPTIONS.lossType;
  const lossTypes: PreferenceLossName[] = typeof raw === "string" ? [raw] : [...raw];
  const lossWeights = [...(options.lossWeights ?? lossTypes.map(() => 1))];
  const problems: string[] = [];
  const known = preferenceLosses().map((l) => l.name);
  if (lossTypes.length === 0) problems.push("lossType: empty list (give at least one loss)");
  for (const t of lossTypes) if (!known.includes(t)) problems.push(`lossType: unknown "${t}" (expected one of ${known.join(", ")})`);
  if (new Set(lossTypes).size !== lossTypes.length) problems.push(`lossType: repeated entries in [${lossTypes.join(", ")}]`);
  if (lossWeights.length !== lossTypes.length) problems.push(`lossWeights: ${lossWeights.length} weights for ${lossTypes.length} losses (give one per lossType entry)`);
  if (lossWeights.some((w) => !Number.isFinite(w))) problems.push("lossWeights: every weight must be a finite number");
  const resolved: Record<string, unknown> = { lossTypes, lossWeights, bcoRunningMean: options.bcoRunningMean };
  const specs = lossHyperparameters();
  for (const [name, spec] of specs) {
    const value = options[name] ?? spec.default;
    resolved[name] = value;
    if (value === undefined) continue;
    const parsed = spec.schema.safeParse(value);
    if (!parsed.success) problems.push(`${name}: ${parsed.error.issues.map((i) => i.message).join("; ")}, got ${typeof value === "number" ? value : JSON.stringify(value)}`);
  }
  for (const name of Object.keys(options)) {
    if (!specs.has(name) && !["lossType", "lossWeights", "bcoRunningMean"].includes(name)) problems.push(`${name}: not an option of any loss (hyperparameters: ${[...specs.keys()].join(", ")})`);
  }
  const r = resolved as ResolvedPreferenceLossOptions;
  if (problems.length === 0) for (const t of lossTypes) for (const p of preferenceLossDefinition(t)?.check?.(r) ?? []) problems.push(`${p.option}: ${p.message}`);
  if (problems.length > 0) throw new RangeError(`${PREFIX}: invalid options:\n  - ${problems.join("\n  - ")}`);
  return r;
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
  components: Partial<Record<PreferenceLossName, tf.Scalar>>;
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
  if (t.rank !== 1) throw new RangeError(`${PREFIX}: ${name} must be 1-D (one value per pair), got shape [${t.shape.join(", ")}]`);
  if (n !== undefined && t.shape[0] !== n) throw new RangeError(`${PREFIX}: ${name} has ${t.shape[0]} entries, expected ${n} (one per pair)`);
  return t.dtype === "float32" ? t : (tf.cast(t, "float32") as tf.Tensor1D);
}

/**
 * Per-pair losses of the chosen loss types, their weighted combination and the implicit rewards. Differentiable in
 * the policy log-probs (call it inside `tf.grad`/`tf.variableGrads`); reference log-probs are constants. The returned
 * tensors belong to the caller (`tf.dispose(result)`); intermediates are freed.
 */
export function preferenceLoss(batch: PreferenceBatch, options: PreferenceLossOptions | ResolvedPreferenceLossOptions = {}): PreferenceLossResult {
  const o = "lossTypes" in options ? (options as ResolvedPreferenceLossOptions) : resolvePreferenceLossOptions(options);
  const definitions = o.lossTypes.map((t) => {
    const d = preferenceLossDefinition(t);
    if (d === undefined) throw new RangeError(`${PREFIX}: unknown loss type "${String(t)}"`);
    return d;
  });
  if (needsReference(o.lossTypes) && (batch.refChosenLogps === undefined || batch.refRejectedLogps === undefined)) {
    const which = definitions.filter((d) => d.needsReference).map((d) => d.name);
    const free = preferenceLosses().filter((d) => !d.needsReference).map((d) => d.name);
    throw new RangeError(
      `${PREFIX}: refChosenLogps and refRejectedLogps are required by loss type(s) ${which.join(", ")}; compute them with RefLogpCache or use a reference-free loss (${free.join(", ")})`,
    );
  }
  return tf.tidy(() => {
    const pw = toTensor(batch.policyChosenLogps, "policyChosenLogps", undefined);
    const n = pw.shape[0];
    if (n === 0) throw new RangeError(`${PREFIX}: empty batch (0 pairs)`);
    if ((batch.chosenPromptLogps === undefined) !== (batch.chosenPromptTokens === undefined)) {
      throw new RangeError(`${PREFIX}: chosenPromptLogps and chosenPromptTokens go together; pass both (ORPO NLL over prompt + completion) or neither`);
    }
    const pl = toTensor(batch.policyRejectedLogps, "policyRejectedLogps", n);
    const nw = toTensor(batch.chosenTokens, "chosenTokens", n);
    const nl = toTensor(batch.rejectedTokens, "rejectedTokens", n);
    // Made in this order and shared by all losses: the order in which gradients reach pw decides their float sum.
    const chosenNll = batch.chosenNll === undefined ? (tf.neg(pw) as tf.Tensor1D) : toTensor(batch.chosenNll, "chosenNll", n);
    const promptLp = batch.chosenPromptLogps === undefined ? undefined : toTensor(batch.chosenPromptLogps, "chosenPromptLogps", n);
    const promptN = batch.chosenPromptTokens === undefined ? undefined : toTensor(batch.chosenPromptTokens, "chosenPromptTokens", n);
    const rw0 = batch.refChosenLogps === undefined ? undefined : toTensor(batch.refChosenLogps, "refChosenLogps", n);
    const rl0 = batch.refRejectedLogps === undefined ? undefined : toTensor(batch.refRejectedLogps, "refRejectedLogps", n);
    const inputs: PreferenceLossInputs = {
      policyChosenLogps: pw,
      policyRejectedLogps: pl,
      chosenTokens: nw,
      rejectedTokens: nl,
      chosenNll,
      ...(promptLp && { chosenPromptLogps: promptLp }),
      ...(promptN && { chosenPromptTokens: promptN }),
      ...(rw0 && { refChosenLogps: rw0 }),
      ...(rl0 && { refRejectedLogps: rl0 }),
      chosenAverageLogps: tf.div(pw, nw) as tf.Tensor1D,
      rejectedAverageLogps: tf.div(pl, nl) as tf.Tensor1D,
    };

    const perPair: tf.Tensor[] = [];
    const means: tf.Scalar[] = [];
    const components: Partial<Record<PreferenceLossName, tf.Scalar>> = {};
    let nllLoss: tf.Scalar | undefined;
    let wholeNll: tf.Scalar | undefined;
    let logOdds: tf.Tensor1D | undefined;
    for (const definition of definitions) {
      const term = definition.compute(inputs, o);
      const m = term.mean ?? (tf.mean(term.losses) as tf.Scalar);
      components[definition.name] = m;
      perPair.push(term.losses);
      means.push(m);
      if (term.nllLoss) nllLoss = term.nllLoss;
      if (definition.isNll) wholeNll ??= m;
      if (term.logOdds) logOdds = term.logOdds;
    }
    nllLoss ??= wholeNll;
    const w = o.lossWeights;
    let losses = tf.mul(perPair[0]!, w[0]!) as tf.Tensor1D;
    let loss = tf.mul(means[0]!, w[0]!) as tf.Scalar;
    for (let k = 1; k < perPair.length; k++) {
      losses = tf.add(losses, tf.mul(perPair[k]!, w[k]!));
      loss = tf.add(loss, tf.mul(means[k]!, w[k]!));
    }

    // Rewards as TRL logs them: β·(log πθ − log π_ref) with a reference; reference-free losses log their own scale, the
    // first of the run's losses in table order that has one (SimPO's β before ORPO's λ), else β.
    let chosenRewards: tf.Tensor1D;
    let rejectedRewards: tf.Tensor1D;
    if (rw0 && rl0) {
      chosenRewards = tf.mul(tf.sub(pw, rw0), o.beta);
      rejectedRewards = tf.mul(tf.sub(pl, rl0), o.beta);
    } else {
      const scaled = preferenceLosses().find((d) => d.rewardScale !== undefined && o.lossTypes.includes(d.name));
      const scale = scaled ? (o[scaled.rewardScale as string] as number) : o.beta;
      chosenRewards = tf.mul(inputs.chosenAverageLogps, scale);
      rejectedRewards = tf.mul(inputs.rejectedAverageLogps, scale);
    }
    return {
      losses,
      loss,
      components,
      chosenRewards,
      rejectedRewards,
      ...(nllLoss === undefined ? {} : { nllLoss }),
      ...(logOdds === undefined ? {} : { logOdds }),
    };
  });
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
  lossTypes?: readonly PreferenceLossName[],
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
