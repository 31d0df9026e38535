import { z } from "zod";
import { parseConfig, readConfigFile } from "./configFile.js";
import { SCHEDULE_TYPES } from "./core/schedule.js";
import { PACKING_STRATEGIES } from "./data/packing.js";

const PREFIX = "[infialign/train-sft] curriculum";

/** Which canonical samples a phase trains on. */
export const DataSelectionSchema = z
  .object({
    /** Files, directories (Hugging Face layout) or globs of canonical `Sample` shards (`@infialign/data` `resolveInputs`); relative paths are resolved against the config file's directory. */
    files: z.array(z.string().min(1)).min(1),
    /** Keep samples whose `meta.level` lies in [min, max] (inclusive); samples without a level are dropped when set. @default no bound */
    difficulty: z
      .object({ min: z.number().optional(), max: z.number().optional() })
      .strict()
      .refine((d) => d.min === undefined || d.max === undefined || d.min <= d.max, { message: "min must not exceed max" })
      .optional(),
    /** Keep samples whose `domain` is one of these. @default all */
    domains: z.array(z.string().min(1)).min(1).optional(),
    /** Keep samples whose `source` is one of these. @default all */
    sources: z.array(z.string().min(1)).min(1).optional(),
    /** Keep at most this many samples (a seeded random subset, in file order). @default all */
    maxSamples: z.number().int().positive().optional(),
  })
  .strict();
export type DataSelection = z.infer<typeof DataSelectionSchema>;

/** Defaults of a phase: TRL's `SFTConfig` / transformers' `TrainingArguments` where they exist (`trl/trainer/sft_config.py`). */
export const DEFAULT_PHASE = {
  epochs: 3,
  learningRate: 2e-5,
  warmupRatio: 0,
  scheduler: "linear",
  batchSize: 8,
  gradAccumulation: 1,
  maxLength: 1024,
  packing: "none",
  paddingFree: false,
} as const;

export const PhaseSchema = z
  .object({
    /** Shown in logs and used as the checkpoint sub-directory. */
    name: z.string().regex(/^[A-Za-z0-9][\w.-]*$/, "use letters, digits, '.', '_' or '-' (it names a directory)"),
    data: DataSelectionSchema,
    /** Passes over the phase's data. @default 3 (transformers `num_train_epochs`) */
    epochs: z.number().positive().default(DEFAULT_PHASE.epochs),
    /** Peak learning rate. @default 2e-5 (TRL SFT) */
    learningRate: z.number().positive().default(DEFAULT_PHASE.learningRate),
    /** Fraction of the phase's optimiser steps spent warming up linearly from 0. @default 0 */
    warmupRatio: z.number().min(0).max(1).default(DEFAULT_PHASE.warmupRatio),
    /** Learning-rate schedule (transformers `lr_scheduler_type`, `core/schedule.ts`). @default "linear" (transformers) */
    scheduler: z.enum(SCHEDULE_TYPES).default(DEFAULT_PHASE.scheduler),
    /** Sequences (or packed rows) per micro-batch. @default 8 (transformers `per_device_train_batch_size`) */
    batchSize: z.number().int().positive().default(DEFAULT_PHASE.batchSize),
    /** Micro-batches per optimiser step; global batch = batchSize × gradAccumulation. @default 1 */
    gradAccumulation: z.number().int().positive().default(DEFAULT_PHASE.gradAccumulation),
    /** Tokens per sequence / packed row (TRL `max_length`). @default 1024 */
    maxLength: z.number().int().positive().default(DEFAULT_PHASE.maxLength),
    /** TRL `packing_strategy`, or "none" for padded batches. @default "none" (TRL `packing=False`) */
    packing: z.enum(["none", ...PACKING_STRATEGIES]).default(DEFAULT_PHASE.packing),
    /**
     * Concatenate each micro-batch into one row without padding (TRL `padding_free`, `DataCollatorWithFlattening`):
     * per-document positions and attention segments keep the loss equal to padded batches.
     * @default false
     */
    paddingFree: z.boolean().default(DEFAULT_PHASE.paddingFree),
  })
  .strict();
export type PhaseConfig = z.infer<typeof PhaseSchema>;

/** AdamW settings shared by every phase. Defaults: transformers `TrainingArguments`. */
export const OptimizerSchema = z
  .object({
    /** @default 0.9 */
    beta1: z.number().min(0).lt(1).default(0.9),
    /** @default 0.999 */
    beta2: z.number().min(0).lt(1).default(0.999),
    /** @default 1e-8 */
    epsilon: z.number().positive().default(1e-8),
    /** Decoupled weight decay (Loshchilov & Hutter 2019). @default 0 */
    weightDecay: z.number().min(0).default(0),
    /** Global-norm gradient clipping; 0 disables it. @default 1 */
    maxGradNorm: z.number().min(0).default(1),
  })
  .strict();
export type OptimizerConfig = z.infer<typeof OptimizerSchema>;

/** LoRA instead of full fine-tuning (names as PEFT's `LoraConfig`, mapped to `@infialign/model`'s `PeftLoraConfig`). */
export const LoraOptionsSchema = z
  .object({
    /** Rank. @default 16 */
    r: z.number().int().positive().default(16),
    /** Scale numerator: updates are (alpha / r)·B·A. @default 32 */
    alpha: z.number().positive().default(32),
    /** @default 0.05 */
    dropout: z.number().min(0).lt(1).default(0.05),
    /** Projections that get adapters. @default all attention and MLP projections */
    targetModules: z.array(z.string().min(1)).min(1).default(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
  })
  .strict();
export type LoraOptions = z.infer<typeof LoraOptionsSchema>;

export const CurriculumConfigSchema = z
  .object({
    /** Model directory (Hugging Face layout: config.json + safetensors) the first phase starts from. */
    model: z.string().min(1),
    /** Tokenizer directory. @default model */
    tokenizer: z.string().min(1).optional(),
    /** Run directory: one sub-directory per phase with checkpoints, metrics and the final model. */
    outputDir: z.string().min(1),
    /** Seed of data order, dropout and sampling. @default 42 (transformers) */
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(42),
    /** Optimiser steps between metric lines. @default 10 (TRL SFT) */
    loggingSteps: z.number().int().positive().default(10),
    /** Optimiser steps between evaluations on the held-out split; undefined = evaluate at the end of each phase only. */
    evalSteps: z.number().int().positive().optional(),
    /** Fraction of each phase's samples held out for evaluation. @default 0 */
    evalFraction: z.number().min(0).lt(1).default(0),
    /** Optimiser steps between checkpoints. @default 500 (transformers) */
    saveSteps: z.number().int().positive().default(500),
    /** Checkpoints kept per phase (oldest deleted first); undefined keeps all. */
    saveTotalLimit: z.number().int().positive().optional(),
    optimizer: OptimizerSchema.default(OptimizerSchema.parse({})),
    /**
     * Training engine (@infialign/model createTrainingEngine): `onnxruntime` runs forward and backward as one
     * onnxruntime-node graph (the fast path), `tfjs` the tfjs reference, `auto` onnxruntime when it loads. @default "auto"
     */
    engine: z.enum(["auto", "onnxruntime", "tfjs"]).default("auto"),
    /** Threads of the onnxruntime engine. @default the machine's cores */
    threads: z.number().int().positive().optional(),
    /** Train LoRA adapters instead of all weights. @default undefined (full fine-tuning) */
    lora: LoraOptionsSchema.optional(),
    /** Also train on prompt tokens (TRL `completion_only_loss: false`). @default false (loss on the completion only) */
    trainOnPrompt: z.boolean().default(false),
    /** Run in order; phase k+1 starts from phase k's final weights (InfiAlign's curriculum). */
    phases: z.array(PhaseSchema).min(1),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.phases.forEach((phase, i) => {
      if (seen.has(phase.name)) ctx.addIssue({ code: "custom", path: ["phases", i, "name"], message: `duplicate phase name "${phase.name}"; names must be unique` });
      seen.add(phase.name);
    });
  });
export type CurriculumConfig = z.infer<typeof CurriculumConfigSchema>;
/** A config as written in a file: every defaulted field optional. */
export type CurriculumConfigInput = z.input<typeof CurriculumConfigSchema>;

/**
 * Validates a run config and applies the defaults, reporting every invalid field at once:
 * `[infialign/train-sft] curriculum: run.yaml is invalid (2 problems): phases.1.learningRate: …`.
 * Fields of `phaseDefaults` (a top-level object in the file) fill each phase's missing fields first.
 */
export function resolveCurriculumConfig(input: unknown, source = "config"): CurriculumConfig {
  return parseConfig(CurriculumConfigSchema, applyPhaseDefaults(input), PREFIX, source);
}

/**
 * Reads a run config from a `.json`, `.yaml` or `.yml` file and resolves it; relative `model`, `tokenizer`, `outputDir`
 * and data `files` are taken relative to the file's directory, so a config works from any working directory.
 */
export async function loadCurriculumConfig(path: string): Promise<CurriculumConfig> {
  const file = await readConfigFile(path, PREFIX);
  const config = resolveCurriculumConfig(file.raw, file.name);
  const abs = file.resolvePath;
  return {
    ...config,
    model: abs(config.model),
    ...(config.tokenizer === undefined ? {} : { tokenizer: abs(config.tokenizer) }),
    outputDir: abs(config.outputDir),
    phases: config.phases.map((phase) => ({ ...phase, data: { ...phase.data, files: phase.data.files.map(abs) } })),
  };
}

function applyPhaseDefaults(input: unknown): unknown {
  if (typeof input !== "object" || input === null || !("phaseDefaults" in input)) return input;
  const { phaseDefaults, ...rest } = input as { phaseDefaults: unknown; phases?: unknown };
  if (typeof phaseDefaults !== "object" || phaseDefaults === null || !Array.isArray(rest.phases)) return { ...rest, phaseDefaults };
  return { ...rest, phases: rest.phases.map((p: unknown) => (typeof p === "object" && p !== null ? { ...phaseDefaults, ...p } : p)) };
}

/** Hyperparameters that change with the model and hardware; everything else in the recipe stays as published. */
export interface RecipeScale {
  /** Tokens per sequence. */
  maxLength: number;
  /** Micro-batch size. */
  batchSize: number;
  /** Micro-batches per optimiser step. */
  gradAccumulation: number;
  epochs: number;
  learningRate: number;
}

/**
 * Named scales of {@link infialignRecipe}:
 * - `paper` (7B on a GPU cluster): InfiR2's re-run of InfiAlign SFT (InfiXAI/InfiR2 `docs/SFT.md`): 32k context,
 *   5 epochs, global batch 64 (here 1 × 64 accumulation; exporters split it across GPUs), lr 2e-5.
 * - `cpu` (a few-million-parameter model on the wasm/cpu backend): 1024-token rows (TRL's default `max_length`),
 *   global batch 8 (8 × 1), 5 epochs, lr 1e-4. The larger learning rate is our choice, not the paper's: 2e-5 barely
 *   moves a tiny model in the few hundred steps a CPU run affords.
 */
export const RECIPE_SCALES = {
  paper: { maxLength: 32_768, batchSize: 1, gradAccumulation: 64, epochs: 5, learningRate: 2e-5 },
  cpu: { maxLength: 1024, batchSize: 8, gradAccumulation: 1, epochs: 5, learningRate: 1e-4 },
} as const satisfies Record<string, RecipeScale>;

export interface InfialignRecipeOptions {
  /** Phase 1: foundational data (InfiAlign-SFT-72k in InfiR2). */
  phase1: DataSelection;
  /** Phase 2: harder / advanced data, trained on top of phase 1's weights (InfiAlign-SFT-165k). */
  phase2: DataSelection;
  model: string;
  outputDir: string;
  /** A named scale or explicit values. @default "paper" */
  scale?: keyof typeof RECIPE_SCALES | RecipeScale;
  /** @default "bfd" */
  packing?: PhaseConfig["packing"];
  /** @default 42 */
  seed?: number;
  tokenizer?: string;
}

/**
 * InfiAlign's two-phase SFT curriculum with the published hyperparameters (REFERENCE.md §0, from InfiR2 `docs/SFT.md`,
 * which re-runs InfiAlign's SFT): both phases with cosine decay after a 5% linear warmup, AdamW β = (0.9, 0.95),
 * weight decay 0. The InfiAlign paper (arXiv 2508.05496) gives the two-stage design (foundational, then advanced data);
 * epochs, batch, context and lr come from InfiR2. Clipping at 1.0 and ε = 1e-8 are transformers defaults (not
 * published). Packing defaults to `bfd`, as LLaMA-Factory-style long-context SFT packs sequences.
 */
export function infialignRecipe(options: InfialignRecipeOptions): CurriculumConfig {
  const scale = typeof options.scale === "object" ? options.scale : RECIPE_SCALES[options.scale ?? "paper"];
  if (scale === undefined) throw new Error(`[infialign/train-sft] curriculum: infialignRecipe option scale must be one of ${Object.keys(RECIPE_SCALES).join(", ")} or an object; got ${JSON.stringify(options.scale)}.`);
  const phase = (name: string, data: DataSelection) => ({ name, data, ...scale, warmupRatio: 0.05, scheduler: "cosine" as const, packing: options.packing ?? "bfd" });
  return resolveCurriculumConfig(
    {
      model: options.model,
      ...(options.tokenizer === undefined ? {} : { tokenizer: options.tokenizer }),
      outputDir: options.outputDir,
      seed: options.seed ?? 42,
      optimizer: { beta1: 0.9, beta2: 0.95, weightDecay: 0 },
      phases: [phase("phase1", options.phase1), phase("phase2", options.phase2)],
    },
    "infialignRecipe",
  );
}
