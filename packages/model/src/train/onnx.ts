// The onnxruntime training engine: the forward + backward graph of onnx/trainGraph.ts in an onnxruntime-node session
// (MLAS kernels, explicit intra-op threads, spinning off), fed the model's current weights on every call. The weights
// stay in the tfjs variables the optimizer updates, so checkpoints, LoRA merging and generation are unchanged.
import { availableParallelism } from "node:os";
import { createRng, type Rng } from "@infialign/kernels";
import { IGNORE_INDEX } from "@infialign/kernels/tfjs";
import type * as tf from "@tensorflow/tfjs-core";
import type { InferenceSession, Tensor } from "onnxruntime-node";
import type { NamedTensors } from "../engine.js";
import { ModelError } from "../errors.js";
import { buildQwen2TrainOnnx, TRAIN_GRAPH_NAMES as N, type TrainGraphAdapter } from "../onnx/trainGraph.js";
import type { Qwen2Model } from "../qwen2/model.js";
import {
  checkTrainingBatch,
  type GradientOptions,
  type GradientResult,
  peftTensorName,
  resolveTokenWeights,
  shiftLabels,
  TfjsTrainingEngine,
  type TokenScores,
  type TokenWeights,
  type TrainingBatch,
  type TrainingEngine,
} from "./engine.js";

type Ort = typeof import("onnxruntime-node");

export interface OnnxTrainingEngineOptions {
  /** Threads of onnxruntime's intra-op pool. @default os.availableParallelism() */
  threads?: number;
  /**
   * Largest `[tokens, vocab]` float32 tensor one session run may build (the graph holds a few at once): bigger batches
   * run in row chunks, and a batch whose single rows exceed it goes to the tfjs engine (whose cross-entropy is chunked
   * over tokens). @default 256 MiB (a 151,936-token vocabulary: rows up to 441 tokens)
   */
  maxLogitsBytes?: number;
}

/** onnxruntime-node, or a ModelError saying how to install it. */
export async function loadOnnxRuntime(): Promise<Ort> {
  try {
    const mod = (await import("onnxruntime-node")) as Ort & { default?: Ort };
    return mod.InferenceSession === undefined && mod.default !== undefined ? mod.default : mod;
  } catch (cause) {
    throw new ModelError("onnx", "could not load onnxruntime-node; install it for the fast training engine (npm i onnxruntime-node).", { cause });
  }
}

function toInt64(values: ArrayLike<number>, clampNegative = false): BigInt64Array {
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    out[i] = BigInt(clampNegative && v < 0 ? 0 : v);
  }
  return out;
}

/** Mask seeds: one stream per engine, advanced per call, as the tfjs model advances its dropout seed per call. */
const DROPOUT_STREAM = 0x6c6f7261;

export class OnnxTrainingEngine implements TrainingEngine {
  readonly name = "onnxruntime" as const;
  private readonly sessions = new Map<string, Promise<InferenceSession>>();
  private dropoutRng: Rng | undefined;
  private reference: TfjsTrainingEngine | undefined;
  private readonly weights = new WeakMap<tf.Variable, { dataId: object; tensor: Tensor }>();

  private constructor(
    private readonly model: Qwen2Model,
    private readonly ort: Ort,
    readonly threads: number,
    readonly maxLogitsBytes: number,
  ) {}

  /** @throws ModelError when onnxruntime-node is not installed or the options are invalid. */
  static async create(model: Qwen2Model, options: OnnxTrainingEngineOptions = {}): Promise<OnnxTrainingEngine> {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new ModelError("train", `option "threads" must be a positive integer; got ${threads}.`);
    const maxLogitsBytes = options.maxLogitsBytes ?? 256 * 2 ** 20;
    if (!(maxLogitsBytes > 0)) throw new ModelError("train", `option "maxLogitsBytes" must be positive; got ${maxLogitsBytes}.`);
    return new OnnxTrainingEngine(model, await loadOnnxRuntime(), threads, maxLogitsBytes);
  }

  /** The unmerged adapters as the graph sees them (dropout only while the model is in training mode). */
  private adapters(): TrainGraphAdapter[] {
    return [...this.model.adapters]
      .filter(([, a]) => !a.merged)
      .map(([prefix, a]) => ({ prefix, r: a.a.shape[0] as number, scale: a.scale, dropout: this.model.training && a.dropout > 0 }));
  }

  private session(gradients: boolean, adapters: TrainGraphAdapter[]): Promise<InferenceSession> {
    // A graph per shape of the adapter set: attaching, merging or toggling training mode picks (or builds) another.
    const key = JSON.stringify({ gradients, adapters });
    let session = this.sessions.get(key);
    if (session === undefined) {
      const bytes = buildQwen2TrainOnnx(this.model.config, { gradients, adapters });
      session = this.ort.InferenceSession.create(bytes, {
        executionProviders: ["cpu"],
        graphOptimizationLevel: "all",
        executionMode: "sequential",
        intraOpNumThreads: this.threads,
        interOpNumThreads: 1,
        // The memory pattern pre-plans one block per input shape; with a training graph's many live activations it held
        // ~600 MiB more at the 7.6M-parameter bench shape, for no measurable speed (the arena reuses buffers anyway).
        enableMemPattern: false,
        // Spinning threads burn the cores another process (or our own JS) needs; measured slower on loaded machines.
        extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
      });
      this.sessions.set(key, session);
    }
    return session;
  }

  /**
   * A variable's values as an onnxruntime tensor, read from tfjs only when they changed: `assign` gives a variable a new
   * data id, so frozen base weights (LoRA), the two passes of a DPO micro-batch and the micro-batches of one optimizer
   * step read each weight once.
   */
  private weight(variable: tf.Variable): Tensor {
    const cached = this.weights.get(variable);
    if (cached !== undefined && cached.dataId === variable.dataId) return cached.tensor;
    const tensor = new this.ort.Tensor("float32", variable.dataSync() as Float32Array, [...variable.shape]);
    this.weights.set(variable, { dataId: variable.dataId, tensor });
    return tensor;
  }

  private feeds(batch: TrainingBatch, shifted: Int32Array, adapters: TrainGraphAdapter[], rng: Rng | undefined): Record<string, Tensor> {
    const { Tensor } = this.ort;
    const { batch: b, seq: s } = batch;
    const positions = batch.positionIds ?? Int32Array.from({ length: b * s }, (_, i) => i % s);
    const feeds: Record<string, Tensor> = {
      [N.inputIds]: new Tensor("int64", toInt64(batch.inputIds), [b, s]),
      [N.positionIds]: new Tensor("int64", toInt64(positions), [b, s]),
      [N.segmentIds]: new Tensor("int64", batch.segmentIds ? toInt64(batch.segmentIds) : new BigInt64Array(b * s), [b, s]),
      [N.labels]: new Tensor("int64", toInt64(shifted, true), [b * s]),
    };
    for (const [name, v] of this.model.variables) {
      if (name === "lm_head.weight" && this.model.config.tieWordEmbeddings) continue;
      feeds[name] = this.weight(v);
    }
    for (const a of adapters) {
      const adapter = this.model.adapters.get(a.prefix)!;
      feeds[N.loraA(a.prefix)] = this.weight(adapter.a);
      feeds[N.loraB(a.prefix)] = this.weight(adapter.b);
      if (a.dropout) {
        // Inverted dropout as torch.nn.Dropout: keep with probability 1 − p, scaled by 1 / (1 − p).
        const p = adapter.dropout;
        const inDim = adapter.a.shape[1] as number;
        if (rng === undefined) throw new ModelError("train", "internal: a dropout mask without a generator.");
        const mask = new Float32Array(b * s * inDim);
        for (let i = 0; i < mask.length; i++) mask[i] = rng.nextFloat() < p ? 0 : 1 / (1 - p);
        feeds[N.dropoutMask(a.prefix)] = new Tensor("float32", mask, [b * s, inDim]);
      }
    }
    return feeds;
  }

  private static scores(out: Record<string, Tensor>, shifted: Int32Array): TokenScores {
    const grid = (name: string) => {
      const data = (out[name] as Tensor).data as Float32Array;
      for (let i = 0; i < shifted.length; i++) if (shifted[i] === IGNORE_INDEX) data[i] = 0;
      return data;
    };
    return { labels: shifted, logProbs: grid(N.logProbs), entropy: grid(N.entropy), correct: grid(N.correct), meanLogits: grid(N.meanLogits) };
  }

  /**
   * Rows per session run: the head's `[tokens, vocab]` tensors (logits, log-softmax, probabilities, their gradient) are
   * the largest of the graph, so a batch whose logits would exceed `maxLogitsBytes` runs in row chunks (rows are
   * independent in a causal LM, so chunked gradients are the sums of the whole batch's). 0 = not even one row fits.
   */
  private rowsPerRun(batch: TrainingBatch): number {
    const rowBytes = batch.seq * this.model.vocabSize * 4;
    return Math.min(batch.batch, Math.floor(this.maxLogitsBytes / rowBytes));
  }

  /** The tfjs engine, for batches whose rows alone exceed the logits budget (its head is chunked over tokens). */
  private fallback(): TfjsTrainingEngine {
    this.reference ??= new TfjsTrainingEngine(this.model);
    return this.reference;
  }

  async score(batch: TrainingBatch): Promise<TokenScores> {
    checkTrainingBatch(batch, this.model.vocabSize, this.model.maxPositions);
    const perRun = this.rowsPerRun(batch);
    if (perRun === 0) return this.fallback().score(batch);
    const shifted = shiftLabels(batch);
    // Scoring never applies dropout (no gradient flows from it; the tfjs engine's scores are taken the same way).
    const adapters = this.adapters().map((a) => ({ ...a, dropout: false }));
    const session = await this.session(false, adapters);
    const scores = emptyScores(shifted);
    for (let r0 = 0; r0 < batch.batch; r0 += perRun) {
      const part = rowSlice(batch, shifted, r0, Math.min(batch.batch, r0 + perRun));
      const out = await session.run(this.feeds(part.batch, part.shifted, adapters, undefined));
      placeScores(scores, OnnxTrainingEngine.scores(out, part.shifted), r0 * batch.seq);
    }
    return scores;
  }

  async gradients(batch: TrainingBatch, weights: TokenWeights, options: GradientOptions = {}): Promise<GradientResult> {
    checkTrainingBatch(batch, this.model.vocabSize, this.model.maxPositions);
    const perRun = this.rowsPerRun(batch);
    if (perRun === 0) return this.fallback().gradients(batch, weights, options);
    const shifted = shiftLabels(batch);
    const u = await resolveTokenWeights(weights, () => this.score(batch), shifted.length);
    const adapters = this.adapters();
    const session = await this.session(true, adapters);
    const masked = Float32Array.from(u, (w, i) => (shifted[i] === IGNORE_INDEX ? 0 : w));
    const rng = adapters.some((a) => a.dropout) ? this.maskRng(options.dropoutSeed) : undefined;
    const n = shifted.length;
    const scores = emptyScores(shifted);
    const grads: NamedTensors = new Map();
    const { hiddenSize: h, vocabSize: v, tieWordEmbeddings: tied } = this.model.config;
    // The trained tensors as the graph names them, and the names and shapes they are returned under.
    const trained: [string, string, number[]][] =
      adapters.length > 0
        ? adapters.flatMap((a) => {
            const adapter = this.model.adapters.get(a.prefix)!;
            return [
              [N.loraA(a.prefix), peftTensorName(a.prefix, "A"), [...adapter.a.shape]],
              [N.loraB(a.prefix), peftTensorName(a.prefix, "B"), [...adapter.b.shape]],
            ] as [string, string, number[]][];
          })
        : [...this.model.variables].filter(([name]) => tied || name !== "model.embed_tokens.weight").map(([name, variable]) => [name, name, [...variable.shape]]);
    for (let r0 = 0; r0 < batch.batch; r0 += perRun) {
      const r1 = Math.min(batch.batch, r0 + perRun);
      const part = rowSlice(batch, shifted, r0, r1);
      const feeds = this.feeds(part.batch, part.shifted, adapters, rng);
      feeds[N.tokenWeights] = new this.ort.Tensor("float32", masked.slice(r0 * batch.seq, r1 * batch.seq), [(r1 - r0) * batch.seq]);
      const out = await session.run(feeds);
      placeScores(scores, OnnxTrainingEngine.scores(out, part.shifted), r0 * batch.seq);
      for (const [graphName, name, shape] of trained) {
        const data = (out[N.grad(graphName)] as Tensor).data as Float32Array;
        const sum = grads.get(name);
        if (sum === undefined) grads.set(name, { shape, data });
        else for (let i = 0; i < data.length; i++) sum.data[i] = (sum.data[i] as number) + (data[i] as number);
      }
      if (adapters.length > 0) continue;
      if (!tied && !grads.has("model.embed_tokens.weight")) grads.set("model.embed_tokens.weight", { shape: [v, h], data: new Float32Array(v * h) });
      // Embedding rows: scatter-add each position's input gradient into its token's row.
      const embed = grads.get("model.embed_tokens.weight")!.data;
      const rows = (out[N.gradRows("model.embed_tokens.weight")] as Tensor).data as Float32Array;
      const ids = part.batch.inputIds;
      for (let i = 0; i < ids.length; i++) {
        const dst = (ids[i] as number) * h;
        const src = i * h;
        for (let j = 0; j < h; j++) embed[dst + j] = (embed[dst + j] as number) + (rows[src + j] as number);
      }
    }
    let objective = 0;
    for (let i = 0; i < n; i++) objective += (masked[i] as number) * (scores.logProbs[i] as number);
    return { scores, objective, grads };
  }

  /** The dropout mask generator of one call: seeded by the caller, or the engine's running stream. */
  private maskRng(dropoutSeed: number | undefined): Rng {
    if (dropoutSeed === undefined) return (this.dropoutRng ??= createRng((this.model.dropoutSeed ^ DROPOUT_STREAM) >>> 0));
    return createRng((Math.imul(this.model.dropoutSeed ^ DROPOUT_STREAM, 0x9e3779b1) ^ dropoutSeed) >>> 0);
  }

  async dispose(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) await (await s).release();
  }
}

/** Rows [r0, r1) of a batch and of its shifted labels (views, no copies). */
function rowSlice(batch: TrainingBatch, shifted: Int32Array, r0: number, r1: number): { batch: TrainingBatch; shifted: Int32Array } {
  if (r0 === 0 && r1 === batch.batch) return { batch, shifted };
  const [a, b] = [r0 * batch.seq, r1 * batch.seq];
  const part: TrainingBatch = { inputIds: batch.inputIds.subarray(a, b), labels: batch.labels.subarray(a, b), batch: r1 - r0, seq: batch.seq };
  if (batch.positionIds) part.positionIds = batch.positionIds.subarray(a, b);
  if (batch.segmentIds) part.segmentIds = batch.segmentIds.subarray(a, b);
  return { batch: part, shifted: shifted.subarray(a, b) };
}

function emptyScores(labels: Int32Array): TokenScores {
  const n = labels.length;
  return { labels, logProbs: new Float32Array(n), entropy: new Float32Array(n), correct: new Float32Array(n), meanLogits: new Float32Array(n) };
}

/** Copies a row chunk's scores into the whole batch's at grid offset `at`. */
function placeScores(into: TokenScores, part: TokenScores, at: number): void {
  into.logProbs.set(part.logProbs, at);
  into.entropy.set(part.entropy, at);
  into.correct.set(part.correct, at);
  into.meanLogits.set(part.meanLogits, at);
}
