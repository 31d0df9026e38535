// The SFT trainer: a CurriculumConfig's phases run in order on one Qwen2Model, each phase selecting, tokenizing,
// splitting, packing and training with the shared trainLoop (core/loop.ts), phase k+1 starting from phase k's weights
// (InfiAlign's two-stage curriculum, arXiv 2508.05496). Loss and metrics follow TRL's SFTTrainer
// (`trl/trainer/sft_trainer.py`): token-summed NLL over `num_items_in_batch`, `mean_token_accuracy`, `entropy`,
// `num_tokens`.
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createRng } from "@infialign/kernels";
import { describeBackend, selectBackend } from "@infialign/kernels/tfjs";
import {
  attachLora,
  createTrainingEngine,
  type LoraTargetModule,
  loadAdapter,
  loadCheckpoint,
  loadModelTokenizer,
  loraState,
  type ModelTokenizer,
  type NamedTensors,
  Qwen2Model,
  saveCheckpoint,
  saveLora,
  type TrainingEngine,
  type TrainingEngineName,
} from "@infialign/model";
import * as tf from "@tensorflow/tfjs-core";
import { type CheckpointModel, listCheckpoints, type TrainingCheckpoint } from "./core/checkpoint.js";
import { trainLoop } from "./core/loop.js";
import { MetricsLogger, type MetricsRecord, readMetrics } from "./core/metrics.js";
import { AdamW } from "./core/optimizer.js";
import { createSchedule } from "./core/schedule.js";
import { assignHostTensors, type NamedVariables } from "./core/tensors.js";
import type { CurriculumConfig, PhaseConfig } from "./curriculum.js";
import { type BatchRow, padBatch, type TrainingBatch } from "./data/batch.js";
import { type PackingReport, packSequences } from "./data/packing.js";
import { type SelectionReport, selectSamples } from "./data/selectSamples.js";
import { IGNORE_INDEX, type TokenizedSample, tokenizeSamples } from "./data/tokenize.js";
import { renderSftReportHtml, type SftPhaseMetrics } from "./report/sftReport.js";
import { countLossTokens, SftBatchSource, toEngineBatch } from "./trainer/batches.js";

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

/** How a phase's sequences were batched. */
export interface SftBatchingReport {
  /** `none` = padded batches of single samples; otherwise the TRL packing strategy. */
  strategy: PhaseConfig["packing"];
  maxLength: number;
  /** Rows per epoch (packed rows, or samples). */
  rows: number;
  /** Real tokens in one epoch. */
  realTokens: number;
  /** Token slots the micro-batches of one epoch occupy (rows × padded length), padding included. */
  paddedTokens: number;
  /** realTokens / paddedTokens: the share of compute spent on real tokens. */
  efficiency: number;
  /** Tokens cut by `maxLength` (tokenization for `none`, `bfd` truncation otherwise). */
  truncatedTokens: number;
  /** The packer's own report (efficiency against rows × maxLength), when packing. */
  packing?: PackingReport;
}

export interface SftPhaseSummary {
  name: string;
  selection: SelectionReport;
  trainSamples: number;
  evalSamples: number;
  /** Samples dropped because no label survived truncation (nothing to learn from them). */
  droppedNoLossTokens: number;
  batching: SftBatchingReport;
  /** Optimizer steps done / planned. */
  steps: number;
  maxSteps: number;
  /** Input tokens seen over the phase (TRL `num_tokens`). */
  tokens: number;
  finalTrainLoss?: number;
  finalEvalLoss?: number;
  /** Real input tokens per second of training in this process (resumed phases: since the resume). */
  tokensPerSecond: number;
  /** Wall-clock seconds of training in this process. */
  seconds: number;
  /** Step the phase resumed from, when it did. */
  resumedFromStep?: number;
  /** Phase directory (checkpoints, metrics.jsonl, final/). */
  dir: string;
  /** `<dir>/final`: an HF checkpoint, or a PEFT adapter for LoRA runs. Absent when interrupted. */
  finalDir?: string;
  skippedSteps: number;
}

export interface SftRunSummary {
  config: CurriculumConfig;
  /** tfjs backend the run used (it holds the weights and runs the tfjs engine). */
  backend: string;
  /** Training engine that computed the gradients. */
  engine: TrainingEngineName;
  /** Why `engine: "auto"` fell back to tfjs, when it did. */
  engineFallback?: string;
  phases: SftPhaseSummary[];
  /** Whether `signal` stopped the run (resume with `resume: true`). */
  interrupted: boolean;
  /** `<outputDir>/final`: HF checkpoint with merged weights and the tokenizer. Absent when interrupted. */
  finalDir?: string;
  /** `<outputDir>/adapter`: the PEFT adapter of a LoRA run. */
  adapterDir?: string;
  runJson: string;
  reportHtml: string;
}

export const PHASE_SUMMARY_NAME = "phase.json";
export const RUN_SUMMARY_NAME = "run.json";
export const REPORT_NAME = "report.html";

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
        await loadPhaseFinal(variables, finalDir, !!lora);
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

/** The adapters as trainable variables under their PEFT names (what loraState writes), so checkpoints map 1:1. */
function loraVariables(model: Qwen2Model): NamedVariables {
  const variables: NamedVariables = new Map();
  for (const [prefix, adapter] of model.adapters) {
    variables.set(`base_model.model.${prefix}.lora_A.weight`, adapter.a);
    variables.set(`base_model.model.${prefix}.lora_B.weight`, adapter.b);
  }
  return variables;
}

async function loadPhaseFinal(variables: NamedVariables, dir: string, lora: boolean): Promise<void> {
  if (lora) {
    // loadLora would re-create the adapter variables; copy into the ones the trainer tracks instead.
    const adapter = await loadAdapter(dir);
    assignHostTensors(variables, adapter.tensors, dir);
    return;
  }
  const checkpoint = await loadCheckpoint(dir);
  assignHostTensors(variables, checkpoint.weights, dir);
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

/** A 32-bit seed for one micro-batch's LoRA dropout masks. */
function dropoutSeedOf(phase: number, step: number, micro: number): number {
  return (Math.imul(phase + 1, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35) ^ Math.imul(micro + 1, 0x27d4eb2f)) >>> 0;
}

/** Tokens whose next token carries a label, within the first `limit` tokens. */
function scoredTokens(sample: TokenizedSample, limit: number): number {
  const end = Math.min(limit, sample.labels.length);
  let n = 0;
  for (let t = 1; t < end; t++) if (sample.labels[t] !== IGNORE_INDEX) n++;
  return n;
}

/** Seeded train / eval split: a permutation of the samples, the first `round(n · fraction)` (≥ 1) held out. */
function splitEval<T>(items: readonly T[], fraction: number, seed: number): { train: T[]; evalSet: T[] } {
  if (fraction <= 0 || items.length < 2) return { train: [...items], evalSet: [] };
  const rng = createRng(seed >>> 0);
  const idx = items.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  const nEval = Math.min(items.length - 1, Math.max(1, Math.round(items.length * fraction)));
  const held = new Set(idx.slice(0, nEval));
  // Both splits keep file order, so the packing (and its report) does not depend on the split's permutation.
  return { train: items.filter((_, i) => !held.has(i)), evalSet: items.filter((_, i) => held.has(i)) };
}

async function trainPhase(ctx: PhaseContext): Promise<SftPhaseSummary> {
  const { config, phase, index, dir, model, engine, tokenizer, variables, options, log } = ctx;
  // The same seed in every phase: a phase's data order and eval split depend on its data only, not on its position.
  const seed = config.seed;
  const { samples, report: selection } = await selectSamples(phase.data, { seed: config.seed, ...(options.signal ? { signal: options.signal } : {}) });
  const tokenized = tokenizeSamples(samples, tokenizer, { trainOnPrompt: options.trainOnPrompt ?? config.trainOnPrompt, ...(phase.packing === "none" ? { maxLength: phase.maxLength } : {}) });
  // bfd keeps the first maxLength tokens; bfd_split / wrapped keep everything.
  const limit = phase.packing === "bfd" || phase.packing === "none" ? phase.maxLength : Number.POSITIVE_INFINITY;
  const usable = tokenized.filter((s) => scoredTokens(s, limit) > 0);
  const { train, evalSet } = splitEval(usable, config.evalFraction, seed ^ 0x9e3779b9);
  if (train.length === 0) throw new Error(`${PREFIX}: phase "${phase.name}" has no training samples with answer tokens (selected ${selection.kept}, usable ${usable.length}); check data.files and the filters.`);

  let rows: BatchRow[];
  let packing: PackingReport | undefined;
  let truncatedTokens = tokenized.reduce((sum, s) => sum + s.truncatedTokens, 0);
  if (phase.packing === "none") rows = train;
  else {
    const packed = packSequences(train, { maxLength: phase.maxLength, strategy: phase.packing });
    rows = packed.rows;
    packing = packed.report;
    truncatedTokens += packed.report.truncatedTokens;
  }
  const source = new SftBatchSource({ rows, batchSize: phase.batchSize, epochs: phase.epochs, seed, padTokenId: tokenizer.padTokenId, phase: index, paddingFree: phase.paddingFree });
  const padding = source.paddingEfficiency();
  const batching: SftBatchingReport = { strategy: phase.packing, maxLength: phase.maxLength, rows: rows.length, ...padding, truncatedTokens, ...(packing ? { packing } : {}) };
  // HF Trainer: updates per epoch = ceil(micro-batches / accumulation); max_steps = ceil(epochs × that).
  const maxSteps = Math.ceil(phase.epochs * Math.ceil(source.batchesPerEpoch / phase.gradAccumulation));
  log(
    `${phase.name}: ${selection.kept} samples (${train.length} train, ${evalSet.length} eval), ${rows.length} rows (${phase.packing}), ` +
      `efficiency ${(100 * padding.efficiency).toFixed(1)}%, ${maxSteps} steps`,
  );

  const evalBatches: TrainingBatch[] = [];
  const evalRows = evalSet.map((s) => ({ inputIds: s.inputIds.slice(0, phase.maxLength), labels: s.labels.slice(0, phase.maxLength) }));
  for (let at = 0; at < evalRows.length; at += phase.batchSize) evalBatches.push(padBatch(evalRows.slice(at, at + phase.batchSize), { padTokenId: tokenizer.padTokenId }));
  const evaluate = async (): Promise<Record<string, number>> => {
    const wasTraining = model.training;
    model.training = false;
    let nll = 0;
    let correct = 0;
    let entropy = 0;
    let items = 0;
    try {
      for (const batch of evalBatches) {
        const scores = await engine.score(toEngineBatch(batch));
        for (let i = 0; i < scores.labels.length; i++) {
          if (scores.labels[i] === IGNORE_INDEX) continue;
          nll -= scores.logProbs[i] as number;
          correct += scores.correct[i] as number;
          entropy += scores.entropy[i] as number;
          items += 1;
        }
      }
    } finally {
      model.training = wasTraining;
    }
    const n = Math.max(1, items);
    return { loss: nll / n, mean_token_accuracy: correct / n, entropy: entropy / n };
  };

  const lora = config.lora;
  const checkpointModel = (): CheckpointModel =>
    lora ? { format: "adapter", ...loraState(model, { baseModelNameOrPath: config.model }) } : { format: "model", options: { config: model.config, weights: model.toWeights(), tokenizer } };
  const restoreModel = (checkpoint: TrainingCheckpoint, vars: NamedVariables): void => {
    const m = checkpoint.model;
    if (m.format === "adapter") assignHostTensors(vars, m.tensors, checkpoint.dir);
    else if (m.format === "model") assignHostTensors(vars, m.checkpoint.weights, checkpoint.dir);
    else if (m.format === "weights") assignHostTensors(vars, m.weights, checkpoint.dir);
    else throw new Error(`${PREFIX}: ${checkpoint.dir} holds no model files this trainer wrote (expected config.json or adapter_config.json).`);
  };

  const optimizer = new AdamW(variables, { beta1: config.optimizer.beta1, beta2: config.optimizer.beta2, epsilon: config.optimizer.epsilon, weightDecay: config.optimizer.weightDecay });
  const schedule = createSchedule({ type: phase.scheduler, learningRate: phase.learningRate, totalSteps: maxSteps, warmupRatio: phase.warmupRatio });
  let tokensHere = 0;
  const counted = {
    next: () => {
      const batch = source.next();
      if (batch) tokensHere += batch.numTokens;
      return batch;
    },
    cursor: () => source.cursor(),
    seek: (cursor: Parameters<typeof source.seek>[0]) => source.seek(cursor),
    epoch: () => source.epoch(),
  };
  const hasEval = evalBatches.length > 0;
  const resumedFrom = options.resume ? (await listCheckpoints(dir)).at(-1)?.step : undefined;
  const started = performance.now();
  model.training = true;
  let result: Awaited<ReturnType<typeof trainLoop<TrainingBatch>>>;
  try {
    result = await trainLoop<TrainingBatch>({
      variables,
      computeGradients: async (batch, { numItemsInBatch, step, micro }) => {
        // Token-summed NLL over the step's scored tokens (transformers `num_items_in_batch`), so accumulating
        // micro-batches gives exactly the big-batch mean: ∂loss/∂log p = −1 / num_items on every scored token (the
        // engine ignores unscored ones). Metrics are normalised the same way.
        const input = toEngineBatch(batch);
        // Dropout masks seeded by (phase, step, micro-batch): a resumed run draws the uninterrupted run's masks.
        const dropoutSeed = dropoutSeedOf(index, step, micro);
        const out = await engine.gradients(input, new Float32Array(input.inputIds.length).fill(-1 / numItemsInBatch), { dropoutSeed });
        let correct = 0;
        let entropy = 0;
        for (let i = 0; i < out.scores.labels.length; i++) {
          if (out.scores.labels[i] === IGNORE_INDEX) continue;
          correct += out.scores.correct[i] as number;
          entropy += out.scores.entropy[i] as number;
        }
        return { loss: out.objective, metrics: { mean_token_accuracy: correct / numItemsInBatch, entropy: entropy / numItemsInBatch }, numTokens: batch.numTokens, grads: out.grads };
      },
      countItems: countLossTokens,
      source: counted,
      optimizer,
      schedule,
      maxSteps,
      gradientAccumulationSteps: phase.gradAccumulation,
      maxGradNorm: config.optimizer.maxGradNorm,
      logEvery: config.loggingSteps,
      evalEvery: hasEval && config.evalSteps !== undefined ? config.evalSteps : 0,
      ...(hasEval ? { evaluate } : {}),
      checkpointEvery: config.saveSteps,
      ...(config.saveTotalLimit === undefined ? {} : { saveTotalLimit: config.saveTotalLimit }),
      outputDir: dir,
      checkpointModel,
      restoreModel,
      resume: options.resume ?? false,
      trainerState: { train_batch_size: phase.batchSize, num_train_epochs: phase.epochs },
      label: phase.name,
      ...(options.onLog ? { onLog: (record: MetricsRecord) => options.onLog?.(phase.name, record) } : {}),
      ...(options.progress === false ? { progress: false as const } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    model.training = false;
    optimizer.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  const history = result.logHistory;

  let finalEval: number | undefined;
  if (!result.interrupted && hasEval) {
    const lastEval = history.findLast((r) => typeof r.eval_loss === "number");
    if (lastEval?.step === result.globalStep) finalEval = lastEval.eval_loss as number;
    else {
      // Evaluate at the end of the phase (always, so the summary has a held-out loss), appended to metrics.jsonl.
      const metrics = await MetricsLogger.open(join(dir, "metrics.jsonl"), { resumeFromStep: result.globalStep });
      const values = await evaluate();
      const record: MetricsRecord = { eval_num_tokens: result.numTokens, ...Object.fromEntries(Object.entries(values).map(([k, v]) => [`eval_${k}`, v])), epoch: source.epoch(), step: result.globalStep };
      await metrics.log(record);
      await metrics.close();
      finalEval = values.loss;
    }
  }
  const lastLoss = history.findLast((r) => typeof r.loss === "number");
  const lastTokens = history.findLast((r) => typeof r.num_tokens === "number");
  const summary: SftPhaseSummary = {
    name: phase.name,
    selection,
    trainSamples: train.length,
    evalSamples: evalSet.length,
    droppedNoLossTokens: tokenized.length - usable.length,
    batching,
    steps: result.globalStep,
    maxSteps,
    tokens: (lastTokens?.num_tokens as number | undefined) ?? tokensHere,
    ...(lastLoss ? { finalTrainLoss: lastLoss.loss as number } : {}),
    ...(finalEval === undefined ? {} : { finalEvalLoss: finalEval }),
    tokensPerSecond: seconds > 0 ? tokensHere / seconds : 0,
    seconds,
    ...(resumedFrom === undefined ? {} : { resumedFromStep: resumedFrom }),
    dir,
    skippedSteps: result.skippedSteps,
  };
  if (result.interrupted) {
    log(`${phase.name}: interrupted at step ${result.globalStep}; checkpoint ${result.lastCheckpoint ?? "(none)"}`);
    return summary;
  }
  const finalDir = join(dir, "final");
  if (lora) await saveLora(model, finalDir, { baseModelNameOrPath: config.model });
  else await saveCheckpoint(finalDir, { config: model.config, weights: model.toWeights(), tokenizer });
  summary.finalDir = finalDir;
  await writeFile(join(dir, PHASE_SUMMARY_NAME), `${JSON.stringify(summary, null, 2)}\n`);
  log(`${phase.name}: ${result.globalStep} steps, loss ${summary.finalTrainLoss?.toFixed(4) ?? "n/a"}${finalEval === undefined ? "" : `, eval_loss ${finalEval.toFixed(4)}`}, ${summary.tokensPerSecond.toFixed(0)} tok/s`);
  return summary;
}

