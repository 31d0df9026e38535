// The training loop the SFT and DPO trainers plug their loss into: micro-batches → accumulated gradients →
// non-finite guard → global-norm clipping → AdamW with a scheduled learning rate → logs, evals and checkpoints,
// resumable from the last checkpoint so that an interrupted run continues on the same trajectory. Follows the order
// of HF Trainer's inner loop (transformers `trainer.py` `_inner_training_loop`).
import { join } from "node:path";
import { registerTfjsGradients } from "@infialign/kernels/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import {
  type CheckpointModel,
  createTrainerState,
  type DataCursor,
  type LossState,
  latestCheckpoint,
  loadTrainingCheckpoint,
  type RngState,
  restoreCheckpointModel,
  saveTrainingCheckpoint,
  type TrainerState,
  type TrainingCheckpoint,
} from "./checkpoint.js";
import { TrainingError } from "./errors.js";
import { addHostGrads, clipGradNorm, countItemsInBatch, GradientAccumulator, globalNorm, hostGlobalNorm, type NamedGrads } from "./gradients.js";
import { NonFiniteGuard, type NonFiniteGuardOptions } from "./guard.js";
import { type Clock, createTrainProgress, MetricsLogger, type MetricsRecord, systemClock, ThroughputMeter, type TrainProgress } from "./metrics.js";
import type { AdamW } from "./optimizer.js";
import type { LrSchedule } from "./schedule.js";
import { type NamedVariables, toHostTensors } from "./tensors.js";

/** What a trainer's loss function returns for one micro-batch. */
export interface LossOutput {
  /**
   * This micro-batch's share of the step loss: the sum of its per-item losses divided by `numItemsInBatch` (see
   * GradientAccumulator), so the shares of all micro-batches of a step add up to the big-batch mean.
   */
  loss: tf.Scalar;
  /**
   * Extra metrics normalised like `loss` (item sums / numItemsInBatch), so their sum over the step's micro-batches is
   * the step value (e.g. `mean_token_accuracy`, `entropy`). Logged as the mean over the steps of a logging window.
   */
  metrics?: Record<string, tf.Scalar | number>;
  /** Tokens processed (for `num_tokens`, cumulative, and `tokens_per_second`). @default 0 */
  numTokens?: number;
}

/**
 * What a training engine returns for one micro-batch in place of a loss to differentiate: the loss share and metrics
 * (normalised as in {@link LossOutput}) and the gradients of the loss share on the host, by variable name. The loop
 * owns the arrays (it accumulates into them).
 */
export interface GradientOutput {
  loss: number;
  metrics?: Record<string, number>;
  numTokens?: number;
  grads: Map<string, { shape: number[]; data: Float32Array }>;
}

export interface LossContext {
  /** HF `num_items_in_batch`: loss items over all micro-batches of this optimizer step. */
  numItemsInBatch: number;
  /** Optimizer steps done before this one. */
  step: number;
  /** Index of this micro-batch within the step (0 … gradientAccumulationSteps − 1). */
  micro: number;
}

/** A resumable stream of micro-batches. */
export interface MicroBatchSource<B> {
  /** The next micro-batch, or undefined when the data is exhausted (the loop then ends early). */
  next(): B | undefined | Promise<B | undefined>;
  /** Position after the micro-batches returned so far (saved in data_cursor.json). */
  cursor(): DataCursor;
  /** Continues after a saved position. */
  seek(cursor: DataCursor): void | Promise<void>;
  /** Fractional epoch for logs (HF `epoch`). */
  epoch(): number;
}

export interface TrainLoopOptions<B> {
  /** Trainable parameters by name; gradients are taken with respect to all of them. */
  variables: NamedVariables;
  /** Runs inside `tf.variableGrads`: must build `loss` from the variables with tfjs ops. Give this or computeGradients. */
  computeLoss?: (batch: B, context: LossContext) => LossOutput;
  /**
   * Gradients from a training engine (e.g. @infialign/model's onnxruntime engine) instead of tfjs autodiff: the loop
   * accumulates, clips and applies them on the host (AdamW.stepHost). Give this or computeLoss.
   */
  computeGradients?: (batch: B, context: LossContext) => Promise<GradientOutput> | GradientOutput;
  /** Loss items in a micro-batch (tokens with label ≠ −100 for SFT, pairs for DPO). */
  countItems: (batch: B) => number;
  source: MicroBatchSource<B>;
  optimizer: AdamW;
  schedule: LrSchedule;
  /** Optimizer steps to run in total (counting the steps of a resumed checkpoint). */
  maxSteps: number;
  /** Micro-batches per optimizer step (HF `gradient_accumulation_steps`). @default 1 */
  gradientAccumulationSteps?: number;
  /** Global-norm clipping threshold (HF `max_grad_norm`); 0 disables clipping. @default 1.0 */
  maxGradNorm?: number;
  /**
   * Log every this many steps (TRL `logging_steps`); the last step is always logged. On resume the first window
   * starts at the checkpoint, so choose `checkpointEvery` as a multiple of it for identical logs. @default 10
   */
  logEvery?: number;
  /** Run `evaluate` every this many steps; 0 never. @default 0 */
  evalEvery?: number;
  /** Held-out metrics; names without an `eval_` prefix get one (HF). @default none */
  evaluate?: (step: number) => Promise<Record<string, number>> | Record<string, number>;
  /** Save a checkpoint every this many steps (HF `save_steps`); 0 only at the end. @default 0 */
  checkpointEvery?: number;
  /** Also save after the last step. @default true */
  saveFinal?: boolean;
  /** Run directory: checkpoints and metrics.jsonl go here. */
  outputDir: string;
  /** HF `save_total_limit`. @default undefined (keep all) */
  saveTotalLimit?: number;
  /** What to write as the model part of a checkpoint. @default weights only: `model.safetensors` of the variables */
  checkpointModel?: (variables: NamedVariables) => CheckpointModel;
  /**
   * Puts a checkpoint's model back into the variables.
   * @default restoreCheckpointModel: model, adapter or bare weights, assigned by name
   */
  restoreModel?: (checkpoint: TrainingCheckpoint, variables: NamedVariables) => void | Promise<void>;
  /** Resume: `true` = latest checkpoint in outputDir (a fresh start when there is none), or a checkpoint directory. @default false */
  resume?: boolean | string;
  /** Random state saved in rng_state.json and restored on resume (e.g. dropout or sampling seeds). @default none */
  rng?: { state(): RngState; restore(state: RngState): void };
  /**
   * State the loss carries across steps (e.g. DPO `bco_pair`'s running mean of rewards), saved in loss_state.json and
   * restored on resume. A checkpoint without loss_state.json (written before it existed, when such state went into
   * rng_state.json) restores from its rng_state.json instead. @default none
   */
  lossState?: { state(): LossState; restore(state: LossState): void };
  /** @default { maxConsecutive: 3 } */
  guard?: NonFiniteGuardOptions;
  /** @default `<outputDir>/metrics.jsonl` */
  metricsPath?: string;
  /** Progress bar; `false` for none. @default createTrainProgress() (silent without a TTY or under CI) */
  progress?: TrainProgress | false;
  /** Label of the progress bar. @default "train" */
  label?: string;
  /** Fields of trainer_state.json the loop does not know (train_batch_size, num_train_epochs…). @default HF defaults */
  trainerState?: Partial<TrainerState>;
  /** Receives every record written to the metrics file. @default none */
  onLog?: (record: MetricsRecord) => void;
  /** @default performance.now */
  clock?: Clock;
  /**
   * Stops the run cleanly (e.g. on SIGINT): checked before each step; the loop saves a checkpoint at the current step
   * and returns with `interrupted: true`, so `resume` continues from there. @default none
   */
  signal?: AbortSignal;
}

export interface TrainLoopResult {
  /** Optimizer steps done (including skipped non-finite ones). */
  globalStep: number;
  /** Every logged record of the run, including those before a resume (HF `log_history`). */
  logHistory: MetricsRecord[];
  /** Steps skipped by the non-finite guard in this process. */
  skippedSteps: number;
  /** Last checkpoint written, if any. */
  lastCheckpoint?: string;
  /** Whether the data ran out before `maxSteps`. */
  dataExhausted: boolean;
  /** Whether `signal` stopped the run before `maxSteps`. */
  interrupted: boolean;
  /** Tokens seen by the end of the run, resumed runs included (HF `num_input_tokens_seen`, TRL `num_tokens`). */
  numTokens: number;
}

/** Runs the training loop; see TrainLoopOptions. Registers tfjs' kernel gradients (registerTfjsGradients) itself. */
export async function trainLoop<B>(options: TrainLoopOptions<B>): Promise<TrainLoopResult> {
  const accumulation = options.gradientAccumulationSteps ?? 1;
  const maxGradNorm = options.maxGradNorm ?? 1.0;
  const logEvery = options.logEvery ?? 10;
  const evalEvery = options.evalEvery ?? 0;
  const checkpointEvery = options.checkpointEvery ?? 0;
  const bad: string[] = [];
  const positiveInt = (name: string, value: number, min: number) => {
    if (!Number.isInteger(value) || value < min) bad.push(`${name}=${value} (expected an integer ≥ ${min})`);
  };
  positiveInt("maxSteps", options.maxSteps, 0);
  positiveInt("gradientAccumulationSteps", accumulation, 1);
  positiveInt("logEvery", logEvery, 1);
  positiveInt("evalEvery", evalEvery, 0);
  positiveInt("checkpointEvery", checkpointEvery, 0);
  if (!(maxGradNorm >= 0)) bad.push(`maxGradNorm=${maxGradNorm} (expected ≥ 0)`);
  if (options.variables.size === 0) bad.push("variables is empty (expected the trainable parameters)");
  if ((options.computeLoss === undefined) === (options.computeGradients === undefined)) bad.push("give exactly one of computeLoss and computeGradients");
  if (bad.length > 0) throw new TrainingError("loop", `invalid options: ${bad.join("; ")}.`);

  registerTfjsGradients();
  const { variables, optimizer, schedule, source } = options;
  const varList = [...variables.values()];
  const nameOf = new Map([...variables].map(([name, v]) => [v.name, name]));
  const clock = options.clock ?? systemClock;
  const checkpointModel = options.checkpointModel ?? ((vars: NamedVariables): CheckpointModel => ({ format: "weights", weights: toHostTensors(vars) }));

  let step = 0;
  let tokensSeen = 0;
  let logHistory: MetricsRecord[] = [];
  let lastCheckpoint: string | undefined;
  const resumeDir = options.resume === true ? await latestCheckpoint(options.outputDir) : options.resume || undefined;
  if (resumeDir !== undefined) {
    const checkpoint = await loadTrainingCheckpoint(resumeDir);
    if (options.restoreModel) await options.restoreModel(checkpoint, variables);
    else restoreCheckpointModel(checkpoint.model, variables, checkpoint.dir);
    if (checkpoint.optimizer) optimizer.loadState(checkpoint.optimizer, join(resumeDir, "optimizer.safetensors"));
    if (checkpoint.dataCursor) await source.seek(checkpoint.dataCursor);
    if (checkpoint.rngState && options.rng) options.rng.restore(checkpoint.rngState);
    const lossState = checkpoint.lossState ?? checkpoint.rngState;
    if (lossState && options.lossState) options.lossState.restore(lossState);
    step = checkpoint.trainerState.global_step;
    tokensSeen = checkpoint.trainerState.num_input_tokens_seen;
    logHistory = checkpoint.trainerState.log_history.filter((r) => typeof r.step === "number" && r.step <= step) as MetricsRecord[];
    lastCheckpoint = resumeDir;
  }
  const metrics = await MetricsLogger.open(options.metricsPath ?? join(options.outputDir, "metrics.jsonl"), resumeDir === undefined ? {} : { resumeFromStep: step });
  const progress = options.progress === false ? undefined : (options.progress ?? createTrainProgress());
  const throughput = new ThroughputMeter(clock);
  const accumulator = new GradientAccumulator();

  const trainerState = (): TrainerState =>
    createTrainerState({
      ...options.trainerState,
      epoch: source.epoch(),
      global_step: step,
      max_steps: options.maxSteps,
      logging_steps: logEvery,
      eval_steps: evalEvery,
      save_steps: checkpointEvery,
      num_input_tokens_seen: tokensSeen,
      log_history: logHistory as TrainerState["log_history"],
    });
  const save = async (): Promise<string> => {
    lastCheckpoint = await saveTrainingCheckpoint({
      outputDir: options.outputDir,
      step,
      model: checkpointModel(variables),
      optimizer: optimizer.state(),
      trainerState: trainerState(),
      ...(options.rng ? { rngState: options.rng.state() } : {}),
      ...(options.lossState ? { lossState: options.lossState.state() } : {}),
      dataCursor: source.cursor(),
      ...(options.saveTotalLimit === undefined ? {} : { saveTotalLimit: options.saveTotalLimit }),
    });
    return lastCheckpoint;
  };
  const guard = new NonFiniteGuard({ ...options.guard, onAbort: options.guard?.onAbort ?? (() => save()) });
  const write = async (record: MetricsRecord): Promise<void> => {
    logHistory.push(record);
    await metrics.log(record);
    options.onLog?.(record);
  };

  // Sums over the current logging window (HF logs the mean loss of the steps since the last log).
  let windowSteps = 0;
  let windowLoss = 0;
  let windowMetrics: Record<string, number> = {};
  let skippedSteps = 0;
  let dataExhausted = false;
  let interrupted = false;
  let savedAt = resumeDir === undefined ? -1 : step;

  // Logging, evaluation and checkpointing after an optimizer step (shared by the tfjs and the engine paths).
  const afterStep = async (norm: number, lr: number): Promise<void> => {
    if (step % logEvery === 0 || step === options.maxSteps) {
      const record: MetricsRecord = {
        loss: windowSteps > 0 ? windowLoss / windowSteps : Number.NaN,
        grad_norm: norm,
        learning_rate: lr,
        ...Object.fromEntries(Object.entries(windowMetrics).map(([k, v]) => [k, v / Math.max(1, windowSteps)])),
        num_tokens: tokensSeen,
        tokens_per_second: throughput.sample(),
        epoch: source.epoch(),
        step,
      };
      await write(record);
      windowSteps = 0;
      windowLoss = 0;
      windowMetrics = {};
    }
    if (options.evaluate && evalEvery > 0 && step % evalEvery === 0) {
      const result = await options.evaluate(step);
      const prefixed = Object.fromEntries(Object.entries(result).map(([k, v]) => [k.startsWith("eval_") ? k : `eval_${k}`, v]));
      // TRL logs `num_tokens` in eval too: the training tokens seen so far (eval batches do not add to it).
      await write({ eval_num_tokens: tokensSeen, ...prefixed, epoch: source.epoch(), step });
    }
    if (checkpointEvery > 0 && step % checkpointEvery === 0) {
      await save();
      savedAt = step;
    }
  };

  progress?.start(options.maxSteps, options.label ?? "train");
  progress?.update(step, tokensSeen);
  try {
    while (step < options.maxSteps) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      const micro: B[] = [];
      for (let i = 0; i < accumulation; i++) {
        const batch = await source.next();
        if (batch === undefined) break;
        micro.push(batch);
      }
      if (micro.length === 0) {
        dataExhausted = true;
        break;
      }
      const numItemsInBatch = Math.max(1, countItemsInBatch(micro, options.countItems));
      let stepLoss = 0;
      let stepTokens = 0;
      const stepMetrics: Record<string, number> = {};
      if (options.computeGradients) {
        const engineGrads = options.computeGradients;
        let sums: GradientOutput["grads"] | undefined;
        for (const [index, batch] of micro.entries()) {
          const out = await engineGrads(batch, { numItemsInBatch, step, micro: index });
          stepLoss += out.loss;
          stepTokens += out.numTokens ?? 0;
          for (const [k, v] of Object.entries(out.metrics ?? {})) stepMetrics[k] = (stepMetrics[k] ?? 0) + v;
          if (sums === undefined) sums = out.grads;
          else addHostGrads(sums, out.grads);
        }
        const hostGrads = sums ?? new Map();
        const norm = hostGlobalNorm(hostGrads);
        const lr = schedule.at(step);
        if (await guard.check({ step: step + 1, loss: stepLoss, gradNorm: norm })) {
          // torch clip_grad_norm_: scale by min(1, maxNorm / (norm + 1e-6)).
          const coef = maxGradNorm / (norm + 1e-6);
          if (maxGradNorm > 0 && coef < 1) for (const g of hostGrads.values()) for (let i = 0; i < g.data.length; i++) g.data[i] = (g.data[i] as number) * coef;
          optimizer.stepHost(hostGrads, lr);
          windowSteps += 1;
          windowLoss += stepLoss;
          for (const [k, v] of Object.entries(stepMetrics)) windowMetrics[k] = (windowMetrics[k] ?? 0) + v;
        } else skippedSteps += 1;
        step += 1;
        tokensSeen += stepTokens;
        throughput.add(stepTokens);
        progress?.update(step, tokensSeen);
        await afterStep(norm, lr);
        continue;
      }
      const computeLoss = options.computeLoss as NonNullable<typeof options.computeLoss>;
      for (const [index, batch] of micro.entries()) {
        let kept: Record<string, tf.Scalar | number> = {};
        let tokens = 0;
        const { value, grads } = tf.variableGrads(() => {
          const out = computeLoss(batch, { numItemsInBatch, step, micro: index });
          kept = Object.fromEntries(Object.entries(out.metrics ?? {}).map(([k, v]) => [k, typeof v === "number" ? v : tf.keep(v)]));
          tokens = out.numTokens ?? 0;
          return out.loss;
        }, varList);
        stepLoss += value.dataSync()[0]!;
        value.dispose();
        for (const [k, v] of Object.entries(kept)) {
          stepMetrics[k] = (stepMetrics[k] ?? 0) + (typeof v === "number" ? v : v.dataSync()[0]!);
          if (typeof v !== "number") v.dispose();
        }
        const named: NamedGrads = new Map(Object.entries(grads).map(([tfName, g]) => [nameOf.get(tfName)!, g]));
        accumulator.add(named);
        stepTokens += tokens;
      }
      let grads = accumulator.take();
      const norm = globalNorm(grads);
      const lr = schedule.at(step);
      let applied: boolean;
      try {
        applied = await guard.check({ step: step + 1, loss: stepLoss, gradNorm: norm });
      } catch (error) {
        disposeAll(grads);
        throw error;
      }
      if (applied) {
        if (maxGradNorm > 0) grads = clipGradNorm(grads, maxGradNorm, norm).grads;
        optimizer.step(grads, lr);
        windowSteps += 1;
        windowLoss += stepLoss;
        for (const [k, v] of Object.entries(stepMetrics)) windowMetrics[k] = (windowMetrics[k] ?? 0) + v;
      } else skippedSteps += 1;
      disposeAll(grads);
      step += 1;
      tokensSeen += stepTokens;
      throughput.add(stepTokens);
      progress?.update(step, tokensSeen);

      await afterStep(norm, lr);
    }
    if ((interrupted || (options.saveFinal ?? true)) && savedAt !== step) await save();
  } finally {
    accumulator.reset();
    progress?.stop();
    await metrics.close();
  }
  return { globalStep: step, logHistory, skippedSteps, dataExhausted, interrupted, numTokens: tokensSeen, ...(lastCheckpoint === undefined ? {} : { lastCheckpoint }) };
}

function disposeAll(grads: NamedGrads): void {
  for (const g of grads.values()) g.dispose();
}
