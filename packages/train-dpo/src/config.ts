// The DPO run config (TRL's DPOConfig split: what the trainer needs, nothing of HF TrainingArguments it does not use),
// validated with zod at the boundary and resolved once; `trainDpo` never re-applies defaults.
import { join } from "node:path";
import { LoraOptionsSchema, OptimizerSchema, parseConfig, readConfigFile, SCHEDULE_TYPES } from "@infialign/train-sft";
import { z } from "zod";
import type { PreferenceLossName, ResolvedPreferenceLossOptions } from "./losses/definition.js";
import type { BuiltinHyperparameterValues } from "./losses/hyperparameters.js";
import { lossHyperparameters, preferenceLossDefinition, preferenceLosses } from "./losses/table.js";
import { DEFAULT_PREFERENCE_LOSS_OPTIONS } from "./losses.js";

const PREFIX = "[infialign/train-dpo] config";

/** Where the reference log-probs come from (they are computed once, before training, and cached on disk). */
export const REFERENCE_ENGINES = ["auto", "onnx", "tfjs", "policy-copy"] as const;
export type ReferenceEngine = (typeof REFERENCE_ENGINES)[number];

/** The run config's `loss` section as written: the losses, their weights, and hyperparameters of the loss table. */
export type DpoLossConfigInput = {
  /** TRL `loss_type`: one loss or a list combined with `lossWeights` (MPO). @default ["sigmoid"] */
  lossType?: PreferenceLossName | PreferenceLossName[];
  /** TRL `loss_weights`, one per `lossType` entry. @default all 1 */
  lossWeights?: number[];
} & Partial<BuiltinHyperparameterValues> & { [hyperparameter: string]: unknown };

/** The `loss` section resolved: every hyperparameter of the loss table at its value or default. */
export type DpoLossConfig = { lossType: PreferenceLossName | PreferenceLossName[]; lossWeights?: number[] } & BuiltinHyperparameterValues & { [hyperparameter: string]: unknown };

let lossSection: { losses: number; schema: z.ZodType } | undefined;

/** The strict zod object of the `loss` section for the table as it is now (rebuilt after registerLoss). */
function lossSectionSchema(): z.ZodType {
  const losses = preferenceLosses();
  if (lossSection?.losses === losses.length) return lossSection.schema;
  const names = z.enum(losses.map((l) => l.name) as [string, ...string[]]);
  const shape: Record<string, z.ZodType> = {
    lossType: z.union([names, z.array(names).min(1)]).default([...DEFAULT_PREFERENCE_LOSS_OPTIONS.lossType]),
    lossWeights: z.array(z.number().nonnegative()).min(1).optional(),
  };
  for (const [name, spec] of lossHyperparameters()) shape[name] = spec.default === undefined ? spec.schema.optional() : spec.schema.default(spec.default);
  lossSection = { losses: losses.length, schema: z.object(shape).strict() };
  return lossSection.schema;
}

/**
 * The `loss` section: `lossType`, `lossWeights` and one field per hyperparameter of the loss table, each validated by
 * its schema and defaulted from the table, then the chosen losses' own checks (e.g. exo_pair needs labelSmoothing > 0).
 * Built at parse time, so losses added with registerLoss, and their hyperparameters, are accepted.
 */
export const DpoLossConfigSchema = z.unknown().transform((value, ctx) => {
  const parsed = lossSectionSchema().safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  }
  const loss = parsed.data as DpoLossConfig;
  const lossTypes = typeof loss.lossType === "string" ? [loss.lossType] : [...loss.lossType];
  if (new Set(lossTypes).size !== lossTypes.length) ctx.addIssue({ code: "custom", path: ["lossType"], message: `repeated entries in [${lossTypes.join(", ")}]; name each loss once` });
  if (loss.lossWeights !== undefined && loss.lossWeights.length !== lossTypes.length) {
    ctx.addIssue({ code: "custom", path: ["lossWeights"], message: `has ${loss.lossWeights.length} entries for ${lossTypes.length} loss types; give one weight per lossType entry` });
  }
  const options = { ...loss, lossTypes, lossWeights: loss.lossWeights ?? lossTypes.map(() => 1), bcoRunningMean: undefined } as ResolvedPreferenceLossOptions;
  for (const t of lossTypes) for (const p of preferenceLossDefinition(t)?.check?.(options) ?? []) ctx.addIssue({ code: "custom", path: [p.option], message: p.message });
  return loss;
}) as unknown as z.ZodType<DpoLossConfig, DpoLossConfigInput>;

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
    /** The losses and their hyperparameters (see DpoLossConfigSchema). @default sigmoid with the table's defaults */
    loss: DpoLossConfigSchema.prefault({}),
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
export function lossTypesOf(config: Pick<DpoConfig, "loss">): PreferenceLossName[] {
  return typeof config.loss.lossType === "string" ? [config.loss.lossType] : [...config.loss.lossType];
}

/** Reference cache directory of a run. */
export function referenceCacheDir(config: Pick<DpoConfig, "outputDir" | "reference">): string {
  return config.reference.cacheDir ?? join(config.outputDir, "ref-logps");
}
