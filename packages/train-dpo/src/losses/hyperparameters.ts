// Loss hyperparameters: how one is described (zod schema, default, description) and the built-in ones, each an option of
// `preferenceLoss` and a field of the run config's `loss` section.
import { z } from "zod";

/** One hyperparameter: an option of `preferenceLoss` and a field of the run config's `loss` section. */
export interface LossHyperparameter<T = unknown> {
  /** One line: meaning, unit, paper. Shown by `infialign-dpo --help`. */
  description: string;
  /** Type and range. Its messages are reported as `<name>: <message>`, so say what is expected ("must be > 0"). */
  schema: z.ZodType<T>;
  /** The value when none is given; without one the option stays undefined. */
  default?: T;
}

/** Hyperparameter specs by option name. */
export type LossHyperparameters = Record<string, LossHyperparameter>;

/** The values of `H` once defaults are applied (`undefined` where there is no default). */
export type HyperparameterValues<H extends LossHyperparameters> = {
  -readonly [K in keyof H]: H[K] extends { default: unknown } ? z.output<H[K]["schema"]> : z.output<H[K]["schema"]> | undefined;
};

const positive = z.number().gt(0, "must be > 0");

/** The built-in hyperparameters; each is an option of `preferenceLoss` and a field of the run config's `loss`. */
export const BUILTIN_HYPERPARAMETERS = {
  /** β of the DPO family: temperature of the implicit reward β·log(πθ/π_ref); IPO's τ. @default 0.1 (TRL) */
  beta: { description: "β of the DPO family (Rafailov et al. 2023, Eq. 7): temperature of the reward β·log(πθ/π_ref); IPO's τ", schema: positive, default: 0.1 },
  /**
   * ε: label smoothing of `sigmoid` (cDPO, Mitchell 2023, as TRL ≤ v0.28 and LLaMA-Factory `dpo_label_smoothing`;
   * TRL ≥ v0.29 ignores ε for `sigmoid`, which is ε = 0 here), `aot`, `aot_unpaired`, SimPO (TRL CPO); noise rate of
   * `robust` (Chowdhury et al. 2024); `exo_pair`'s ε (Ji et al. 2024), which must then be > 0 (TRL ≥ v0.29 raises too;
   * the EXO paper uses 1e-3, which TRL ≤ v0.28 substituted for 0 silently). In [0, 0.5) (TRL `label_smoothing`).
   * @default 0
   */
  labelSmoothing: {
    description: "ε: cDPO label smoothing (sigmoid, aot, aot_unpaired, simpo), robust's noise rate, exo_pair's ε; in [0, 0.5)",
    schema: z.number().min(0, "must be in [0, 0.5)").lt(0.5, "must be in [0, 0.5)"),
    default: 0,
  },
  /**
   * How NLL terms (`sft`, ORPO) are averaged: `"token"` = Σ NLL / Σ chosen tokens over the batch (TRL's cross-entropy
   * with mean reduction); `"pair"` = mean over pairs of each pair's per-token NLL (LLaMA-Factory's ORPO).
   * @default "token"
   */
  nllReduction: {
    description: 'averaging of NLL terms (sft, orpo): "token" = Σ NLL / Σ tokens (TRL), "pair" = mean of per-pair means',
    schema: z.enum(["token", "pair"], 'expected "token" or "pair"'),
    default: "token",
  },
  /**
   * δ subtracted from the rewards in `bco_pair` (TRL v0.19: running mean of all rewards seen so far). Overrides
   * `bcoRunningMean`. @default none: 0 (TRL HEAD form), or the running mean when `bcoRunningMean` is given (trainDpo)
   */
  bcoDelta: { description: "bco_pair's fixed δ; unset: the running mean of the rewards (trainDpo, TRL v0.19), 0 without one", schema: z.number().finite("must be finite") },
  /** τ of DiscoPOP's log-ratio modulation (Chris Lu et al. 2024). @default 0.05 (TRL) */
  discopopTau: { description: "τ of DiscoPOP's log-ratio modulation (Chris Lu et al. 2024, Eq. 5)", schema: positive, default: 0.05 },
  /** SimPO β (scales the length-normalised log-prob margin). @default 2.0 (princeton-nlp/SimPO simpo_config.py) */
  simpoBeta: { description: "SimPO β (Meng et al. 2024, Eq. 6): scale of the length-normalised margin", schema: positive, default: 2.0 },
  /** SimPO γ/β: the target margin is γ = simpoBeta · ratio. @default 0.25 */
  simpoGammaBetaRatio: { description: "SimPO γ/β: the target margin is γ = simpoBeta · simpoGammaBetaRatio", schema: z.number().min(0, "must be >= 0"), default: 0.25 },
  /** ORPO λ weighting the odds-ratio term against the chosen NLL (TRL ORPO `beta`). @default 0.1 */
  orpoLambda: { description: "ORPO λ (Hong et al. 2024, Eq. 6): weight of the odds-ratio term against the chosen NLL", schema: z.number().min(0, "must be >= 0"), default: 0.1 },
  /**
   * Tokens of ORPO's NLL term, read by trainDpo: `prompt_and_completion` as TRL's `ORPOTrainer` (all versions) and the
   * ORPO authors' code (xfactlab/orpo, `disable_prompt_loss` off) compute it (the chosen rows then score their prompt
   * tokens too); `completion` for the chosen answer only, as the paper's Eq. 6 writes it and LLaMA-Factory's
   * `pref_loss: orpo` trains.
   * @default "prompt_and_completion"
   */
  orpoNllScope: {
    description: 'tokens of ORPO\'s NLL term in trainDpo: "prompt_and_completion" (TRL ORPOTrainer) or "completion" (the paper, LLaMA-Factory)',
    schema: z.enum(["prompt_and_completion", "completion"], 'expected "prompt_and_completion" or "completion"'),
    default: "prompt_and_completion",
  },
} satisfies LossHyperparameters;

/** The built-in hyperparameters' values, defaults applied. */
export type BuiltinHyperparameterValues = HyperparameterValues<typeof BUILTIN_HYPERPARAMETERS>;

/** Read by many losses and by the reward metrics, so owned by none. */
export const SHARED_HYPERPARAMETERS = { beta: BUILTIN_HYPERPARAMETERS.beta, labelSmoothing: BUILTIN_HYPERPARAMETERS.labelSmoothing, nllReduction: BUILTIN_HYPERPARAMETERS.nllReduction };

/** The built-in hyperparameters with their defaults (optional ones left out). */
export const BUILTIN_HYPERPARAMETER_DEFAULTS = Object.fromEntries(
  Object.entries(BUILTIN_HYPERPARAMETERS).flatMap(([name, spec]) => ("default" in spec ? [[name, spec.default]] : [])),
) as { [K in keyof typeof BUILTIN_HYPERPARAMETERS as (typeof BUILTIN_HYPERPARAMETERS)[K] extends { default: unknown } ? K : never]: BuiltinHyperparameterValues[K] };
