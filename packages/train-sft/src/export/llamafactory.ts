// Export to LLaMA-Factory (hiyouga/LLaMA-Factory) for multi-GPU runs: datasets in its sharegpt format, dataset_info.json
// entries, one YAML training config per curriculum phase and DeepSpeed ZeRO-3. Key names and formats follow its
// `data/README.md`, `examples/train_full/*.yaml`, `examples/deepspeed/ds_z3_config.json` and `src/llamafactory/hparams/`.

import { once } from "node:events";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { type ChatTemplateMessage, type Sample, writeFileAtomic } from "@infialign/data";
import { z } from "zod";
import type { LoraOptions, OptimizerConfig, PhaseConfig } from "../curriculum.js";
import { sampleConversation } from "../data/tokenize.js";

const PREFIX = "[infialign/train-sft] llamafactory-export";

// ---------------------------------------------------------------------------------------------------------------------
// ShareGPT records

export type SharegptRole = "human" | "gpt" | "observation" | "function_call";

export interface SharegptTurn {
  from: SharegptRole;
  value: string;
}

/**
 * One ShareGPT SFT record: `conversations` alternate human/observation (odd positions) and gpt/function_call (even).
 * `system` is on every record, `""` when there is none: dataset_info.json maps the column, and LLaMA-Factory's
 * converter reads a mapped column from every row (`example["system"]`, a KeyError when the file has no such key); an
 * empty system prompt is what it uses for an unmapped column too, so `""` means "the template's default".
 */
export interface SharegptRecord {
  conversations: SharegptTurn[];
  system: string;
}

const ROLE_TO_SHAREGPT: Record<string, SharegptRole> = { user: "human", assistant: "gpt", tool: "observation" };

/**
 * Maps chat messages to ShareGPT turns: user → human, assistant → gpt, tool → observation; a leading system message
 * becomes the record's `system` (`""` without one). Throws (naming `where`) when turns do not alternate as LLaMA-Factory requires
 * (human/observation first and at every odd position, gpt at every even one), since LLaMA-Factory drops such records
 * with only a warning.
 */
export function toSharegptMessages(messages: readonly ChatTemplateMessage[], where: string): SharegptRecord {
  const record: SharegptRecord = { conversations: [], system: "" };
  messages.forEach((m, i) => {
    if (m.role === "system") {
      if (i !== 0) throw new Error(`${PREFIX}: ${where}: a system message at position ${i}; ShareGPT allows one, first.`);
      record.system = m.content;
      return;
    }
    const from = ROLE_TO_SHAREGPT[m.role];
    if (from === undefined) throw new Error(`${PREFIX}: ${where}: role "${m.role}" has no ShareGPT equivalent (user, assistant, tool, system).`);
    record.conversations.push({ from, value: m.content });
  });
  const problem = alternationProblem(record.conversations);
  if (problem) throw new Error(`${PREFIX}: ${where}: ${problem}. Merge consecutive turns of the same side before exporting.`);
  return record;
}

/** A canonical sample as a ShareGPT SFT record, the assistant turn carrying the CoT (`<think>…</think>` + answer, as tokenization does). */
export function toSharegptRecord(sample: Sample): SharegptRecord {
  const { prompt, completion } = sampleConversation(sample);
  return toSharegptMessages([...prompt, completion], `sample ${sample.id}`);
}

function alternationProblem(turns: readonly SharegptTurn[]): string | undefined {
  if (turns.length === 0) return "no turns";
  for (let i = 0; i < turns.length; i++) {
    const from = (turns[i] as SharegptTurn).from;
    const userSide = from === "human" || from === "observation";
    if (userSide !== (i % 2 === 0)) return `turn ${i + 1} is "${from}" but turns must alternate human/observation and gpt/function_call, starting with human`;
  }
  return undefined;
}

export const SharegptTurnSchema = z.object({ from: z.enum(["human", "gpt", "observation", "function_call"]), value: z.string() }).strict();

/**
 * ShareGPT SFT record as LLaMA-Factory's `data/README.md` documents it (`tools` omitted: not exported); `system` is
 * required because {@link sharegptDatasetInfo} maps it and the converter reads mapped columns from every row.
 */
export const SharegptRecordSchema = z
  .object({ conversations: z.array(SharegptTurnSchema).min(1), system: z.string() })
  .strict()
  .superRefine((r, ctx) => {
    const problem = alternationProblem(r.conversations);
    if (problem) ctx.addIssue({ code: "custom", path: ["conversations"], message: problem });
  });

// ---------------------------------------------------------------------------------------------------------------------
// dataset_info.json

/** Column names of `dataset_info.json` (`data/README.md`): canonical name → the field in the data file. */
export const DatasetColumnsSchema = z
  .object({
    prompt: z.string(),
    query: z.string(),
    response: z.string(),
    history: z.string(),
    messages: z.string(),
    system: z.string(),
    tools: z.string(),
    images: z.string(),
    videos: z.string(),
    audios: z.string(),
    chosen: z.string(),
    rejected: z.string(),
    kto_tag: z.string(),
  })
  .partial()
  .strict();

export const DatasetTagsSchema = z
  .object({
    role_tag: z.string(),
    content_tag: z.string(),
    user_tag: z.string(),
    assistant_tag: z.string(),
    observation_tag: z.string(),
    function_tag: z.string(),
    system_tag: z.string(),
  })
  .partial()
  .strict();

/** One `dataset_info.json` entry with only the keys LLaMA-Factory knows (`data/README.md`, `src/llamafactory/data/parser.py`). */
export const DatasetInfoEntrySchema = z
  .object({
    hf_hub_url: z.string(),
    ms_hub_url: z.string(),
    script_url: z.string(),
    cloud_file_name: z.string(),
    file_name: z.string(),
    formatting: z.enum(["alpaca", "sharegpt"]),
    ranking: z.boolean(),
    subset: z.string(),
    split: z.string(),
    folder: z.string(),
    num_samples: z.number().int().positive(),
    columns: DatasetColumnsSchema,
    tags: DatasetTagsSchema,
  })
  .partial()
  .strict()
  .refine((e) => [e.hf_hub_url, e.ms_hub_url, e.script_url, e.cloud_file_name, e.file_name].some((v) => v !== undefined), {
    message: "needs one of hf_hub_url, ms_hub_url, script_url, cloud_file_name, file_name",
  });
export type DatasetInfoEntry = z.infer<typeof DatasetInfoEntrySchema>;

/** ShareGPT tags for our records (`from` / `value`, human / gpt). */
export const SHAREGPT_TAGS = {
  role_tag: "from",
  content_tag: "value",
  user_tag: "human",
  assistant_tag: "gpt",
  observation_tag: "observation",
  function_tag: "function_call",
  system_tag: "system",
} as const;

/**
 * The `dataset_info.json` entry of a ShareGPT JSONL file written by this module (every row has `conversations` and
 * `system`, see {@link SharegptRecord}). With `ranking` (preference data), the `chosen` and `rejected` columns are
 * added, as LLaMA-Factory's ShareGPT DPO format expects. `numSamples` is written only when given: LLaMA-Factory then
 * draws that many rows (a random permutation of the file, topped up by sampling with replacement; `data/loader.py`),
 * so it resamples even when it equals the row count.
 */
export function sharegptDatasetInfo(fileName: string, options: { ranking?: boolean; numSamples?: number } = {}): DatasetInfoEntry {
  return {
    file_name: fileName,
    formatting: "sharegpt",
    ...(options.ranking ? { ranking: true } : {}),
    ...(options.numSamples !== undefined ? { num_samples: options.numSamples } : {}),
    columns: { messages: "conversations", system: "system", ...(options.ranking ? { chosen: "chosen", rejected: "rejected" } : {}) },
    tags: { ...SHAREGPT_TAGS },
  };
}

/**
 * Adds entries to `<dir>/dataset_info.json`, keeping the entries already there (so SFT and DPO exports can share one
 * data directory); an entry of the same name is replaced. Every entry is validated. Returns the file's path.
 */
export async function writeDatasetInfo(dir: string, entries: Record<string, DatasetInfoEntry>): Promise<string> {
  const path = join(dir, "dataset_info.json");
  let existing: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      existing = JSON.parse(await readFile(path, "utf8"));
    } catch (cause) {
      throw new Error(`${PREFIX}: ${path} exists but is not valid JSON; fix or delete it.`, { cause });
    }
  }
  const merged = { ...existing, ...entries };
  for (const [name, entry] of Object.entries(merged)) {
    const parsed = DatasetInfoEntrySchema.safeParse(entry);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(entry)"}: ${i.message}`).join("; ");
      throw new Error(`${PREFIX}: dataset_info.json entry "${name}" is invalid (${problems}).`);
    }
  }
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(merged, null, 2)}\n`);
  return path;
}

// ---------------------------------------------------------------------------------------------------------------------
// Training YAML

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/**
 * Keys of a LLaMA-Factory training YAML this project emits, each a field of its argument dataclasses (`hparams/`:
 * model, data, finetuning args) or of transformers' `Seq2SeqTrainingArguments`. Strict, so a misspelt key fails here
 * rather than on the cluster.
 */
export const LlamaFactoryTrainConfigSchema = z
  .object({
    // model
    model_name_or_path: z.string().min(1),
    trust_remote_code: z.boolean(),
    flash_attn: z.enum(["auto", "disabled", "sdpa", "fa2", "fa3"]),
    enable_liger_kernel: z.boolean(),
    // method
    stage: z.enum(["pt", "sft", "rm", "ppo", "dpo", "kto"]),
    do_train: z.boolean(),
    finetuning_type: z.enum(["full", "lora", "freeze"]),
    deepspeed: z.string(),
    lora_rank: z.number().int().positive(),
    lora_alpha: z.number().positive(),
    lora_dropout: z.number().min(0).lt(1),
    lora_target: z.string(),
    pref_beta: z.number(),
    pref_loss: z.enum(["sigmoid", "hinge", "ipo", "kto_pair", "orpo", "simpo"]),
    pref_ftx: z.number().min(0),
    pref_bco_weight: z.number().min(0),
    dpo_label_smoothing: z.number().min(0).max(0.5),
    simpo_gamma: z.number(),
    ld_alpha: z.number(),
    // dataset
    dataset: z.string().min(1),
    dataset_dir: z.string(),
    template: z.string().min(1),
    cutoff_len: z.number().int().positive(),
    max_samples: z.number().int().positive().nullable(),
    overwrite_cache: z.boolean(),
    preprocessing_num_workers: z.number().int().positive(),
    dataloader_num_workers: z.number().int().min(0),
    packing: z.boolean(),
    neat_packing: z.boolean(),
    mix_strategy: z.enum(["concat", "interleave_under", "interleave_over", "interleave_once"]),
    interleave_probs: z.string(),
    enable_thinking: z.boolean(),
    // output
    output_dir: z.string().min(1),
    logging_steps: z.number().int().positive(),
    save_steps: z.number().int().positive(),
    save_total_limit: z.number().int().positive(),
    plot_loss: z.boolean(),
    overwrite_output_dir: z.boolean(),
    save_only_model: z.boolean(),
    report_to: z.string(),
    // train
    per_device_train_batch_size: z.number().int().positive(),
    gradient_accumulation_steps: z.number().int().positive(),
    learning_rate: z.number().positive(),
    num_train_epochs: z.number().positive(),
    lr_scheduler_type: z.enum(["linear", "cosine", "constant", "constant_with_warmup", "cosine_with_min_lr", "inverse_sqrt", "polynomial"]),
    warmup_ratio: z.number().min(0).max(1),
    weight_decay: z.number().min(0),
    adam_beta1: z.number().min(0).lt(1),
    adam_beta2: z.number().min(0).lt(1),
    adam_epsilon: z.number().positive(),
    max_grad_norm: z.number().min(0),
    bf16: z.boolean(),
    seed: z.number().int().min(0),
    ddp_timeout: z.number().int().positive(),
    resume_from_checkpoint: scalar,
  })
  .partial()
  .required({ model_name_or_path: true, stage: true, do_train: true, finetuning_type: true, dataset: true, template: true, output_dir: true })
  .strict();
export type LlamaFactoryTrainConfig = z.infer<typeof LlamaFactoryTrainConfigSchema>;

/**
 * A number as PyYAML reads it back as a float: PyYAML (YAML 1.1) takes `2e-5` for a string, and only `2.0e-5` (a dot
 * in the mantissa, a signed exponent) for a number; LLaMA-Factory's examples write `1.0e-5` for that reason.
 */
export function pyYamlNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`${PREFIX}: cannot write ${x} to a LLaMA-Factory YAML; expected a finite number.`);
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return String(x);
  // Exponent form below 1e-3, as learning rates are usually written (2.0e-5 rather than 0.00002).
  const text = x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential() : x.toString();
  const [mantissa = "", exponent] = text.split("e");
  if (exponent === undefined) return mantissa;
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}e${exponent.startsWith("-") || exponent.startsWith("+") ? exponent : `+${exponent}`}`;
}

const PLAIN_STRING = /^[A-Za-z_./][\w./-]*$/;
const YAML_WORDS = /^(true|false|yes|no|on|off|null|y|n|~)$/i;

/**
 * Writes a LLaMA-Factory training config as YAML after validating it against {@link LlamaFactoryTrainConfigSchema}.
 * The config is flat (scalars only), so it is written by hand: numbers in PyYAML-safe form ({@link pyYamlNumber}),
 * strings plain when unambiguous, else double-quoted. `header` lines become `#` comments at the top.
 */
export function stringifyLlamaFactoryConfig(config: LlamaFactoryTrainConfig, header: readonly string[] = []): string {
  const parsed = LlamaFactoryTrainConfigSchema.safeParse(config);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`).join("; ");
    throw new Error(`${PREFIX}: invalid LLaMA-Factory training config (${problems}).`);
  }
  const lines = header.map((h) => `# ${h}`);
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    let text: string;
    if (value === null) text = "null";
    else if (typeof value === "boolean") text = String(value);
    else if (typeof value === "number") text = pyYamlNumber(value);
    else text = PLAIN_STRING.test(value) && !YAML_WORDS.test(value) ? value : JSON.stringify(value);
    lines.push(`${key}: ${text}`);
  }
  return `${lines.join("\n")}\n`;
}

/** `examples/deepspeed/ds_z3_config.json` as LLaMA-Factory ships it ("auto" values are filled from the training arguments). */
export const DS_Z3_CONFIG = {
  train_batch_size: "auto",
  train_micro_batch_size_per_gpu: "auto",
  gradient_accumulation_steps: "auto",
  gradient_clipping: "auto",
  zero_allow_untested_optimizer: true,
  fp16: { enabled: "auto", loss_scale: 0, loss_scale_window: 1000, initial_scale_power: 16, hysteresis: 2, min_loss_scale: 1 },
  bf16: { enabled: "auto" },
  zero_optimization: {
    stage: 3,
    overlap_comm: false,
    contiguous_gradients: true,
    sub_group_size: 1e9,
    reduce_bucket_size: "auto",
    stage3_prefetch_bucket_size: "auto",
    stage3_param_persistence_threshold: "auto",
    stage3_max_live_parameters: 1e9,
    stage3_max_reuse_distance: 1e9,
    stage3_gather_16bit_weights_on_model_save: true,
  },
} as const;

// ---------------------------------------------------------------------------------------------------------------------
// SFT curriculum export

/** One curriculum phase to export: its config (from `CurriculumConfig.phases`) and its samples. */
export interface ExportPhase {
  config: PhaseConfig;
  samples: Iterable<Sample> | AsyncIterable<Sample>;
}

export interface LlamaFactoryExportOptions {
  phases: readonly ExportPhase[];
  /** Directory written: `data/`, `<phase>.yaml`, `ds_z3_config.json`, `train.sh`, `README.md`. */
  outDir: string;
  /** Prefix of the dataset names: phase `p` is dataset `<datasetName>_<p>`. */
  datasetName: string;
  /** The base model phase 1 starts from (Hub id or path on the cluster). */
  modelNameOrPath: string;
  /** LLaMA-Factory chat template. @default "qwen" (Qwen2.5, Qwen2.5-Math) */
  template?: string;
  /** Where checkpoints go, relative to `outDir` (where train.sh runs) or absolute: phase p writes `<outputRoot>/<p>`. @default "saves/<datasetName>" */
  outputRoot?: string;
  /** GPUs of the run: the phase's global batch (batchSize × gradAccumulation) is split as perDeviceBatchSize × numGpus × accumulation. @default 8 */
  numGpus?: number;
  /** @default 1 */
  perDeviceBatchSize?: number;
  /** AdamW settings (`CurriculumConfig.optimizer`). @default transformers' (β 0.9 / 0.999, ε 1e-8, wd 0, clip 1) */
  optimizer?: OptimizerConfig;
  /** LoRA instead of full fine-tuning (`CurriculumConfig.lora`). @default full */
  lora?: LoraOptions;
  /** @default 42 */
  seed?: number;
  /** @default 10 */
  loggingSteps?: number;
  /** @default 500 */
  saveSteps?: number;
  saveTotalLimit?: number;
  /** @default "none" */
  reportTo?: string;
  /**
   * `num_samples` per phase name, written to dataset_info.json only for the phases named here: LLaMA-Factory then
   * trains on that many rows drawn from the file (a random permutation, topped up by sampling with replacement), e.g.
   * to up- or down-weight a phase. @default none (every row once, in file order before LLaMA-Factory's shuffle)
   */
  numSamples?: Record<string, number>;
}

export interface LlamaFactoryExportResult {
  /** Files written, relative to outDir. */
  files: string[];
  /** Records written per phase. */
  samples: Record<string, number>;
  /** The training config of each phase, as written. */
  configs: Record<string, LlamaFactoryTrainConfig>;
}

/**
 * Writes an SFT curriculum as consecutive LLaMA-Factory runs: per phase a ShareGPT JSONL dataset (CoT inside the
 * assistant turn), its `dataset_info.json` entry and a YAML config (stage sft, DeepSpeed ZeRO-3); phase k+1's
 * `model_name_or_path` is phase k's `output_dir`. `train.sh` runs them in order (`llamafactory-cli train phase1.yaml &&
 * llamafactory-cli train phase2.yaml`).
 */
export async function exportLlamaFactory(options: LlamaFactoryExportOptions): Promise<LlamaFactoryExportResult> {
  const { phases, outDir, datasetName, modelNameOrPath, template = "qwen", numGpus = 8, perDeviceBatchSize = 1 } = options;
  if (phases.length === 0) throw new Error(`${PREFIX}: no phases to export; pass at least one.`);
  if (!/^[\w.-]+$/.test(datasetName)) throw new Error(`${PREFIX}: datasetName "${datasetName}" must use letters, digits, '_', '.' or '-' (it names files).`);
  const outputRoot = options.outputRoot ?? `saves/${datasetName}`;
  const unknownPhases = Object.keys(options.numSamples ?? {}).filter((name) => !phases.some((p) => p.config.name === name));
  if (unknownPhases.length > 0) throw new Error(`${PREFIX}: numSamples names unknown phase(s) ${unknownPhases.join(", ")}; use the phase names (${phases.map((p) => p.config.name).join(", ")}).`);
  const dataDir = join(outDir, "data");
  await mkdir(dataDir, { recursive: true });
  const result: LlamaFactoryExportResult = { files: [], samples: {}, configs: {} };
  const entries: Record<string, DatasetInfoEntry> = {};
  let previousOutput: string | undefined;
  for (const { config: phase, samples } of phases) {
    const perStep = perDeviceBatchSize * numGpus;
    const globalBatch = phase.batchSize * phase.gradAccumulation;
    if (globalBatch % perStep !== 0) {
      throw new Error(`${PREFIX}: phase "${phase.name}" has global batch ${globalBatch} (batchSize ${phase.batchSize} × gradAccumulation ${phase.gradAccumulation}), not a multiple of perDeviceBatchSize ${perDeviceBatchSize} × numGpus ${numGpus}; change one of them.`);
    }
    const dataset = `${datasetName}_${phase.name}`;
    const fileName = `${dataset}.jsonl`;
    const count = await writeJsonl(join(dataDir, fileName), mapSamples(samples, toSharegptRecord));
    const numSamples = options.numSamples?.[phase.name];
    entries[dataset] = sharegptDatasetInfo(fileName, numSamples === undefined ? {} : { numSamples });
    result.samples[phase.name] = count;
    result.files.push(`data/${fileName}`);
    const outputDir = `${outputRoot}/${phase.name}`;
    const opt = options.optimizer;
    const config: LlamaFactoryTrainConfig = {
      model_name_or_path: previousOutput ?? modelNameOrPath,
      trust_remote_code: true,
      stage: "sft",
      do_train: true,
      finetuning_type: options.lora ? "lora" : "full",
      ...(options.lora
        ? { lora_rank: options.lora.r, lora_alpha: options.lora.alpha, lora_dropout: options.lora.dropout, lora_target: options.lora.targetModules.join(",") }
        : {}),
      deepspeed: "ds_z3_config.json",
      dataset,
      dataset_dir: "data",
      template,
      cutoff_len: phase.maxLength,
      overwrite_cache: true,
      preprocessing_num_workers: 16,
      dataloader_num_workers: 4,
      // LLaMA-Factory packs greedily; neat_packing keeps packed documents from attending to each other, as ours do.
      packing: phase.packing !== "none",
      neat_packing: phase.packing !== "none",
      output_dir: outputDir,
      logging_steps: options.loggingSteps ?? 10,
      save_steps: options.saveSteps ?? 500,
      ...(options.saveTotalLimit !== undefined ? { save_total_limit: options.saveTotalLimit } : {}),
      plot_loss: true,
      overwrite_output_dir: true,
      save_only_model: false,
      report_to: options.reportTo ?? "none",
      per_device_train_batch_size: perDeviceBatchSize,
      gradient_accumulation_steps: globalBatch / perStep,
      learning_rate: phase.learningRate,
      num_train_epochs: phase.epochs,
      lr_scheduler_type: phase.scheduler,
      warmup_ratio: phase.warmupRatio,
      weight_decay: opt?.weightDecay ?? 0,
      adam_beta1: opt?.beta1 ?? 0.9,
      adam_beta2: opt?.beta2 ?? 0.999,
      adam_epsilon: opt?.epsilon ?? 1e-8,
      max_grad_norm: opt?.maxGradNorm ?? 1,
      bf16: true,
      seed: options.seed ?? 42,
      ddp_timeout: 180000000,
    };
    const yamlName = `${phase.name}.yaml`;
    const header = [
      `LLaMA-Factory SFT, curriculum phase "${phase.name}" (written by @infialign/train-sft).`,
      `Global batch ${globalBatch} = ${perDeviceBatchSize} per device × ${numGpus} GPUs × ${globalBatch / perStep} accumulation.`,
      `Run from this directory: llamafactory-cli train ${yamlName}`,
    ];
    await writeFileAtomic(join(outDir, yamlName), stringifyLlamaFactoryConfig(config, header));
    result.files.push(yamlName);
    result.configs[phase.name] = config;
    previousOutput = outputDir;
  }
  await writeDatasetInfo(dataDir, entries);
  result.files.push("data/dataset_info.json");
  await writeFileAtomic(join(outDir, "ds_z3_config.json"), `${JSON.stringify(DS_Z3_CONFIG, null, 2)}\n`);
  result.files.push("ds_z3_config.json");
  const commands = phases.map((p) => `llamafactory-cli train ${p.config.name}.yaml`);
  const script = ["#!/usr/bin/env bash", "# Curriculum SFT: each phase starts from the previous phase's output_dir.", "set -euo pipefail", 'cd "$(dirname "$0")"', commands.join(" && \\\n  "), ""].join("\n");
  await writeFileAtomic(join(outDir, "train.sh"), script);
  result.files.push("train.sh");
  await writeFileAtomic(join(outDir, "README.md"), readme(options, outputRoot, commands, result));
  result.files.push("README.md");
  return result;
}

function readme(options: LlamaFactoryExportOptions, outputRoot: string, commands: string[], result: LlamaFactoryExportResult): string {
  const rows = options.phases.map((p) => {
    const c = result.configs[p.config.name] as LlamaFactoryTrainConfig;
    return `| ${p.config.name} | ${result.samples[p.config.name]} | ${c.model_name_or_path} | ${c.output_dir} | ${pyYamlNumber(c.learning_rate as number)} | ${c.num_train_epochs} | ${c.cutoff_len} |`;
  });
  return [
    `# ${options.datasetName}: LLaMA-Factory SFT export`,
    "",
    "Written by `@infialign/train-sft`. The curriculum runs as consecutive LLaMA-Factory trainings; each phase starts from the previous phase's `output_dir`.",
    "",
    "| phase | samples | starts from | output_dir | learning rate | epochs | cutoff_len |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "## Run",
    "",
    "From this directory, with LLaMA-Factory installed (`pip install -e \".[torch,metrics,deepspeed]\"` in its checkout):",
    "",
    "```bash",
    commands.join(" && \\\n  "),
    "```",
    "",
    "or `bash train.sh`. Multi-node: set `FORCE_TORCHRUN=1 NNODES=… NODE_RANK=… MASTER_ADDR=… MASTER_PORT=…` as LLaMA-Factory's README describes.",
    "",
    "## Files",
    "",
    "- `data/*.jsonl`: ShareGPT records (`conversations` human/gpt, `system`); the assistant turn holds the chain of thought as `<think>\\n…\\n</think>\\n\\nanswer`.",
    "- `data/dataset_info.json`: the dataset entries (`formatting: sharegpt`, `columns`, `tags`).",
    "- `<phase>.yaml`: training configs (stage sft, DeepSpeed ZeRO-3 via `ds_z3_config.json`, bf16).",
    `- Checkpoints go to \`${outputRoot}/<phase>\`.`,
    "",
  ].join("\n");
}

async function* mapSamples<T>(samples: Iterable<Sample> | AsyncIterable<Sample>, fn: (s: Sample) => T): AsyncGenerator<T> {
  for await (const s of samples) yield fn(s);
}

/** Streams records to `path` as JSON Lines (write to a temporary file, then rename). Returns the record count. */
async function writeJsonl(path: string, records: AsyncIterable<unknown>): Promise<number> {
  const temp = `${path}.tmp-${process.pid}`;
  const out = createWriteStream(temp);
  let count = 0;
  try {
    for await (const record of records) {
      if (!out.write(`${JSON.stringify(record)}\n`)) await once(out, "drain");
      count++;
    }
    out.end();
    await once(out, "finish");
    await rename(temp, path);
  } catch (error) {
    out.destroy();
    await rm(temp, { force: true });
    throw error;
  }
  return count;
}
