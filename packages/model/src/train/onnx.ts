// The onnxruntime training engine: the forward + backward graph of onnx/trainGraph.ts in an onnxruntime-node session
// (MLAS kernels, explicit intra-op threads, spinning off), fed the model's current weights on every call. The weights
// stay in the tfjs variables the optimizer updates, so checkpoints, LoRA merging and generation are unchanged.
import { availableParallelism } from "node:os";
import { createRng, type Rng } from "@infialign/kernels";
import { IGNORE_INDEX } from "@infialign/kernels/tfjs";
import type { InferenceSession, Tensor } from "onnxruntime-node";
import type { NamedTensors } from "../engine.js";
import { ModelError } from "../errors.js";
import { buildQwen2TrainOnnx, TRAIN_GRAPH_NAMES as N, type TrainGraphAdapter } from "../onnx/trainGraph.js";
import type { Qwen2Model } from "../qwen2/model.js";
import { checkTrainingBatch, type GradientOptions, type GradientResult, peftTensorName, resolveTokenWeights, shiftLabels, type TokenScores, type TokenWeights, type TrainingBatch, type TrainingEngine } from "./engine.js";

type Ort = typeof import("onnxruntime-node");

export interface OnnxTrainingEngineOptions {
  /** Threads of onnxruntime's intra-op pool. @default os.availableParallelism() */
  threads?: number;
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

  private constructor(
    private readonly model: Qwen2Model,
    private readonly ort: Ort,
    readonly threads: number,
  ) {}

  /** @throws ModelError when onnxruntime-node is not installed or the options are invalid. */
  static async create(model: Qwen2Model, options: OnnxTrainingEngineOptions = {}): Promise<OnnxTrainingEngine> {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new ModelError("train", `option "threads" must be a positive integer; got ${threads}.`);
    return new OnnxTrainingEngine(model, await loadOnnxRuntime(), threads);
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

  private feeds(batch: TrainingBatch, shifted: Int32Array, adapters: TrainGraphAdapter[], dropoutSeed?: number): Record<string, Tensor> {
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
      feeds[name] = new Tensor("float32", v.dataSync() as Float32Array, [...v.shape]);
    }
    let callRng: Rng | undefined;
    for (const a of adapters) {
      const adapter = this.model.adapters.get(a.prefix)!;
      feeds[N.loraA(a.prefix)] = new Tensor("float32", adapter.a.dataSync() as Float32Array, [...adapter.a.shape]);
      feeds[N.loraB(a.prefix)] = new Tensor("float32", adapter.b.dataSync() as Float32Array, [...adapter.b.shape]);
      if (a.dropout) {
        // Inverted dropout as torch.nn.Dropout: keep with probability 1 − p, scaled by 1 / (1 − p).
        const p = adapter.dropout;
        const inDim = adapter.a.shape[1] as number;
        let rng: Rng;
        if (dropoutSeed === undefined) rng = this.dropoutRng ??= createRng((this.model.dropoutSeed ^ DROPOUT_STREAM) >>> 0);
        else rng = callRng ??= createRng((Math.imul(this.model.dropoutSeed ^ DROPOUT_STREAM, 0x9e3779b1) ^ dropoutSeed) >>> 0);
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

  async score(batch: TrainingBatch): Promise<TokenScores> {
    checkTrainingBatch(batch, this.model.vocabSize, this.model.maxPositions);
    const shifted = shiftLabels(batch);
    // Scoring never applies dropout (no gradient flows from it; the tfjs engine's scores are taken the same way).
    const adapters = this.adapters().map((a) => ({ ...a, dropout: false }));
    const session = await this.session(false, adapters);
    const out = await session.run(this.feeds(batch, shifted, adapters));
    return OnnxTrainingEngine.scores(out, shifted);
  }

  async gradients(batch: TrainingBatch, weights: TokenWeights, options: GradientOptions = {}): Promise<GradientResult> {
    checkTrainingBatch(batch, this.model.vocabSize, this.model.maxPositions);
    const shifted = shiftLabels(batch);
    const u = await resolveTokenWeights(weights, () => this.score(batch), shifted.length);
    const adapters = this.adapters();
    const session = await this.session(true, adapters);
    const feeds = this.feeds(batch, shifted, adapters, options.dropoutSeed);
    const masked = Float32Array.from(u, (w, i) => (shifted[i] === IGNORE_INDEX ? 0 : w));
    feeds[N.tokenWeights] = new this.ort.Tensor("float32", masked, [masked.length]);
    const out = await session.run(feeds);
    const scores = OnnxTrainingEngine.scores(out, shifted);
    let objective = 0;
    for (let i = 0; i < masked.length; i++) objective += (masked[i] as number) * (scores.logProbs[i] as number);

    const grads: NamedTensors = new Map();
    const take = (graphName: string, name: string, shape: number[]) => grads.set(name, { shape, data: (out[N.grad(graphName)] as Tensor).data as Float32Array });
    if (adapters.length > 0) {
      for (const a of adapters) {
        const adapter = this.model.adapters.get(a.prefix)!;
        take(N.loraA(a.prefix), peftTensorName(a.prefix, "A"), [...adapter.a.shape]);
        take(N.loraB(a.prefix), peftTensorName(a.prefix, "B"), [...adapter.b.shape]);
      }
      return { scores, objective, grads };
    }
    const { hiddenSize: h, vocabSize: v, tieWordEmbeddings: tied } = this.model.config;
    for (const [name, variable] of this.model.variables) {
      if (name === "model.embed_tokens.weight" && !tied) continue;
      take(name, name, [...variable.shape]);
    }
    // Embedding rows: scatter-add each position's input gradient into its token's row (the tied head's gradient, or zeros).
    const embed = tied ? (grads.get("model.embed_tokens.weight")?.data as Float32Array) : new Float32Array(v * h);
    const rows = (out[N.gradRows("model.embed_tokens.weight")] as Tensor).data as Float32Array;
    for (let i = 0; i < batch.inputIds.length; i++) {
      const dst = (batch.inputIds[i] as number) * h;
      const src = i * h;
      for (let j = 0; j < h; j++) embed[dst + j] = (embed[dst + j] as number) + (rows[src + j] as number);
    }
    if (!tied) grads.set("model.embed_tokens.weight", { shape: [v, h], data: embed });
    return { scores, objective, grads };
  }

  async dispose(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) await (await s).release();
  }
}
