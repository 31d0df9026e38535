// Export of DPO pairs and settings to LLaMA-Factory (hiyouga/LLaMA-Factory) for multi-GPU runs: the ShareGPT preference
// format (`data/README.md`, "ranking": true), a dataset_info.json entry and a training YAML (stage dpo; keys from
// `examples/train_lora/qwen3_lora_dpo.yaml` and `src/llamafactory/hparams/finetuning_args.py` L171-200).
// The generic pieces (message mapping, dataset_info merging, PyYAML-safe YAML, the ZeRO-3 config) are
// `@infialign/train-sft`'s; this module adds the stricter preference record and DPO YAML schemas.

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Message, writeFileAtomic } from "@infialign/data";
import { DS_Z3_CONFIG, LlamaFactoryTrainConfigSchema, sharegptDatasetInfo, stringifyLlamaFactoryConfig, toSharegptMessages, writeDatasetInfo, writeJsonl } from "@infialign/train-sft";
import { z } from "zod";
import type { LlamaFactoryLossMapping, PreferenceLossName, ResolvedPreferenceLossOptions } from "../losses/definition.js";
import { lossHyperparameters, preferenceLossDefinition, preferenceLosses } from "../losses/table.js";
import { DEFAULT_PREFERENCE_LOSS_OPTIONS } from "../losses.js";
import type { PreferenceRecord } from "../pairs/pairStage.js";

const PREFIX = "[infialign/train-dpo] llamafactory-export";

/**
 * `pref_loss` values LLaMA-Factory implements (`finetuning_args.py`); `kto_pair` has no counterpart here. Which of our
 * losses maps to which is the loss table's `llamaFactory` entry.
 */
export const LLAMAFACTORY_PREF_LOSSES = ["sigmoid", "hinge", "ipo", "orpo", "simpo"] as const;
export type LlamaFactoryPrefLoss = (typeof LLAMAFACTORY_PREF_LOSSES)[number];

// ---------------------------------------------------------------------------------------------------------------------
// Records

export interface SharegptTurn {
  from: "human" | "gpt";
  value: string;
}

/**
 * A ShareGPT DPO record: the prompt turns in `conversations` (ending with a human turn), one gpt turn each in
 * `chosen`/`rejected`, and `system` on every record (`""` without one: LLaMA-Factory's converter reads every column
 * dataset_info.json maps, and `""` is what it uses for an unmapped one).
 */
export interface SharegptPreferenceRecord {
  conversations: SharegptTurn[];
  system: string;
  chosen: SharegptTurn;
  rejected: SharegptTurn;
}

const TurnSchema = z.object({ from: z.enum(["human", "gpt"]), value: z.string() }).strict();

/** The ShareGPT DPO record of LLaMA-Factory's `data/README.md`, as this module writes it. */
export const SharegptPreferenceRecordSchema = z
  .object({
    conversations: z.array(TurnSchema).min(1),
    system: z.string(),
    chosen: TurnSchema.refine((t) => t.from === "gpt", 'must be {from: "gpt"}'),
    rejected: TurnSchema.refine((t) => t.from === "gpt", 'must be {from: "gpt"}'),
  })
  .strict()
  .superRefine((r, ctx) => {
    r.conversations.forEach((t, i) => {
      const expected = i % 2 === 0 ? "human" : "gpt";
      if (t.from !== expected) ctx.addIssue({ code: "custom", path: ["conversations", i, "from"], message: `turn ${i + 1} must be "${expected}" (turns alternate, starting and ending with human)` });
    });
    if (r.conversations.length % 2 === 0) ctx.addIssue({ code: "custom", path: ["conversations"], message: "must end with a human turn (the answer goes in chosen/rejected)" });
  });

/**
 * Maps a {@link PreferenceRecord} (TRL conversational preference format) to LLaMA-Factory's ShareGPT DPO record: the
 * prompt through train-sft's `toSharegptMessages`, then checked against the stricter preference schema (human/gpt
 * only, ending with a human turn).
 */
export function toSharegptPreference(record: Pick<PreferenceRecord, "id" | "prompt" | "chosen" | "rejected">): SharegptPreferenceRecord {
  const where = `record ${record.id}`;
  const chosen = answerTurn(record.chosen, where, "chosen");
  const rejected = answerTurn(record.rejected, where, "rejected");
  let prompt: ReturnType<typeof toSharegptMessages>;
  try {
    prompt = toSharegptMessages(record.prompt, where);
  } catch (cause) {
    throw new Error(`${PREFIX}: ${where}: the prompt does not map to ShareGPT (${(cause as Error).message}).`, { cause });
  }
  const out = { conversations: prompt.conversations, system: prompt.system ?? "", chosen, rejected };
  const parsed = SharegptPreferenceRecordSchema.safeParse(out);
  if (!parsed.success) throw new Error(`${PREFIX}: ${where}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}.`);
  return parsed.data as SharegptPreferenceRecord;
}

function answerTurn(messages: readonly Message[], where: string, field: string): SharegptTurn {
  if (messages.length !== 1 || messages[0]!.role !== "assistant") {
    throw new Error(`${PREFIX}: ${where}: "${field}" must be exactly one assistant message, got ${messages.map((m) => m.role).join(", ") || "none"}.`);
  }
  return { from: "gpt", value: messages[0]!.content };
}

// ---------------------------------------------------------------------------------------------------------------------
// dataset_info.json

/** The `dataset_info.json` entry keys this module writes (a subset of `data/README.md`'s), strict. */
export const PreferenceDatasetInfoSchema = z
  .object({
    file_name: z.string().min(1),
    formatting: z.literal("sharegpt"),
    ranking: z.literal(true),
    num_samples: z.number().int().positive().optional(),
    columns: z.object({ messages: z.literal("conversations"), system: z.literal("system"), chosen: z.literal("chosen"), rejected: z.literal("rejected") }).strict(),
    tags: z
      .object({
        role_tag: z.literal("from"),
        content_tag: z.literal("value"),
        user_tag: z.literal("human"),
        assistant_tag: z.literal("gpt"),
        observation_tag: z.literal("observation").optional(),
        function_tag: z.literal("function_call").optional(),
        system_tag: z.literal("system"),
      })
      .strict(),
  })
  .strict();
export type PreferenceDatasetInfo = z.infer<typeof PreferenceDatasetInfoSchema>;

/**
 * The `dataset_info.json` entry of a ShareGPT preference file (train-sft's `sharegptDatasetInfo` with ranking).
 * `numSamples` only when LLaMA-Factory should resample the file to that many rows.
 */
export function preferenceDatasetInfo(fileName: string, numSamples?: number): PreferenceDatasetInfo {
  return PreferenceDatasetInfoSchema.parse(sharegptDatasetInfo(fileName, { ranking: true, ...(numSamples === undefined ? {} : { numSamples }) }));
}

// ---------------------------------------------------------------------------------------------------------------------
// Training YAML

/** Keys of the DPO training YAML this module writes, each a LLaMA-Factory / transformers argument. Strict. */
export const LlamaFactoryDpoConfigSchema = LlamaFactoryTrainConfigSchema.pick({
    model_name_or_path: true,
    trust_remote_code: true,
    deepspeed: true,
    pref_ftx: true,
    dataset: true,
    dataset_dir: true,
    template: true,
    cutoff_len: true,
    preprocessing_num_workers: true,
    output_dir: true,
    logging_steps: true,
    save_steps: true,
    plot_loss: true,
    overwrite_output_dir: true,
    save_only_model: true,
    report_to: true,
    per_device_train_batch_size: true,
    gradient_accumulation_steps: true,
    learning_rate: true,
    num_train_epochs: true,
    lr_scheduler_type: true,
    warmup_ratio: true,
    bf16: true,
    seed: true,
    ddp_timeout: true,
  })
  .required()
  .extend({
    // Narrower than the general schema: what a DPO run of this module must say.
    stage: z.literal("dpo"),
    do_train: z.literal(true),
    finetuning_type: z.enum(["full", "lora"]),
    pref_beta: z.number().positive(),
    pref_loss: z.enum(LLAMAFACTORY_PREF_LOSSES),
    lora_rank: LlamaFactoryTrainConfigSchema.shape.lora_rank,
    lora_target: LlamaFactoryTrainConfigSchema.shape.lora_target,
    dpo_label_smoothing: LlamaFactoryTrainConfigSchema.shape.dpo_label_smoothing,
    simpo_gamma: LlamaFactoryTrainConfigSchema.shape.simpo_gamma,
  })
  .strict();
export type LlamaFactoryDpoConfig = z.infer<typeof LlamaFactoryDpoConfigSchema>;

export interface LlamaFactoryDpoOptions {
  /** The SFT checkpoint DPO starts from (Hub id or path on the cluster). */
  modelNameOrPath: string;
  /** Dataset name in dataset_info.json; also names the files. @default "infialign_dpo" */
  datasetName?: string;
  /** LLaMA-Factory chat template. @default "qwen" (Qwen2.5, Qwen2.5-Math) */
  template?: string;
  /**
   * Our loss, mapped to `pref_loss` through the loss table's `llamaFactory` entries (sigmoid, hinge, ipo, orpo, simpo
   * map one to one; a loss without an entry is an error). `["sigmoid", "sft"]` (MPO with an SFT term) maps to `pref_ftx`.
   * @default "sigmoid"
   */
  lossType?: PreferenceLossName | readonly PreferenceLossName[];
  /** Weights of `lossType` entries; the `sft` weight becomes `pref_ftx`. @default all 1 */
  lossWeights?: readonly number[];
  /** DPO β, written as `pref_beta` for sigmoid / hinge / ipo. @default the loss table's */
  beta?: number;
  /** cDPO label smoothing (`dpo_label_smoothing`, sigmoid only). @default the loss table's (0) */
  labelSmoothing?: number;
  /** SimPO β, written as `pref_beta` for simpo. @default the loss table's */
  simpoBeta?: number;
  /** SimPO γ/β; LLaMA-Factory's `simpo_gamma` is the margin γ itself = simpoBeta · ratio. @default the loss table's (γ = 0.5, LLaMA-Factory's default) */
  simpoGammaBetaRatio?: number;
  /** ORPO λ, written as `pref_beta` for orpo. @default the loss table's */
  orpoLambda?: number;
  /** @default "full" */
  finetuningType?: "full" | "lora";
  /** @default 5e-6 (LLaMA-Factory DPO examples) */
  learningRate?: number;
  /** @default 1 */
  numTrainEpochs?: number;
  /** @default 0.1 */
  warmupRatio?: number;
  /** Sequence limit, prompt + response, in tokens; long chains of thought need a large one. @default 16384 */
  cutoffLen?: number;
  /** @default 1 */
  perDeviceBatchSize?: number;
  /** @default 8 */
  gradientAccumulationSteps?: number;
  /** Checkpoint directory, relative to where training runs (outDir) or absolute. @default "saves/<datasetName>" */
  outputDir?: string;
  /** @default 42 */
  seed?: number;
  /** @default "none" */
  reportTo?: string;
  /**
   * `num_samples` of the dataset_info.json entry: LLaMA-Factory then trains on that many pairs drawn from the file (a
   * random permutation, topped up by sampling with replacement). @default none (every pair once)
   */
  numSamples?: number;
}

type PreferenceArgsOptions = Pick<LlamaFactoryDpoOptions, "lossType" | "lossWeights" | "beta" | "labelSmoothing" | "simpoBeta" | "simpoGammaBetaRatio" | "orpoLambda">;

/**
 * Maps our loss settings to LLaMA-Factory's (`pref_loss`, `pref_beta`, `pref_ftx`, `simpo_gamma`, `dpo_label_smoothing`)
 * through the loss table: the loss's `llamaFactory` entry names its `pref_loss` and the hyperparameter written as
 * `pref_beta`; values not given take the table's defaults.
 */
export function llamaFactoryPreferenceArgs(options: PreferenceArgsOptions): Pick<LlamaFactoryDpoConfig, "pref_loss" | "pref_beta" | "pref_ftx" | "simpo_gamma" | "dpo_label_smoothing"> {
  const raw = options.lossType ?? DEFAULT_PREFERENCE_LOSS_OPTIONS.lossType;
  const types = typeof raw === "string" ? [raw] : [...raw];
  const weights = options.lossWeights ?? types.map(() => 1);
  if (weights.length !== types.length) throw new Error(`${PREFIX}: lossWeights has ${weights.length} entries for ${types.length} loss types; give one per lossType entry.`);
  const mappingOf = (name: string) => preferenceLossDefinition(name)?.llamaFactory;
  const ftxAt = types.findIndex((t) => mappingOf(t) === "pref_ftx");
  const main = types.filter((t) => mappingOf(t) !== "pref_ftx");
  const supported = exportableLosses();
  if (main.length !== 1) {
    throw new Error(`${PREFIX}: LLaMA-Factory trains one preference loss (plus an optional "sft" term as pref_ftx); got [${types.join(", ")}]. Export one of ${supported.join(", ")}.`);
  }
  const loss = main[0]!;
  const mapping = mappingOf(loss);
  if (typeof mapping !== "object" || !(LLAMAFACTORY_PREF_LOSSES as readonly string[]).includes(mapping.prefLoss)) {
    throw new Error(`${PREFIX}: loss "${loss}" has no LLaMA-Factory pref_loss (supported: ${supported.join(", ")}); train it with @infialign/train-dpo or TRL instead.`);
  }
  const mainWeight = weights[types.indexOf(loss)]!;
  if (mainWeight !== 1) throw new Error(`${PREFIX}: LLaMA-Factory has no weight for the preference loss; "${loss}" must have weight 1 (got ${mainWeight}); scale pref_ftx instead.`);
  const o = withTableDefaults(options);
  const prefLoss = mapping.prefLoss as LlamaFactoryPrefLoss;
  if (o.labelSmoothing !== 0 && !mapping.labelSmoothing) {
    const readers = preferenceLosses().flatMap((d) => (typeof d.llamaFactory === "object" && d.llamaFactory.labelSmoothing ? [d.name] : []));
    throw new Error(`${PREFIX}: labelSmoothing is supported by LLaMA-Factory for ${readers.join(", ")} only (dpo_label_smoothing), not "${prefLoss}".`);
  }
  return {
    pref_loss: prefLoss,
    pref_beta: o[mapping.prefBeta] as number,
    pref_ftx: ftxAt >= 0 ? weights[ftxAt]! : 0,
    ...mapping.extra?.(o),
    ...(mapping.labelSmoothing && o.labelSmoothing !== 0 && { dpo_label_smoothing: o.labelSmoothing }),
  };
}

/** Losses with a LLaMA-Factory `pref_loss`, in the order of LLAMAFACTORY_PREF_LOSSES. */
export function exportableLosses(): PreferenceLossName[] {
  const rank = (m: LlamaFactoryLossMapping) => (LLAMAFACTORY_PREF_LOSSES as readonly string[]).indexOf(m.prefLoss);
  return preferenceLosses()
    .flatMap((d) => (typeof d.llamaFactory === "object" && rank(d.llamaFactory) >= 0 ? [{ name: d.name, rank: rank(d.llamaFactory) }] : []))
    .sort((a, b) => a.rank - b.rank)
    .map((d) => d.name);
}

/** The hyperparameters as given, else at the loss table's defaults (values are checked by LLaMA-Factory's schema). */
function withTableDefaults(options: PreferenceArgsOptions): ResolvedPreferenceLossOptions {
  const values: Record<string, unknown> = {};
  for (const [name, spec] of lossHyperparameters()) values[name] = (options as Record<string, unknown>)[name] ?? spec.default;
  return values as ResolvedPreferenceLossOptions;
}

/** The validated DPO training config for LLaMA-Factory, with this project's defaults. */
export function llamaFactoryDpoConfig(options: LlamaFactoryDpoOptions): LlamaFactoryDpoConfig {
  const datasetName = options.datasetName ?? "infialign_dpo";
  const config: LlamaFactoryDpoConfig = {
    model_name_or_path: options.modelNameOrPath,
    trust_remote_code: true,
    stage: "dpo",
    do_train: true,
    finetuning_type: options.finetuningType ?? "full",
    ...(options.finetuningType === "lora" && { lora_rank: 8, lora_target: "all" }),
    deepspeed: "ds_z3_config.json",
    ...llamaFactoryPreferenceArgs(options),
    dataset: datasetName,
    dataset_dir: "data",
    template: options.template ?? "qwen",
    cutoff_len: options.cutoffLen ?? 16384,
    preprocessing_num_workers: 16,
    output_dir: options.outputDir ?? `saves/${datasetName}`,
    logging_steps: 10,
    save_steps: 500,
    plot_loss: true,
    overwrite_output_dir: true,
    save_only_model: false,
    report_to: options.reportTo ?? "none",
    per_device_train_batch_size: options.perDeviceBatchSize ?? 1,
    gradient_accumulation_steps: options.gradientAccumulationSteps ?? 8,
    learning_rate: options.learningRate ?? 5e-6,
    num_train_epochs: options.numTrainEpochs ?? 1,
    lr_scheduler_type: "cosine",
    warmup_ratio: options.warmupRatio ?? 0.1,
    bf16: true,
    seed: options.seed ?? 42,
    ddp_timeout: 180000000,
  };
  const parsed = LlamaFactoryDpoConfigSchema.safeParse(config);
  if (!parsed.success) throw new Error(`${PREFIX}: invalid training config (${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}).`);
  return config;
}

/**
 * The config as flat YAML through train-sft's `stringifyLlamaFactoryConfig` (PyYAML-safe numbers, quoted strings where
 * needed), after the stricter DPO schema has checked it.
 */
export function stringifyDpoConfig(config: LlamaFactoryDpoConfig, header: readonly string[] = []): string {
  const parsed = LlamaFactoryDpoConfigSchema.safeParse(config);
  if (!parsed.success) throw new Error(`${PREFIX}: invalid training config (${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}).`);
  return stringifyLlamaFactoryConfig(config, header);
}

// ---------------------------------------------------------------------------------------------------------------------
// Whole export

export interface LlamaFactoryDpoExportResult {
  /** Files written, relative to outDir. */
  files: string[];
  /** Preference records written. */
  records: number;
  config: LlamaFactoryDpoConfig;
  /** What to run in outDir. */
  command: string;
}

/**
 * Writes `<outDir>/data/<datasetName>.jsonl` (ShareGPT DPO records), merges the dataset's entry into
 * `<outDir>/data/dataset_info.json` (keeping other entries, e.g. the SFT export's), and writes `<outDir>/<datasetName>.yaml`
 * and `<outDir>/ds_z3_config.json`. Run with `llamafactory-cli train <datasetName>.yaml` from outDir.
 */
export async function exportLlamaFactoryDpo(
  records: Iterable<PreferenceRecord> | AsyncIterable<PreferenceRecord>,
  outDir: string,
  options: LlamaFactoryDpoOptions,
): Promise<LlamaFactoryDpoExportResult> {
  const datasetName = options.datasetName ?? "infialign_dpo";
  if (!/^[\w.-]+$/.test(datasetName)) throw new Error(`${PREFIX}: datasetName "${datasetName}" must use letters, digits, '_', '.' or '-' (it names files).`);
  if (options.numSamples !== undefined && !(Number.isInteger(options.numSamples) && options.numSamples > 0)) throw new Error(`${PREFIX}: numSamples must be a positive integer, got ${options.numSamples}.`);
  // Built first so a bad loss setting fails before anything is written.
  const config = llamaFactoryDpoConfig({ ...options, datasetName });
  const dataDir = join(outDir, "data");
  await mkdir(dataDir, { recursive: true });

  const dataFile = `${datasetName}.jsonl`;
  const count = await writeJsonl(join(dataDir, dataFile), sharegptRecords(records), { empty: "discard" });
  if (count === 0) throw new Error(`${PREFIX}: no preference records to export; build pairs first (pairConstructionStage).`);

  // num_samples makes LLaMA-Factory resample the file, so it is written only when asked for.
  await writeDatasetInfo(dataDir, { [datasetName]: preferenceDatasetInfo(dataFile, options.numSamples) });
  await writeFileAtomic(join(outDir, "ds_z3_config.json"), `${JSON.stringify(DS_Z3_CONFIG, null, 2)}\n`);
  const yamlFile = `${datasetName}.yaml`;
  await writeFileAtomic(join(outDir, yamlFile), stringifyDpoConfig(config, [`InfiAlign DPO stage, written by @infialign/train-dpo: ${count} preference pairs.`, `Run from this directory: llamafactory-cli train ${yamlFile}`]));
  return { files: [`data/${dataFile}`, "data/dataset_info.json", yamlFile, "ds_z3_config.json"], records: count, config, command: `llamafactory-cli train ${yamlFile}` };
}

async function* sharegptRecords(records: Iterable<PreferenceRecord> | AsyncIterable<PreferenceRecord>): AsyncGenerator<SharegptPreferenceRecord> {
  for await (const record of records) yield toSharegptPreference(record);
}
