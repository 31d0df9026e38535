// What a loss of the table is: its name, function, inputs and result, the options it receives, and its LLaMA-Factory
// counterpart; and the names of the built-in losses.
import type * as tf from "@tensorflow/tfjs-core";
import type { BuiltinHyperparameterValues, HyperparameterValues, LossHyperparameters } from "./hyperparameters.js";
import type { RunningMean } from "./runningMean.js";

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

/** Reference-free objectives of other TRL trainers: SimPO (Meng et al. 2024, Eq. 6) and ORPO (Hong et al. 2024, Eq. 6). */
export const REFERENCE_FREE_LOSS_TYPES = ["simpo", "orpo"] as const;

/** A `lossType` name: a built-in loss or one added with {@link registerLoss}. */
export type PreferenceLossName = (typeof DPO_LOSS_TYPES)[number] | (typeof REFERENCE_FREE_LOSS_TYPES)[number] | (string & {});

/** Options of `preferenceLoss` after {@link resolvePreferenceLossOptions}: every hyperparameter has its value. */
export interface ResolvedPreferenceLossOptions extends BuiltinHyperparameterValues {
  lossTypes: PreferenceLossName[];
  lossWeights: number[];
  /** bco_pair's running mean, kept across steps by the caller. */
  bcoRunningMean: RunningMean | undefined;
  /** Hyperparameters of losses added with registerLoss, by name. */
  [hyperparameter: string]: unknown;
}

/** What a loss function sees of a batch: one entry per pair, float32. */
export interface PreferenceLossInputs {
  /** Σ log πθ(y_w|x) over the chosen completion's tokens; gradients flow through it and `policyRejectedLogps`. */
  policyChosenLogps: tf.Tensor1D;
  policyRejectedLogps: tf.Tensor1D;
  /** Σ log π_ref(y_w|x), a constant; present whenever some loss of the run needs the reference. */
  refChosenLogps?: tf.Tensor1D;
  refRejectedLogps?: tf.Tensor1D;
  /** Completion token counts. */
  chosenTokens: tf.Tensor1D;
  rejectedTokens: tf.Tensor1D;
  /** Per-token average policy log-probs ℓ = Σ log πθ / tokens (SimPO's and ORPO's ℓ_w, ℓ_l), one node shared by all losses. */
  chosenAverageLogps: tf.Tensor1D;
  rejectedAverageLogps: tf.Tensor1D;
  /** Token-summed NLL of the chosen completion (the batch's `chosenNll`, else −policyChosenLogps). */
  chosenNll: tf.Tensor1D;
  /** Σ log πθ over the chosen row's prompt tokens and their count, when the caller scored them. */
  chosenPromptLogps?: tf.Tensor1D;
  chosenPromptTokens?: tf.Tensor1D;
}

/** What a loss function returns. Tensors made inside it are freed by `preferenceLoss` unless returned. */
export interface PreferenceLossTerm {
  /** Per-pair loss, shape `[pairs]`. */
  losses: tf.Tensor;
  /** The batch value of the loss. @default the mean of `losses` */
  mean?: tf.Scalar;
  /** The chosen-NLL part of a composite objective (ORPO's), logged as `nll_loss`. */
  nllLoss?: tf.Scalar;
  /** Per-pair log odds ratio (ORPO), logged as `log_odds_ratio` / `log_odds_chosen`. */
  logOdds?: tf.Tensor1D;
}

/** A problem with settings that are each valid but not for this loss: reported as `<option>: <message>`. */
export interface LossOptionProblem {
  option: string;
  message: string;
}

/** How a loss maps to LLaMA-Factory's DPO stage (`pref_loss`, `pref_beta`, … in `finetuning_args.py`). */
export interface LlamaFactoryLossMapping {
  /** LLaMA-Factory `pref_loss`. */
  prefLoss: string;
  /** The hyperparameter written as `pref_beta`. */
  prefBeta: string;
  /** Whether `labelSmoothing` is written as `dpo_label_smoothing` (LLaMA-Factory reads it for sigmoid only). */
  labelSmoothing?: boolean;
  /** Further keys computed from the options (SimPO's `simpo_gamma`). */
  extra?: (options: ResolvedPreferenceLossOptions) => Record<string, number>;
}

/** A loss of the table; `H` are the hyperparameters it adds. */
export interface PreferenceLossDefinition<H extends LossHyperparameters = LossHyperparameters> {
  /** The `lossType` name: letters, digits and `_`. */
  name: string;
  /** One line for `--help`: what it optimises, with the paper. */
  description: string;
  /** Whether it reads `refChosenLogps` / `refRejectedLogps`; trainDpo scores the reference only when some loss does. */
  needsReference: boolean;
  /** Hyperparameters this loss adds, by option name (names already in the table are refused). */
  hyperparameters?: H;
  /** Hyperparameters of the table it reads besides its own (`beta`, `labelSmoothing`, `nllReduction`, …), for --help. */
  reads?: readonly string[];
  /** Per-pair losses of a batch, differentiable in the policy log-probs. */
  compute(inputs: PreferenceLossInputs, options: ResolvedPreferenceLossOptions & HyperparameterValues<H>): PreferenceLossTerm;
  /** Combinations of option values this loss refuses (e.g. exo_pair with ε = 0). */
  check?(options: ResolvedPreferenceLossOptions & HyperparameterValues<H>): LossOptionProblem[];
  /** The loss is the chosen NLL itself (`sft`): its value is logged as `nll_loss` when no other term reports one. */
  isNll?: boolean;
  /** Reference-free losses: the hyperparameter scaling the logged implicit rewards (SimPO's β, ORPO's λ). */
  rewardScale?: string;
  /** Whether trainDpo must score the chosen rows' prompt tokens (`chosenPromptLogps`) for these options. */
  needsPromptLogps?(options: ResolvedPreferenceLossOptions): boolean;
  /** LLaMA-Factory's counterpart, or `"pref_ftx"` for an NLL term exported as `pref_ftx` (its weight). */
  llamaFactory?: LlamaFactoryLossMapping | "pref_ftx";
}
