// The DPO trainer (TRL `DPOTrainer`, `trl/trainer/dpo_trainer.py`), read top to bottom: load the policy → tokenize the
// pairs → reference log-probs once (cached on disk, reference model disposed before training) → the shared training
// loop of @infialign/train-sft with a loss over concatenated chosen + rejected rows → final model and run.json.
import { stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type Message, readRecords, resolveInputs } from "@infialign/data";
import { createRng } from "@infialign/kernels";
import { IGNORE_INDEX } from "@infialign/kernels/tfjs";
import {
  attachLora,
  createTrainingEngine,
  type DecodeModel,
  type LoraTargetModule,
  loadCheckpoint,
  loadModelTokenizer,
  loraState,
  loraVariables,
  type ModelTokenizer,
  mergeLora,
  OnnxQwen2Model,
  type Qwen2Config,
  Qwen2Model,
  saveCheckpoint,
  saveLora,
  scoreCompletions,
  type TokenScores,
  type TrainingEngine,
} from "@infialign/model";
import {
  AdamW,
  type CheckpointModel,
  createSchedule,
  type DataCursor,
  type GradientOutput,
  type LossContext,
  type MetricsRecord,
  type MicroBatchSource,
  type NamedVariables,
  padBatch,
  type TrainLoopResult,
  type TrainProgress,
  trainLoop,
} from "@infialign/train-sft";
import * as tf from "@tensorflow/tfjs-core";
import { type DpoConfig, lossTypesOf, referenceCacheDir } from "./config.js";
import { preferenceLossDefinition } from "./losses/table.js";
import { needsReference, preferenceLoss, preferenceMetrics, RunningMean, resolvePreferenceLossOptions } from "./losses.js";
import type { PreferenceRecord } from "./pairs/pairStage.js";
import { PreferenceRecordSchema, readPreferenceRecords } from "./pairs/readPairs.js";
import { RefLogpCache, type RefScoreItem } from "./refCache.js";

const PREFIX = "[infialign/train-dpo] trainer";

/** A preference pair as token ids, after truncation. */
export interface TokenizedPair {
  id: string;
  /** Prompt rendered with the generation prompt (kept end when longer than maxPromptLength). */
  promptIds: number[];
  /** Chosen completion tokens (assistant content and the template's turn end), cut from the right to fit maxLength. */
  chosenIds: number[];
  rejectedIds: number[];
  /** Tokens cut from prompt, chosen and rejected. */
  truncated: { prompt: number; chosen: number; rejected: number };
}

export interface TokenizePairOptions {
  /** @default 1024 */
  maxLength?: number;
  /** @default 512 */
  maxPromptLength?: number;
}

/**
 * Tokenizes a pair as TRL does for conversational preference data: the prompt through the chat template with the
 * generation prompt; each completion is what the full conversation (prompt + answer) renders beyond that prefix, with
 * the tokenizer's EOS appended when the template adds none. Truncation (TRL v0.19 defaults): the prompt keeps its last
 * `maxPromptLength` tokens, then each completion keeps its first `maxLength − prompt` tokens.
 */
export function tokenizePair(record: Pick<PreferenceRecord, "id" | "prompt" | "chosen" | "rejected">, tokenizer: ModelTokenizer, options: TokenizePairOptions = {}): TokenizedPair {
  const maxLength = options.maxLength ?? 1024;
  const maxPromptLength = options.maxPromptLength ?? 512;
  const prompt = record.prompt.map((m) => ({ role: m.role, content: m.content }));
  const fullPrompt = tokenizer.encodeChat(prompt, { addGenerationPrompt: true });
  const completion = (answer: readonly Message[], field: string): number[] => {
    const full = tokenizer.encodeChat([...prompt, ...answer.map((m) => ({ role: m.role, content: m.content }))]);
    for (let i = 0; i < fullPrompt.length; i++) {
      if (full[i] !== fullPrompt[i]) {
        throw new Error(
          `${PREFIX}: pair ${record.id}: the rendered prompt (${fullPrompt.length} tokens) is not a token prefix of prompt + ${field} (first difference at token ${i}); the chat template (${tokenizer.name}) changes the prompt when an answer follows. Use a template whose prompt is stable.`,
        );
      }
    }
    const ids = full.slice(fullPrompt.length);
    if (ids.length === 0) throw new Error(`${PREFIX}: pair ${record.id}: "${field}" renders no tokens; drop the pair or fix the record.`);
    if (!ids.some((id) => tokenizer.eosTokenIds.includes(id)) && tokenizer.eosTokenIds[0] !== undefined) ids.push(tokenizer.eosTokenIds[0]);
    return ids;
  };
  const chosen = completion(record.chosen, "chosen");
  const rejected = completion(record.rejected, "rejected");
  const promptIds = fullPrompt.slice(Math.max(0, fullPrompt.length - maxPromptLength));
  const room = maxLength - promptIds.length;
  return {
    id: record.id,
    promptIds,
    chosenIds: chosen.slice(0, room),
    rejectedIds: rejected.slice(0, room),
    truncated: { prompt: fullPrompt.length - promptIds.length, chosen: Math.max(0, chosen.length - room), rejected: Math.max(0, rejected.length - room) },
  };
}

/**
 * Preference records from stage directories (with manifest.json), JSONL/JSON/Parquet files or globs, each validated
 * against PreferenceRecordSchema; errors name the file and line.
 */
export async function readPairs(patterns: readonly string[]): Promise<PreferenceRecord[]> {
  const out: PreferenceRecord[] = [];
  for (const pattern of patterns) {
    const isStageDir = await stat(join(pattern, "manifest.json")).then(
      (s) => s.isFile(),
      () => false,
    );
    if (isStageDir) {
      for await (const record of readPreferenceRecords(pattern)) out.push(record);
      continue;
    }
    for (const file of await resolveInputs(pattern)) {
      for await (const raw of readRecords(file)) {
        const where = `${file.path}${raw.loc && "line" in raw.loc ? ` line ${String(raw.loc.line)}` : ""}`;
        if (!raw.ok) throw new Error(`${PREFIX}: ${where}: ${raw.message}; fix or remove the line.`);
        const parsed = PreferenceRecordSchema.safeParse(raw.value);
        if (!parsed.success) {
          const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(record)"}: ${i.message}`).join("; ");
          throw new Error(`${PREFIX}: ${where} is not a preference record (${problems}); expected the pair stage's output {id, source, prompt, chosen, rejected, meta}.`);
        }
        out.push(raw.value as PreferenceRecord);
      }
    }
  }
  return out;
}

/** Micro-batches of pairs in a seeded order, reshuffled every epoch; the cursor is (epoch, micro-batch index). */
export class PairBatchSource implements MicroBatchSource<TokenizedPair[]> {
  private epochIndex = 0;
  private position = 0;
  private order: number[];
  readonly batchesPerEpoch: number;

  constructor(
    private readonly pairs: readonly TokenizedPair[],
    private readonly batchSize: number,
    private readonly epochs: number,
    private readonly seed: number,
  ) {
    this.batchesPerEpoch = Math.ceil(pairs.length / batchSize);
    this.order = this.orderOf(0);
  }

  /** Fisher–Yates with a per-epoch seed, so any epoch's order is reproducible on resume. */
  private orderOf(epoch: number): number[] {
    const rng = createRng((this.seed + Math.imul(epoch, 0x9e3779b1)) >>> 0);
    const order = this.pairs.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  }

  next(): TokenizedPair[] | undefined {
    if (this.position >= this.batchesPerEpoch) {
      this.epochIndex += 1;
      this.position = 0;
      this.order = this.orderOf(this.epochIndex);
    }
    if (this.epochIndex >= this.epochs || this.batchesPerEpoch === 0) return undefined;
    const ids = this.order.slice(this.position * this.batchSize, (this.position + 1) * this.batchSize);
    this.position += 1;
    return ids.map((i) => this.pairs[i]!);
  }

  cursor(): DataCursor {
    return { phase: 0, epoch: this.epochIndex, position: this.position };
  }

  seek(cursor: DataCursor): void {
    this.epochIndex = cursor.epoch;
    this.position = cursor.position;
    this.order = this.orderOf(this.epochIndex);
  }

  epoch(): number {
    return this.batchesPerEpoch === 0 ? 0 : this.epochIndex + this.position / this.batchesPerEpoch;
  }
}

/** Reference log-probs of the pairs, token-summed, in pair order. */
export interface ReferenceLogps {
  chosen: Float64Array;
  rejected: Float64Array;
}

/** How the reference log-probs were obtained. */
export interface ReferenceReport {
  /** Engine that scored (undefined when every item came from the cache or the loss needs no reference). */
  engine?: "onnx" | "tfjs" | "policy-copy";
  /** Why `auto` fell back to tfjs. */
  fallback?: string;
  cacheDir?: string;
  hits: number;
  misses: number;
  seconds: number;
}

export interface TrainDpoOptions {
  /** Resume from the latest checkpoint in outputDir (`true`) or from a checkpoint directory. @default false */
  resume?: boolean | string;
  /** @default createTrainProgress() of the core (silent without a TTY or under CI) */
  progress?: TrainProgress | false;
  /** Stops cleanly after the current step, saving a checkpoint (e.g. on SIGINT). */
  signal?: AbortSignal;
  /** Receives every metrics record. */
  onLog?: (record: MetricsRecord) => void;
  /** Status lines (loading, reference scoring, saving). @default none */
  log?: (line: string) => void;
  /** Write `<outputDir>/final` (and `adapter/` with LoRA) after training. @default true */
  saveFinal?: boolean;
  /** Training engine, overriding `config.engine`. @default config.engine ("auto": onnxruntime where it loads) */
  engine?: "auto" | "onnxruntime" | "tfjs";
  /** onnxruntime threads, overriding `config.threads`. @default config.threads, else the machine's cores */
  threads?: number;
}

export interface TrainDpoResult {
  outputDir: string;
  /** `<outputDir>/final`, unless the run was interrupted or saveFinal is false. */
  finalDir?: string;
  pairs: number;
  /** Pairs whose prompt or a completion was truncated. */
  truncatedPairs: number;
  /** Pairs whose chosen and rejected tokens are identical after truncation (they cut before the responses differ): no signal. */
  identicalPairs: number;
  reference: ReferenceReport;
  /** Engine that trained the policy. */
  engine: "onnxruntime" | "tfjs";
  train: TrainLoopResult;
  /** Wall-clock seconds of the training loop. */
  trainSeconds: number;
  /** Pairs and (real, non-padding) tokens processed per second of training. */
  pairsPerSecond: number;
  tokensPerSecond: number;
  /** The last logged metrics record. */
  lastLog?: MetricsRecord;
}

interface LoadedPolicy {
  config: Qwen2Config;
  model: Qwen2Model;
}

async function loadPolicy(dir: string): Promise<LoadedPolicy> {
  const checkpoint = await loadCheckpoint(dir);
  return { config: checkpoint.config, model: Qwen2Model.fromWeights(checkpoint.config, checkpoint.weights) };
}

/**
 * Scores the reference log-probs through the cache; a reference model is loaded only when some item is missing, and
 * disposed before this returns.
 */
async function referenceLogps(config: DpoConfig, pairs: readonly TokenizedPair[], tokenizer: ModelTokenizer, policy: Qwen2Model, log: (line: string) => void): Promise<{ logps: ReferenceLogps; report: ReferenceReport }> {
  const started = performance.now();
  const referenceDir = resolve(config.reference.model ?? config.model);
  const report: ReferenceReport = { cacheDir: referenceCacheDir(config), hits: 0, misses: 0, seconds: 0 };
  let model: DecodeModel | undefined;
  let release: (() => Promise<void> | void) | undefined;
  const engineFor = async (): Promise<DecodeModel> => {
    if (model !== undefined) return model;
    const wanted = config.reference.engine;
    if (wanted === "policy-copy") {
      report.engine = "policy-copy";
      model = policy;
      return model;
    }
    const checkpoint = await loadCheckpoint(referenceDir);
    if (wanted === "onnx" || wanted === "auto") {
      try {
        const onnx = await OnnxQwen2Model.create(checkpoint.config, checkpoint.weights);
        report.engine = "onnx";
        model = onnx;
        release = () => onnx.dispose();
        return onnx;
      } catch (error) {
        if (wanted === "onnx") throw error;
        report.fallback = error instanceof Error ? error.message : String(error);
        log(`${PREFIX}: reference engine onnx unavailable (${report.fallback}); using tfjs.`);
      }
    }
    const tfModel = Qwen2Model.fromWeights(checkpoint.config, checkpoint.weights);
    report.engine = "tfjs";
    model = tfModel;
    release = () => tfModel.dispose();
    return tfModel;
  };
  // The key names the reference weights by path; a different SFT checkpoint at the same path needs a fresh cacheDir.
  const cache = await RefLogpCache.open({
    dir: referenceCacheDir(config),
    referenceModel: referenceDir,
    tokenizer: tokenizer.name,
    batchSize: config.reference.batchSize,
    scorer: async (items) => scoreCompletions(await engineFor(), items, { batchSize: config.reference.batchSize }),
  });
  try {
    const items: RefScoreItem[] = pairs.flatMap((p) => [
      { promptIds: p.promptIds, completionIds: p.chosenIds },
      { promptIds: p.promptIds, completionIds: p.rejectedIds },
    ]);
    const sums = await cache.sums(items);
    report.hits = cache.stats.hits;
    report.misses = cache.stats.misses;
    const logps: ReferenceLogps = { chosen: new Float64Array(pairs.length), rejected: new Float64Array(pairs.length) };
    pairs.forEach((_, i) => {
      logps.chosen[i] = sums[2 * i]!;
      logps.rejected[i] = sums[2 * i + 1]!;
    });
    return { logps, report };
  } finally {
    await cache.close();
    await release?.();
    report.seconds = (performance.now() - started) / 1000;
    log(`${PREFIX}: reference log-probs: ${report.hits} cached, ${report.misses} scored${report.engine ? ` (${report.engine})` : ""} in ${report.seconds.toFixed(1)} s.`);
  }
}

/**
 * Trains the policy with DPO (or any loss of the loss table) on preference pairs; see the file header for the flow.
 *
 * Per micro-batch of B pairs, one forward over 2B rows (B chosen, then B rejected; prompt + completion, right-padded,
 * labels only on the completion) gives per-token log-probs; their per-row sums are the policy log-probs of
 * `preferenceLoss`, called once. The loss handed to the loop is the micro-batch mean scaled by B / (pairs in the
 * optimizer step), so accumulated micro-batches add up to the big-batch mean (HF `num_items_in_batch`). Metrics use
 * TRL's names and are normalised the same way.
 */
export async function trainDpo(config: DpoConfig, options: TrainDpoOptions = {}): Promise<TrainDpoResult> {
  const log = options.log ?? (() => {});
  const lossTypes = lossTypesOf(config);
  const records = await readPairs(config.pairs);
  if (records.length === 0) throw new Error(`${PREFIX}: no preference pairs in ${config.pairs.join(", ")}; build pairs first (infialign-dpo pairs).`);
  const tokenizer = await loadModelTokenizer(config.tokenizer ?? config.model);
  const pairs = records.map((r) => tokenizePair(r, tokenizer, { maxLength: config.maxLength, maxPromptLength: config.maxPromptLength }));
  const truncatedPairs = pairs.filter((p) => p.truncated.prompt + p.truncated.chosen + p.truncated.rejected > 0).length;
  const identicalPairs = pairs.filter((p) => p.chosenIds.length === p.rejectedIds.length && p.chosenIds.every((id, i) => id === p.rejectedIds[i])).length;
  log(`${PREFIX}: ${pairs.length} pairs (${truncatedPairs} truncated to maxLength ${config.maxLength} / maxPromptLength ${config.maxPromptLength}).`);
  if (identicalPairs > 0) log(`${PREFIX}: warning: ${identicalPairs} pairs have identical chosen and rejected tokens after truncation (zero gradient under DPO); raise maxLength.`);

  const { config: modelConfig, model } = await loadPolicy(config.model);
  let engine: TrainingEngine | undefined;
  try {
    let reference: ReferenceLogps | undefined;
    let referenceReport: ReferenceReport = { hits: 0, misses: 0, seconds: 0 };
    if (needsReference(lossTypes)) {
      const scored = await referenceLogps(config, pairs, tokenizer, model, log);
      reference = scored.logps;
      referenceReport = scored.report;
    }
    const refIndex = new Map(pairs.map((p, i) => [p, i]));

    if (config.lora) attachLora(model, { r: config.lora.r, alpha: config.lora.alpha, dropout: config.lora.dropout, targetModules: config.lora.targetModules as LoraTargetModule[], seed: config.seed });
    model.training = true;
    const variables: NamedVariables = config.lora ? loraVariables(model) : new Map(model.variables);
    const bcoRunningMean = lossTypes.includes("bco_pair") ? new RunningMean() : undefined;
    const lossOptions = resolvePreferenceLossOptions({ ...config.loss, lossType: lossTypes, ...(bcoRunningMean ? { bcoRunningMean } : {}) });
    const source = new PairBatchSource(pairs, config.batchSize, config.epochs, config.seed);
    const totalMicro = source.batchesPerEpoch * config.epochs;
    const maxSteps = config.maxSteps ?? Math.ceil(totalMicro / config.gradAccumulation);
    const schedule = createSchedule({ type: config.lrSchedulerType, learningRate: config.learningRate, totalSteps: maxSteps, warmupSteps: config.warmupSteps, warmupRatio: config.warmupRatio });
    const { maxGradNorm, ...adamw } = config.optimizer;
    const optimizer = new AdamW(variables, adamw);

    // A loss may need the chosen rows' prompt tokens scored too (ORPO's NLL over prompt + completion, as TRL's ORPOTrainer).
    const promptNll = lossTypes.some((t) => preferenceLossDefinition(t)?.needsPromptLogps?.(lossOptions) ?? false);
    const threads = options.threads ?? config.threads;
    const created = await createTrainingEngine(model, { engine: options.engine ?? config.engine, ...(threads === undefined ? {} : { threads }) });
    engine = created.engine;
    if (created.fallback !== undefined) log(`${PREFIX}: onnxruntime engine unavailable (${created.fallback}); training with tfjs.`);
    const policy = engine;
    const computeGradients = async (batch: TokenizedPair[], context: LossContext): Promise<GradientOutput> => {
      const b = batch.length;
      const promptLengths = [...batch, ...batch].map((p) => p.promptIds.length);
      const rows = [...batch.map((p) => p.chosenIds), ...batch.map((p) => p.rejectedIds)].map((completion, r) => {
        const prompt = batch[r % b]!.promptIds;
        const inputIds = Int32Array.from([...prompt, ...completion]);
        const labels = Int32Array.from(inputIds);
        if (!(promptNll && r < b)) labels.fill(IGNORE_INDEX, 0, prompt.length);
        return { inputIds, labels };
      });
      const padded = padBatch(rows, { padTokenId: tokenizer.padTokenId });
      const seq = padded.seqLength;
      // Right padding: real tokens never attend to padding, so no segment ids are needed.
      const input = { inputIds: padded.inputIds, labels: padded.labels, batch: rows.length, seq };
      const share = b / context.numItemsInBatch;
      let lossShare = 0;
      let metrics: Record<string, number> = {};
      // One pass to score, the loss and its derivative with respect to each row's log-prob sum on the host (tiny
      // tensors), then the engine's backward with those derivatives as token weights: ∂loss/∂log p of a token is the
      // derivative of its row's sum.
      const weights = (scores: TokenScores): Float32Array => {
        const sums = new Float64Array(rows.length);
        const counts = new Float64Array(rows.length);
        const promptSums = new Float64Array(b);
        const promptCounts = new Float64Array(b);
        const meanLogitSums = new Float64Array(rows.length);
        let entropySum = 0;
        let correctSum = 0;
        let chosenTokenCount = 0;
        for (let i = 0; i < scores.labels.length; i++) {
          if (scores.labels[i] === IGNORE_INDEX) continue;
          const r = Math.floor(i / seq);
          if ((i % seq) + 1 < promptLengths[r]!) {
            promptSums[r]! += scores.logProbs[i]!;
            promptCounts[r]! += 1;
            continue;
          }
          sums[r]! += scores.logProbs[i]!;
          counts[r]! += 1;
          meanLogitSums[r]! += scores.meanLogits[i]!;
          entropySum += scores.entropy[i]!;
          if (r < b) {
            correctSum += scores.correct[i]!;
            chosenTokenCount += 1;
          }
        }
        // TRL DPOTrainer: mean logit over all chosen (rejected) completion tokens of the batch; `entropy` over the
        // completion tokens of chosen and rejected rows, `mean_token_accuracy` over the chosen ones.
        const meanOver = (from: number) => {
          let s = 0;
          let n = 0;
          for (let i = from; i < from + b; i++) {
            s += meanLogitSums[i]!;
            n += counts[i]!;
          }
          return n > 0 ? s / n : 0;
        };
        const meanLogits = { chosen: meanOver(0), rejected: meanOver(b) };
        const entropyTokens = counts.reduce((a, c) => a + c, 0);
        const forward = { entropy: entropyTokens > 0 ? entropySum / entropyTokens : 0, meanTokenAccuracy: chosenTokenCount > 0 ? correctSum / chosenTokenCount : 0 };
        const sumsVar = tf.variable(tf.tensor1d(Float32Array.from(sums)), true);
        const promptVar = tf.variable(tf.tensor1d(Float32Array.from(promptSums)), true);
        try {
          const { value, grads } = tf.variableGrads(() => {
            const prefBatch = {
              policyChosenLogps: tf.slice(sumsVar, [0], [b]) as tf.Tensor1D,
              policyRejectedLogps: tf.slice(sumsVar, [b], [b]) as tf.Tensor1D,
              chosenTokens: Array.from(counts.subarray(0, b)),
              rejectedTokens: Array.from(counts.subarray(b)),
              ...(reference
                ? { refChosenLogps: batch.map((p) => reference.chosen[refIndex.get(p)!]!), refRejectedLogps: batch.map((p) => reference.rejected[refIndex.get(p)!]!) }
                : {}),
              ...(promptNll ? { chosenPromptLogps: promptVar as tf.Tensor1D, chosenPromptTokens: Array.from(promptCounts) } : {}),
            };
            const result = preferenceLoss(prefBatch, lossOptions);
            const values = preferenceMetrics(prefBatch, result, meanLogits, forward, lossTypes);
            // Micro-batch means → shares of the step mean (the loop sums shares over micro-batches).
            metrics = Object.fromEntries(Object.entries(values).flatMap(([k, v]) => (k === "loss" || v === undefined ? [] : [[k, v * share]])));
            // A zero multiple keeps both variables connected when a loss ignores one (gradient 0).
            return tf.add(tf.mul(result.loss, share), tf.mul(tf.add(tf.sum(sumsVar), tf.sum(promptVar)), 0)) as tf.Scalar;
          }, [sumsVar, promptVar]);
          lossShare = value.dataSync()[0]!;
          const dSums = grads[sumsVar.name]!.dataSync();
          const dPrompt = grads[promptVar.name]!.dataSync();
          tf.dispose([value, ...Object.values(grads)]);
          const u = new Float32Array(scores.labels.length);
          for (let i = 0; i < u.length; i++) {
            if (scores.labels[i] === IGNORE_INDEX) continue;
            const r = Math.floor(i / seq);
            u[i] = (i % seq) + 1 < promptLengths[r]! ? dPrompt[r]! : dSums[r]!;
          }
          return u;
        } finally {
          sumsVar.dispose();
          promptVar.dispose();
        }
      };
      // Dropout masks seeded by (step, micro-batch): a resumed run draws the uninterrupted run's masks.
      const out = await policy.gradients(input, weights, { dropoutSeed: (Math.imul(context.step + 1, 0xc2b2ae35) ^ Math.imul(context.micro + 1, 0x27d4eb2f)) >>> 0 });
      return { loss: lossShare, metrics, numTokens: padded.numTokens, grads: out.grads };
    };

    let trainTokens = 0;
    let lastLog: MetricsRecord | undefined;
    const started = performance.now();
    const train = await trainLoop<TokenizedPair[]>({
      variables,
      computeGradients,
      countItems: (batch) => batch.length,
      source,
      optimizer,
      schedule,
      maxSteps,
      gradientAccumulationSteps: config.gradAccumulation,
      maxGradNorm,
      logEvery: config.loggingSteps,
      checkpointEvery: config.saveSteps,
      outputDir: config.outputDir,
      ...(config.saveTotalLimit === undefined ? {} : { saveTotalLimit: config.saveTotalLimit }),
      checkpointModel: (): CheckpointModel => (config.lora ? { format: "adapter", ...loraState(model, { baseModelNameOrPath: config.model }) } : { format: "model", options: { config: modelConfig, weights: model.toWeights(), tokenizer } }),
      ...(options.resume === undefined ? {} : { resume: options.resume }),
      // bco_pair's running mean of rewards (TRL RunningMoments) continues across a resume, from loss_state.json.
      ...(bcoRunningMean
        ? {
            lossState: {
              state: () => ({ bcoRunningMean: bcoRunningMean.state() }),
              restore: (state: Record<string, unknown>) => {
                const s = state.bcoRunningMean as { sum: number; count: number } | undefined;
                if (s) Object.assign(bcoRunningMean, RunningMean.fromState(s));
              },
            },
          }
        : {}),
      ...(options.progress === undefined ? {} : { progress: options.progress }),
      label: "dpo",
      trainerState: { train_batch_size: config.batchSize, num_train_epochs: config.epochs },
      onLog: (record) => {
        lastLog = record;
        if (typeof record.num_tokens === "number") trainTokens = record.num_tokens;
        options.onLog?.(record);
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const trainSeconds = (performance.now() - started) / 1000;
    model.training = false;

    let finalDir: string | undefined;
    if (!train.interrupted && (options.saveFinal ?? true)) {
      finalDir = join(config.outputDir, "final");
      if (config.lora) {
        await saveLora(model, join(config.outputDir, "adapter"), { baseModelNameOrPath: config.model });
        mergeLora(model);
      }
      await saveCheckpoint(finalDir, { config: modelConfig, weights: model.toWeights(), tokenizer });
      log(`${PREFIX}: saved the final model to ${finalDir}.`);
    }
    const stepsRun = train.globalStep;
    const pairsSeen = Math.min(stepsRun * config.batchSize * config.gradAccumulation, pairs.length * config.epochs);
    const result: TrainDpoResult = {
      outputDir: config.outputDir,
      ...(finalDir === undefined ? {} : { finalDir }),
      pairs: pairs.length,
      truncatedPairs,
      identicalPairs,
      reference: referenceReport,
      engine: policy.name,
      train,
      trainSeconds,
      pairsPerSecond: trainSeconds > 0 ? pairsSeen / trainSeconds : 0,
      tokensPerSecond: trainSeconds > 0 ? trainTokens / trainSeconds : 0,
      ...(lastLog === undefined ? {} : { lastLog }),
    };
    await writeFile(join(config.outputDir, "run.json"), `${JSON.stringify(runSummary(config, result), null, 2)}\n`);
    return result;
  } finally {
    await engine?.dispose();
    model.dispose();
  }
}

function runSummary(config: DpoConfig, result: TrainDpoResult): Record<string, unknown> {
  const { train, lastLog, ...rest } = result;
  return {
    ...rest,
    train: { globalStep: train.globalStep, skippedSteps: train.skippedSteps, interrupted: train.interrupted, dataExhausted: train.dataExhausted, lastCheckpoint: train.lastCheckpoint },
    lastLog,
    config,
  };
}
