// Export of an SFT curriculum to LLaMA-Factory (hiyouga/LLaMA-Factory) for multi-GPU runs: per phase a ShareGPT
// dataset, its dataset_info.json entry and a YAML training config (DeepSpeed ZeRO-3), plus train.sh and a README. Key
// names and formats follow its `data/README.md`, `examples/train_full/*.yaml`, `examples/deepspeed/ds_z3_config.json`
// and `src/llamafactory/hparams/`. The pieces live beside this file: `sharegpt.ts` (records), `datasetInfo.ts`,
// `trainConfig.ts` (YAML keys), `yaml.ts` (the writer), `deepspeed.ts`, `jsonl.ts`, `runFiles.ts` (train.sh, README).

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Sample, writeFileAtomic } from "@infialign/data";
import type { LoraOptions, OptimizerConfig, PhaseConfig } from "../curriculum.js";
import { type DatasetInfoEntry, sharegptDatasetInfo, writeDatasetInfo } from "./datasetInfo.js";
import { DS_Z3_CONFIG } from "./deepspeed.js";
import { writeJsonl } from "./jsonl.js";
import { exportReadme, trainScript } from "./runFiles.js";
import { toSharegptRecord } from "./sharegpt.js";
import type { LlamaFactoryTrainConfig } from "./trainConfig.js";
import { stringifyLlamaFactoryConfig } from "./yaml.js";

export type { DatasetInfoEntry } from "./datasetInfo.js";
export { DatasetColumnsSchema, DatasetInfoEntrySchema, DatasetTagsSchema, SHAREGPT_TAGS, sharegptDatasetInfo, writeDatasetInfo } from "./datasetInfo.js";
export { DS_Z3_CONFIG } from "./deepspeed.js";
export type { WriteJsonlOptions } from "./jsonl.js";
export { writeJsonl } from "./jsonl.js";
export type { SharegptRecord, SharegptRole, SharegptTurn } from "./sharegpt.js";
export { SharegptRecordSchema, SharegptTurnSchema, toSharegptMessages, toSharegptRecord } from "./sharegpt.js";
export type { LlamaFactoryTrainConfig } from "./trainConfig.js";
export { LlamaFactoryTrainConfigSchema } from "./trainConfig.js";
export { pyYamlNumber, stringifyLlamaFactoryConfig } from "./yaml.js";

const PREFIX = "[infialign/train-sft] llamafactory-export";

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
  const { phases, outDir, datasetName, modelNameOrPath, numGpus = 8, perDeviceBatchSize = 1 } = options;
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
    const config = phaseTrainConfig(phase, options, { dataset, modelNameOrPath: previousOutput ?? modelNameOrPath, outputDir: `${outputRoot}/${phase.name}`, accumulation: globalBatch / perStep });
    const yamlName = `${phase.name}.yaml`;
    const header = [
      `LLaMA-Factory SFT, curriculum phase "${phase.name}" (written by @infialign/train-sft).`,
      `Global batch ${globalBatch} = ${perDeviceBatchSize} per device × ${numGpus} GPUs × ${globalBatch / perStep} accumulation.`,
      `Run from this directory: llamafactory-cli train ${yamlName}`,
    ];
    await writeFileAtomic(join(outDir, yamlName), stringifyLlamaFactoryConfig(config, header));
    result.files.push(yamlName);
    result.configs[phase.name] = config;
    previousOutput = config.output_dir;
  }
  await writeDatasetInfo(dataDir, entries);
  result.files.push("data/dataset_info.json");
  await writeFileAtomic(join(outDir, "ds_z3_config.json"), `${JSON.stringify(DS_Z3_CONFIG, null, 2)}\n`);
  result.files.push("ds_z3_config.json");
  const commands = phases.map((p) => `llamafactory-cli train ${p.config.name}.yaml`);
  await writeFileAtomic(join(outDir, "train.sh"), trainScript(commands));
  result.files.push("train.sh");
  const exported = phases.map((p) => ({ name: p.config.name, samples: result.samples[p.config.name] as number, config: result.configs[p.config.name] as LlamaFactoryTrainConfig }));
  await writeFileAtomic(join(outDir, "README.md"), exportReadme(datasetName, outputRoot, commands, exported));
  result.files.push("README.md");
  return result;
}

/** One phase's training YAML (stage sft): its data, optimizer, schedule and batch split, LoRA when the run has it. */
function phaseTrainConfig(
  phase: PhaseConfig,
  options: LlamaFactoryExportOptions,
  at: { dataset: string; modelNameOrPath: string; outputDir: string; accumulation: number },
): LlamaFactoryTrainConfig {
  const opt = options.optimizer;
  return {
    model_name_or_path: at.modelNameOrPath,
    trust_remote_code: true,
    stage: "sft",
    do_train: true,
    finetuning_type: options.lora ? "lora" : "full",
    ...(options.lora ? { lora_rank: options.lora.r, lora_alpha: options.lora.alpha, lora_dropout: options.lora.dropout, lora_target: options.lora.targetModules.join(",") } : {}),
    deepspeed: "ds_z3_config.json",
    dataset: at.dataset,
    dataset_dir: "data",
    template: options.template ?? "qwen",
    cutoff_len: phase.maxLength,
    overwrite_cache: true,
    preprocessing_num_workers: 16,
    dataloader_num_workers: 4,
    // LLaMA-Factory packs greedily; neat_packing keeps packed documents from attending to each other, as ours do.
    packing: phase.packing !== "none",
    neat_packing: phase.packing !== "none",
    output_dir: at.outputDir,
    logging_steps: options.loggingSteps ?? 10,
    save_steps: options.saveSteps ?? 500,
    ...(options.saveTotalLimit !== undefined ? { save_total_limit: options.saveTotalLimit } : {}),
    plot_loss: true,
    overwrite_output_dir: true,
    save_only_model: false,
    report_to: options.reportTo ?? "none",
    per_device_train_batch_size: options.perDeviceBatchSize ?? 1,
    gradient_accumulation_steps: at.accumulation,
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
}

async function* mapSamples<T>(samples: Iterable<Sample> | AsyncIterable<Sample>, fn: (s: Sample) => T): AsyncGenerator<T> {
  for await (const s of samples) yield fn(s);
}
