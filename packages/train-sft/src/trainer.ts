// The SFT trainer: a CurriculumConfig's phases run in order on one Qwen2Model, each phase selecting, tokenizing,
// splitting, packing and training with the shared trainLoop (core/loop.ts), phase k+1 starting from phase k's weights
// (InfiAlign's two-stage curriculum, arXiv 2508.05496). Loss and metrics follow TRL's SFTTrainer
// (`trl/trainer/sft_trainer.py`): token-summed NLL over `num_items_in_batch`, `mean_token_accuracy`, `entropy`,
// `num_tokens`.
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describeBackend, selectBackend } from "@infialign/kernels/tfjs";
import {
  attachLora,
  createTrainingEngine,
  type LoraTargetModule,
  loadCheckpoint,
  loadModelTokenizer,
  loraState,
  loraVariables,
  type ModelTokenizer,
  type NamedTensors,
  Qwen2Model,
  saveCheckpoint,
  saveLora,
  type TrainingEngine,
  type TrainingEngineName,
} from "@infialign/model";
import * as tf from "@tensorflow/tfjs-core";
import { type CheckpointModel, listCheckpoints, readCheckpointModel, restoreCheckpointModel } from "./core/checkpoint.js";
import { type MicroBatchSource, trainLoop } from "./core/loop.js";
import { type MetricsRecord, readMetrics } from "./core/metrics.js";
import { AdamW } from "./core/optimizer.js";
import { createSchedule } from "./core/schedule.js";
import type { NamedVariables } from "./core/tensors.js";
import type { CurriculumConfig, PhaseConfig } from "./curriculum.js";
import type { TrainingBatch } from "./data/batch.js";
import { renderSftReportHtml, type SftPhaseMetrics } from "./report/sftReport.js";
import { countLossTokens, type SftBatchSource } from "./trainer/batches.js";
import { type Evaluate, phaseEndEvalLoss, phaseEvaluator } from "./trainer/evaluation.js";
import { sftGradients } from "./trainer/objective.js";
import { type PhaseData, preparePhaseData } from "./trainer/phaseData.js";
import { PHASE_SUMMARY_NAME, type PhaseRun, phaseSummary, REPORT_NAME, RUN_SUMMARY_NAME, type SftPhaseSummary, type SftRunSummary } from "./trainer/summary.js";

export type { SftBatchingReport, SftPhaseSummary, SftRunSummary } from "./trainer/summary.js";

const PREFIX = "[infialign/train-sft] trainer";

export interface TrainSftOptions {
  /** Tokenizer to train with. @default loadModelTokenizer(config.tokenizer ?? config.model) */
  tokenizer?: ModelTokenizer;
  /**
   * Model to start phase 1 from instead of loading `config.model` (e.g. a from-scratch `Qwen2Model.init`). It is
   * trained in place and not disposed. @default loaded from config.model (loadCheckpoint)
   */
  model?: Qwen2Model;
  /** Compute the loss on prompt tokens too (TRL `completion_only_loss=False`). @default config.trainOnPrompt */
  trainOnPrompt?: boolean;
  /** Stops cleanly after the current step: a checkpoint is saved and the summary has `interrupted: true`. */
  signal?: AbortSignal;
  /** Receives every metrics record as it is logged, with its phase name. @default none */
  onLog?: (phase: string, record: MetricsRecord) => void;
  /** One line per phase event (data, steps, checkpoints). @default no logging */
  log?: (line: string) => void;
  /** Training engine, overriding `config.engine`. @default config.engine ("auto": onnxruntime where it loads) */
  engine?: "auto" | TrainingEngineName;
  /** onnxruntime threads, overriding `config.threads`. @default config.threads, else the machine's cores */
  threads?: number;
  /** Progress bar on stderr (silent without a TTY or under CI). @default true */
  progress?: boolean;
  /**
   * Continue an interrupted run: completed phases (their `final/` directory exists) are skipped, the interrupted one
   * continues from its newest `checkpoint-N`. Without it, each phase directory is cleared before training. @default false
   */
  resume?: boolean;
}



/**
 * Runs an SFT curriculum (see the module comment). Writes, under `config.outputDir`: `<phase>/checkpoint-N/` every
 * `saveSteps` (HF checkpoint or PEFT adapter, optimizer, trainer_state.json, data cursor), `<phase>/metrics.jsonl`,
 * `<phase>/final/`, `<phase>/phase.json`; then `final/` (HF checkpoint: config.json, model.safetensors, tokenizer files,
 * generation_config.json), `adapter/` for LoRA, `run.json` and `report.html`.
 */
export async function trainSft(config: CurriculumConfig, options: TrainSftOptions = {}): Promise<SftRunSummary> {
  const log = options.log ?? (() => {});
  if (!tf.engine().backendName) await selectBackend();
  const { model, tokenizer, owned } = await startModel(config, options);
  let engine: TrainingEngine | undefined;
  try {
    if (tokenizer.vocabSize > model.vocabSize) {
      throw new Error(`${PREFIX}: tokenizer ${tokenizer.name} has ${tokenizer.vocabSize} ids but the model's vocab_size is ${model.vocabSize}; use the model's own tokenizer.`);
    }
    const lora = config.lora;
    if (lora) {
      attachLora(model, { r: lora.r, alpha: lora.alpha, dropout: lora.dropout, targetModules: lora.targetModules as LoraTargetModule[], seed: config.seed });
    }
    const variables: NamedVariables = lora ? loraVariables(model) : new Map(model.variables);
    const threads = options.threads ?? config.threads;
    const created = await createTrainingEngine(model, { engine: options.engine ?? config.engine, ...(threads === undefined ? {} : { threads }) });
    engine = created.engine;
    if (created.fallback !== undefined) log(`engine: onnxruntime unavailable (${created.fallback}); training with tfjs.`);
    log(`engine: ${engine.name}`);
    const phases: SftPhaseSummary[] = [];
    let interrupted = false;
    for (const [index, phase] of config.phases.entries()) {
      const dir = join(config.outputDir, phase.name);
      const finalDir = join(dir, "final");
      if (options.resume && existsSync(join(dir, PHASE_SUMMARY_NAME)) && existsSync(finalDir)) {
        log(`${phase.name}: complete, loading ${finalDir}`);
        restoreCheckpointModel(await readCheckpointModel(finalDir), variables, finalDir);
        phases.push(JSON.parse(await readFile(join(dir, PHASE_SUMMARY_NAME), "utf8")) as SftPhaseSummary);
        continue;
      }
      if (!options.resume) await rm(dir, { recursive: true, force: true });
      const summary = await trainPhase({ config, phase, index, dir, model, engine, tokenizer, variables, options, log });
      phases.push(summary);
      if (summary.finalDir === undefined) {
        interrupted = true;
        break;
      }
    }

    const run: SftRunSummary = {
      config,
      backend: describeBackend().name,
      engine: engine.name,
      ...(created.fallback === undefined ? {} : { engineFallback: created.fallback }),
      phases,
      interrupted,
      runJson: join(config.outputDir, RUN_SUMMARY_NAME),
      reportHtml: join(config.outputDir, REPORT_NAME),
    };
    if (!interrupted) {
      run.finalDir = join(config.outputDir, "final");
      if (lora) {
        run.adapterDir = join(config.outputDir, "adapter");
        await saveLora(model, run.adapterDir, { baseModelNameOrPath: config.model });
        // The final model is the base with the adapters merged in: loadable without PEFT.
        await saveCheckpoint(run.finalDir, { config: model.config, weights: mergedWeights(model), tokenizer });
      } else {
        await saveCheckpoint(run.finalDir, { config: model.config, weights: model.toWeights(), tokenizer });
      }
      log(`final model: ${run.finalDir}`);
    }
    await mkdir(config.outputDir, { recursive: true });
    await writeFile(run.runJson, `${JSON.stringify(run, null, 2)}\n`);
    const metrics: SftPhaseMetrics[] = [];
    for (const p of phases) {
      const path = join(p.dir, "metrics.jsonl");
      if (existsSync(path)) metrics.push({ phase: p.name, records: await readMetrics(path, { tolerateTornLastLine: true }) });
    }
    await writeFile(run.reportHtml, renderSftReportHtml(run, metrics));
    return run;
  } finally {
    await engine?.dispose();
    if (owned) model.dispose();
  }
}

/** The first line of a cause's message, for errors the CLI prints without their cause. */
function reason(cause: unknown): string {
  return (cause instanceof Error ? cause.message : String(cause)).split("\n")[0]!;
}

async function startModel(config: CurriculumConfig, options: TrainSftOptions): Promise<{ model: Qwen2Model; tokenizer: ModelTokenizer; owned: boolean }> {
  const tokenizerDir = config.tokenizer ?? config.model;
  const loadTokenizer = async () => {
    try {
      return await loadModelTokenizer(tokenizerDir);
    } catch (cause) {
      throw new Error(
        `${PREFIX}: cannot load the tokenizer from "${tokenizerDir}" (${reason(cause)}). Set "tokenizer" (else "model") in the run config to a Hugging Face model directory with tokenizer.json; from code, pass options.tokenizer.`,
        { cause },
      );
    }
  };
  if (options.model) return { model: options.model, tokenizer: options.tokenizer ?? (await loadTokenizer()), owned: false };
  let checkpoint: Awaited<ReturnType<typeof loadCheckpoint>>;
  try {
    checkpoint = await loadCheckpoint(config.model);
  } catch (cause) {
    throw new Error(
      `${PREFIX}: cannot load the model from "${config.model}" (${reason(cause)}). Set "model" in the run config (infialign-sft train --config <run.yaml>; infialign-sft recipe --model <dir>) to a Hugging Face Qwen2 directory with config.json and model.safetensors; from code, pass options.model for a model built in memory.`,
      { cause },
    );
  }
  const model = Qwen2Model.fromWeights(checkpoint.config, checkpoint.weights);
  return { model, tokenizer: options.tokenizer ?? (await loadTokenizer()), owned: true };
}

/**
 * Host weights with every unmerged adapter folded in, W + (α/r)·B·A (Hu et al. 2021, §4.1), computed beside the model
 * so its variables stay bit-identical (merge-then-unmerge would leave float32 rounding in the base).
 */
function mergedWeights(model: Qwen2Model): NamedTensors {
  const weights = model.toWeights();
  for (const [prefix, adapter] of model.adapters) {
    if (adapter.merged) continue;
    const name = `${prefix}.weight`;
    const merged = tf.tidy(() => tf.add(model.param(name), tf.mul(tf.matMul(adapter.b, adapter.a), adapter.scale)));
    weights.set(name, { shape: [...merged.shape], data: Float32Array.from(merged.dataSync() as Float32Array) });
    merged.dispose();
  }
  return weights;
}

interface PhaseContext {
  config: CurriculumConfig;
  phase: PhaseConfig;
  index: number;
  dir: string;
  model: Qwen2Model;
  engine: TrainingEngine;
  tokenizer: ModelTokenizer;
  variables: NamedVariables;
  options: TrainSftOptions;
  log: (line: string) => void;
}

/** One phase: its data, trainLoop with the SFT objective, the held-out loss, then `final/` and phase.json. */
async function trainPhase(ctx: PhaseContext): Promise<SftPhaseSummary> {
  const { config, phase, index, dir, model, engine, tokenizer, options, log } = ctx;
  const data = await preparePhaseData(config, phase, { index, tokenizer, trainOnPrompt: options.trainOnPrompt ?? config.trainOnPrompt, ...(options.signal ? { signal: options.signal } : {}) });
  const { selection, train, evalSet, batching, maxSteps } = data;
  log(
    `${phase.name}: ${selection.kept} samples (${train.length} train, ${evalSet.length} eval), ${batching.rows} rows (${phase.packing}), ` +
      `efficiency ${(100 * batching.efficiency).toFixed(1)}%, ${maxSteps} steps`,
  );
  const evaluate = phaseEvaluator(evalSet, phase, model, engine, tokenizer);
  const resumedFrom = options.resume ? (await listCheckpoints(dir)).at(-1)?.step : undefined;
  const run = await runPhaseLoop(ctx, data, evaluate);
  const finalEvalLoss = !run.result.interrupted && evaluate ? await phaseEndEvalLoss(run.result, evaluate, dir, data.source.epoch()) : undefined;
  const summary = phaseSummary(phase.name, dir, data, { ...run, ...(finalEvalLoss === undefined ? {} : { finalEvalLoss }), ...(resumedFrom === undefined ? {} : { resumedFromStep: resumedFrom }) });
  if (run.result.interrupted) {
    log(`${phase.name}: interrupted at step ${run.result.globalStep}; checkpoint ${run.result.lastCheckpoint ?? "(none)"}`);
    return summary;
  }
  summary.finalDir = join(dir, "final");
  if (config.lora) await saveLora(model, summary.finalDir, { baseModelNameOrPath: config.model });
  else await saveCheckpoint(summary.finalDir, { config: model.config, weights: model.toWeights(), tokenizer });
  await writeFile(join(dir, PHASE_SUMMARY_NAME), `${JSON.stringify(summary, null, 2)}\n`);
  log(
    `${phase.name}: ${run.result.globalStep} steps, loss ${summary.finalTrainLoss?.toFixed(4) ?? "n/a"}${finalEvalLoss === undefined ? "" : `, eval_loss ${finalEvalLoss.toFixed(4)}`}, ${summary.tokensPerSecond.toFixed(0)} tok/s`,
  );
  return summary;
}

/** The phase's trainLoop: AdamW and the schedule over its steps, checkpoints (model or PEFT adapter), evaluation. */
async function runPhaseLoop(ctx: PhaseContext, data: PhaseData, evaluate: Evaluate | undefined): Promise<PhaseRun> {
  const { config, phase, index, dir, model, engine, tokenizer, variables, options } = ctx;
  const lora = config.lora;
  const optimizer = new AdamW(variables, { beta1: config.optimizer.beta1, beta2: config.optimizer.beta2, epsilon: config.optimizer.epsilon, weightDecay: config.optimizer.weightDecay });
  const schedule = createSchedule({ type: phase.scheduler, learningRate: phase.learningRate, totalSteps: data.maxSteps, warmupRatio: phase.warmupRatio });
  const counted = countingTokens(data.source);
  const started = performance.now();
  model.training = true;
  try {
    const result = await trainLoop<TrainingBatch>({
      variables,
      computeGradients: sftGradients(engine, index),
      countItems: countLossTokens,
      source: counted.source,
      optimizer,
      schedule,
      maxSteps: data.maxSteps,
      gradientAccumulationSteps: phase.gradAccumulation,
      maxGradNorm: config.optimizer.maxGradNorm,
      logEvery: config.loggingSteps,
      evalEvery: evaluate && config.evalSteps !== undefined ? config.evalSteps : 0,
      ...(evaluate ? { evaluate } : {}),
      checkpointEvery: config.saveSteps,
      ...(config.saveTotalLimit === undefined ? {} : { saveTotalLimit: config.saveTotalLimit }),
      outputDir: dir,
      checkpointModel: (): CheckpointModel =>
        lora ? { format: "adapter", ...loraState(model, { baseModelNameOrPath: config.model }) } : { format: "model", options: { config: model.config, weights: model.toWeights(), tokenizer } },
      resume: options.resume ?? false,
      trainerState: { train_batch_size: phase.batchSize, num_train_epochs: phase.epochs },
      label: phase.name,
      ...(options.onLog ? { onLog: (record: MetricsRecord) => options.onLog?.(phase.name, record) } : {}),
      ...(options.progress === false ? { progress: false as const } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { result, seconds: (performance.now() - started) / 1000, tokensHere: counted.tokens() };
  } finally {
    model.training = false;
    optimizer.dispose();
  }
}

/** The source as trainLoop reads it, counting the input tokens of the micro-batches it hands out in this process. */
function countingTokens(source: SftBatchSource): { source: MicroBatchSource<TrainingBatch>; tokens: () => number } {
  let tokens = 0;
  return {
    source: {
      next: () => {
        const batch = source.next();
        if (batch) tokens += batch.numTokens;
        return batch;
      },
      cursor: () => source.cursor(),
      seek: (cursor) => source.seek(cursor),
      epoch: () => source.epoch(),
    },
    tokens: () => tokens,
  };
}
