// The DPO run config (TRL's DPOConfig split: what the trainer needs, nothing of HF TrainingArguments it does not use),
// validated with zod at the boundary and resolved once; `trainDpo` never re-applies defaults.
import { join } from "node:path";
import { LoraOptionsSchema, OptimizerSchema, parseConfig, readConfigFile, SCHEDULE_TYPES } from "@infialign/train-sft";
import { z } from "zod";
import { DPO_LOSS_TYPES, REFERENCE_FREE_LOSS_TYPES } from "./losses.js";

const PREFIX = "[infialign/train-dpo] config";

const LOSS_TYPES = [...DPO_LOSS_TYPES, ...REFERENCE_FREE_LOSS_TYPES] as [string, ...string[]];

/** Where the reference log-probs come from (they are computed once, before training, and cached on disk). */
export const REFERENCE_ENGINES = ["auto", "onnx", "tfjs", "policy-copy"] as const;
export type ReferenceEngine = (typeof REFERENCE_ENGINES)[number];

export const DpoLossConfigSchema = z
  .object({
    /** TRL `loss_type`: one loss or a list combined with `lossWeights` (MPO). @default ["sigmoid"] */
    lossType: z.union([z.enum(LOSS_TYPES), z.array(z.enum(LOSS_TYPES)).min(1)]).default(["sigmoid"]),
    /** TRL `loss_weights`, one per `lossType` entry. @default all 1 */
    lossWeights: z.array(z.number().nonnegative()).min(1).optional(),
    /** DPO β (Rafailov et al. 2023, Eq. 7): strength of the KL anchor to the reference. @default 0.1 (TRL) */
    beta: z.number().positive().default(0.1),
    /** TRL `label_smoothing` ε (cDPO, robust, exo_pair, aot). @default 0 */
    labelSmoothing: z.number().min(0).lt(0.5).default(0),
    /** DiscoPOP τ. @default 0.05 (TRL) */
    discopopTau: z.number().positive().default(0.05),
    /** SimPO β (Meng et al. 2024, Eq. 6). @default 2.0 (princeton-nlp/SimPO `simpo_config.py`) */
    simpoBeta: z.number().positive().default(2.0),
    /** SimPO γ/β. @default 0.25 */
    simpoGammaBetaRatio: z.number().min(0).default(0.25),
    /** ORPO λ (Hong et al. 2024, Eq. 6). @default 0.1 (TRL) */
    orpoLambda: z.number().positive().default(0.1),
    /**
     * Tokens of ORPO's NLL term: `prompt_and_completion` as TRL's `ORPOTrainer` (all versions) and the ORPO authors'
     * code (xfactlab/orpo, `disable_prompt_loss` off) compute it; `completion` for the chosen answer only, as the
     * paper's Eq. 6 writes it and LLaMA-Factory's `pref_loss: orpo` trains.
     * @default "prompt_and_completion"
     */
    orpoNllScope: z.enum(["prompt_and_completion", "completion"]).default("prompt_and_completion"),
  })
  .strict();

export const ReferenceConfigSchema = z
  .object({
    /**
     * Engine that scores the reference log-probs. `auto`: ONNX (onnxruntime-node) when installed, else tfjs; both load
     * the reference weights as a second model that is disposed before training starts. `policy-copy` scores with the
     * policy itself before its first update (no second model; the weights are the same at step 0).
     * @default "auto"
     */
    engine: z.enum(REFERENCE_ENGINES).default("auto"),
    /** Reference model directory. @default the policy `model` (DPO's π_ref = the SFT model) */
    model: z.string().min(1).optional(),
    /** Directory of the log-prob cache (RefLogpCache); reruns reuse it. @default `<outputDir>/ref-logps` */
    cacheDir: z.string().min(1).optional(),
    /** Items per reference forward. @default 8 */
    batchSize: z.number().int().positive().default(8),
  })
  .strict();

export const DpoConfigSchema = z
  .object({
    /** Policy model directory (Hugging Face layout): the SFT checkpoint DPO starts from. */
    model: z.string().min(1),
    /** Tokenizer directory. @default model */
    tokenizer: z.string().min(1).optional(),
    /**
     * Engine that trains the policy (@infialign/model createTrainingEngine): `onnxruntime` (forward and backward as one
     * onnxruntime-node graph, the fast path), `tfjs` (the reference), `auto` onnxruntime when it loads. @default "auto"
     */
    engine: z.enum(["auto", "onnxruntime", "tfjs"]).default("auto"),
    /** Threads of the onnxruntime engine. @default the machine's cores */
    threads: z.number().int().positive().optional(),
    /**
     * Preference records (`PreferenceRecord`, the pair stage's output): finished stage directories (with
     * manifest.json), JSONL/JSON/Parquet files or globs, read in order.
     */
    pairs: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((p) => (typeof p === "string" ? [p] : p)),
    /** Run directory: checkpoints, metrics.jsonl, ref-logps/, final/, run.json. */
    outputDir: z.string().min(1),
    /** Seed of the data order. @default 42 (transformers) */
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(42),
    loss: DpoLossConfigSchema.default(DpoLossConfigSchema.parse({})),
    /** Peak learning rate. @default 1e-6 (TRL DPOConfig) */
    learningRate: z.number().positive().default(1e-6),
    /** AdamW and clipping. @default β (0.9, 0.999), ε 1e-8, weight decay 0, max grad norm 1 */
    optimizer: OptimizerSchema.default(OptimizerSchema.parse({})),
    /** HF `lr_scheduler_type`. @default "linear" (HF TrainingArguments) */
    lrSchedulerType: z.enum(SCHEDULE_TYPES).default("linear"),
    /** Warmup as a fraction of the optimizer steps. @default 0 */
    warmupRatio: z.number().min(0).max(1).default(0),
    /** Warmup steps; wins over warmupRatio when > 0. @default 0 */
    warmupSteps: z.number().int().min(0).default(0),
    /** Passes over the pairs. @default 1 */
    epochs: z.number().int().positive().default(1),
    /** Stop after this many optimizer steps (HF `max_steps`). @default epochs × steps per epoch */
    maxSteps: z.number().int().positive().optional(),
    /** Pairs per micro-batch (each pair is two rows: chosen and rejected). @default 8 (HF per_device_train_batch_size) */
    batchSize: z.number().int().positive().default(8),
    /** Micro-batches per optimizer step. @default 1 */
    gradAccumulation: z.number().int().positive().default(1),
    /**
     * Longest prompt + completion in tokens (TRL `max_length`). The completion is cut from the right to fit after the
     * (already cut) prompt. @default 1024 (TRL)
     */
    maxLength: z.number().int().min(2).default(1024),
    /** Longest prompt in tokens; longer prompts lose their start (TRL v0.19 `max_prompt_length`, keep-end). @default 512 */
    maxPromptLength: z.number().int().positive().default(512),
    /** Optimizer steps between metric lines (TRL `logging_steps`). @default 10 */
    loggingSteps: z.number().int().positive().default(10),
    /** Checkpoint every this many steps; 0 = only at the end. @default 500 (HF save_steps) */
    saveSteps: z.number().int().min(0).default(500),
    /** Keep at most this many checkpoints (HF `save_total_limit`). @default keep all */
    saveTotalLimit: z.number().int().positive().optional(),
    /** Train LoRA adapters instead of all weights (PEFT names). @default full fine-tuning */
    lora: LoraOptionsSchema.optional(),
    reference: ReferenceConfigSchema.default(ReferenceConfigSchema.parse({})),
    /** Positions per chunk of the LM head + log-softmax (memory knob of @infialign/kernels). @default 1024 */
    chunkSize: z.number().int().positive().default(1024),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.maxPromptLength >= c.maxLength) {
      ctx.addIssue({ code: "custom", path: ["maxPromptLength"], message: `must be below maxLength (${c.maxLength}) so every completion keeps at least one token` });
    }
    const types = typeof c.loss.lossType === "string" ? [c.loss.lossType] : c.loss.lossType;
    if (types.includes("exo_pair") && c.loss.labelSmoothing === 0) {
      ctx.addIssue({ code: "custom", path: ["loss", "labelSmoothing"], message: "exo_pair needs ε > 0 (TRL raises too); the EXO paper uses 1e-3" });
    }
    if (c.loss.lossWeights !== undefined && c.loss.lossWeights.length !== types.length) {
      ctx.addIssue({ code: "custom", path: ["loss", "lossWeights"], message: `has ${c.loss.lossWeights.length} entries for ${types.length} loss types; give one weight per lossType entry` });
    }
  });

/** A DPO run config as written in dpo.yaml / dpo.json (defaults optional). */
export type DpoConfigInput = z.input<typeof DpoConfigSchema>;
/** A resolved DPO run config: every default applied. */
export type DpoConfig = z.output<typeof DpoConfigSchema>;

/**
 * Validates a config object and applies the defaults, reporting every invalid field at once. `source` names the file
 * in messages.
 */
export function resolveDpoConfig(input: unknown, source = "config"): DpoConfig {
  return parseConfig(DpoConfigSchema, input, PREFIX, source);
}

/**
 * Reads a DPO config from a `.json`, `.yaml` or `.yml` file and resolves it; relative paths (model, tokenizer, pairs,
 * outputDir, reference model and cache) are taken relative to the file's directory.
 */
export async function loadDpoConfig(path: string): Promise<DpoConfig> {
  const file = await readConfigFile(path, PREFIX);
  const config = resolveDpoConfig(file.raw, file.name);
  const abs = file.resolvePath;
  return {
    ...config,
    model: abs(config.model),
    ...(config.tokenizer === undefined ? {} : { tokenizer: abs(config.tokenizer) }),
    pairs: config.pairs.map(abs),
    outputDir: abs(config.outputDir),
    reference: {
      ...config.reference,
      ...(config.reference.model === undefined ? {} : { model: abs(config.reference.model) }),
      ...(config.reference.cacheDir === undefined ? {} : { cacheDir: abs(config.reference.cacheDir) }),
    },
  };
}

/** The loss types of a config as a list. */
export function lossTypesOf(config: Pick<DpoConfig, "loss">): string[] {
  return typeof config.loss.lossType === "string" ? [config.loss.lossType] : [...config.loss.lossType];
}

/** Reference cache directory of a run. */
export function referenceCacheDir(config: Pick<DpoConfig, "outputDir" | "reference">): string {
  return config.reference.cacheDir ?? join(config.outputDir, "ref-logps");
}
