// The training-engine contract the trainers program against: per-token log-probabilities of a causal-LM batch and the
// gradients of any loss that is a function of them. SFT, DPO (policy and reference log-probs) and LoRA all reduce to
// that: the trainer turns the scores into ∂loss/∂log p per token (a constant for SFT, the host-side derivative of the
// preference loss for DPO), and the engine returns the parameter gradients of Σ uᵢ·log pᵢ. A new engine is one
// implementation of this file's interface; the optimizer, clipping and checkpoints stay in the shared training loop.
import { chunkedTokenLogProbs, IGNORE_INDEX } from "@infialign/kernels/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import type { NamedTensors } from "../engine.js";
import { ModelError } from "../errors.js";
import type { Qwen2Model } from "../qwen2/model.js";

/** The engines `createTrainingEngine` knows. */
export type TrainingEngineName = "onnxruntime" | "tfjs";

/** A causal-LM training batch on the host, as transformers' collators produce it. */
export interface TrainingBatch {
  /** int32 `[batch, seq]`, row-major. */
  inputIds: Int32Array;
  /** `[batch, seq]`, aligned with inputIds (shifted inside); −100 = not scored. */
  labels: Int32Array;
  batch: number;
  seq: number;
  /** Per-token positions `[batch, seq]` (packed rows restart at 0 per document). @default 0 … seq−1 per row */
  positionIds?: Int32Array;
  /** Document ids `[batch, seq]` of packed rows: attention stays within a document. @default one document per row */
  segmentIds?: Int32Array;
}

/** Per-position outputs over the `[batch·seq]` grid; position t scores `labels[t + 1]`. Unscored positions hold 0. */
export interface TokenScores {
  /** The shifted labels: what position t is scored on, −100 where nothing is. */
  labels: Int32Array;
  /** log p(label | prefix). */
  logProbs: Float32Array;
  /** Entropy of the next-token distribution, nats. */
  entropy: Float32Array;
  /** 1 where argmax(logits) = label. */
  correct: Float32Array;
  /** Mean of the logits over the vocabulary (TRL's `logits/chosen` averages these). */
  meanLogits: Float32Array;
}

export interface GradientResult {
  scores: TokenScores;
  /** Σ uᵢ·log pᵢ, the value whose gradients are returned. */
  objective: number;
  /**
   * Gradients of the trained tensors: every base parameter by HF name, or, with LoRA adapters attached, the adapters
   * by PEFT name (`base_model.model.<prefix>.lora_A.weight`).
   */
  grads: NamedTensors;
}

export interface GradientOptions {
  /**
   * Seed of this call's LoRA dropout masks (with the model's dropoutSeed), so that a resumed run draws the masks of the
   * uninterrupted one: trainers pass one derived from the step and micro-batch. @default the next draws of a stream
   * that runs over the engine's lifetime (the onnxruntime engine; the tfjs engine always uses the model's own)
   */
  dropoutSeed?: number;
}

/** Token weights uᵢ = ∂loss/∂log pᵢ, fixed or computed from the batch's scores (DPO-family losses). */
export type TokenWeights = Float32Array | ((scores: TokenScores) => Float32Array | Promise<Float32Array>);

export interface TrainingEngine {
  readonly name: TrainingEngineName;
  /** Log-probs and side outputs of a batch, no gradients (evaluation, reference models, DPO's first pass). */
  score(batch: TrainingBatch): Promise<TokenScores>;
  /** Gradients of Σ uᵢ·log pᵢ with respect to the trained tensors, read from the model's current weights. */
  gradients(batch: TrainingBatch, weights: TokenWeights, options?: GradientOptions): Promise<GradientResult>;
  /** Releases native sessions; the model itself is not disposed. */
  dispose(): Promise<void>;
}

/** PEFT tensor name of an adapter matrix (what loraState and saveLora write). */
export const peftTensorName = (prefix: string, which: "A" | "B") => `base_model.model.${prefix}.lora_${which}.weight`;

/** Labels shifted left by one per row, −100 at each row end and, with segment ids, at each document's last token. */
export function shiftLabels(batch: Pick<TrainingBatch, "labels" | "segmentIds" | "batch" | "seq">): Int32Array {
  const { labels, segmentIds, batch: b, seq: s } = batch;
  const out = new Int32Array(b * s).fill(IGNORE_INDEX);
  for (let r = 0; r < b; r++) {
    for (let t = 0; t + 1 < s; t++) {
      const i = r * s + t;
      if (segmentIds !== undefined && segmentIds[i] !== segmentIds[i + 1]) continue;
      out[i] = labels[i + 1] as number;
    }
  }
  return out;
}

/** Checks a batch's arrays against its shape and the vocabulary; a ModelError names the first problem. */
export function checkTrainingBatch(batch: TrainingBatch, vocabSize: number, maxPositions: number): void {
  const { batch: b, seq: s } = batch;
  const n = b * s;
  const fail = (message: string): never => {
    throw new ModelError("train", `batch: ${message}`);
  };
  if (!(Number.isInteger(b) && b > 0 && Number.isInteger(s) && s > 0)) fail(`batch and seq must be positive integers; got ${b} and ${s}.`);
  for (const [name, array] of [
    ["inputIds", batch.inputIds],
    ["labels", batch.labels],
    ["positionIds", batch.positionIds],
    ["segmentIds", batch.segmentIds],
  ] as const) {
    if (array !== undefined && array.length !== n) fail(`${name} has ${array.length} values; expected batch × seq = ${n}.`);
  }
  for (const id of batch.inputIds) if (!(id >= 0 && id < vocabSize)) fail(`token id ${id} in inputIds is outside [0, ${vocabSize}).`);
  for (const id of batch.labels) if (id !== IGNORE_INDEX && !(id >= 0 && id < vocabSize)) fail(`label ${id} is outside [0, ${vocabSize}) and is not −100.`);
  const positions = batch.positionIds;
  if (positions === undefined ? s > maxPositions : positions.some((p) => !(p >= 0 && p < maxPositions))) fail(`positions must lie in [0, ${maxPositions}) (max_position_embeddings).`);
}

/** The weights a caller gives, resolved against the scores (for functions) and checked. */
export async function resolveTokenWeights(weights: TokenWeights, scores: () => Promise<TokenScores>, rows: number): Promise<Float32Array> {
  const out = typeof weights === "function" ? await weights(await scores()) : weights;
  if (out.length !== rows) throw new ModelError("train", `token weights have ${out.length} values; expected batch × seq = ${rows}.`);
  return out;
}

/**
 * The reference engine: the tfjs model's training forward (the fused ops of @infialign/kernels with their custom
 * gradients) under `tf.variableGrads`. Slower, runs wherever tfjs does (and on @tensorflow/tfjs-node-gpu).
 */
export class TfjsTrainingEngine implements TrainingEngine {
  readonly name = "tfjs" as const;

  constructor(private readonly model: Qwen2Model) {}

  /** The tensors trained and their names (PEFT names for adapters). */
  private trained(): Map<string, tf.Variable> {
    const m = this.model;
    if (m.adapters.size === 0) return new Map(m.variables);
    const out = new Map<string, tf.Variable>();
    for (const [prefix, adapter] of m.adapters) {
      out.set(peftTensorName(prefix, "A"), adapter.a);
      out.set(peftTensorName(prefix, "B"), adapter.b);
    }
    return out;
  }

  /** Scores of the batch as tensors over the kept positions, plus their grid positions; inside a tidy or variableGrads. */
  private forward(batch: TrainingBatch, shifted: Int32Array) {
    const { batch: b, seq: s } = batch;
    const ids = tf.tensor2d(batch.inputIds, [b, s], "int32");
    const hidden = this.model.forward(ids, {
      ...(batch.positionIds ? { positionIds: tf.tensor2d(batch.positionIds, [b, s], "int32") } : {}),
      ...(batch.segmentIds ? { segmentIds: tf.tensor2d(batch.segmentIds, [b, s], "int32") } : {}),
    });
    const flat = tf.reshape(hidden, [b * s, this.model.config.hiddenSize]) as tf.Tensor2D;
    const out = chunkedTokenLogProbs(flat, this.model.lmHead, tf.tensor1d(shifted, "int32"));
    const kept = out.keptIndices;
    const meanLogits = kept.length === 0 ? tf.zeros([0]) : tf.reshape(tf.matMul(tf.gather(flat, tf.tensor1d(kept, "int32")), tf.reshape(tf.mean(this.model.lmHead, 0), [-1, 1])), [kept.length]);
    return { ...out, meanLogits };
  }

  private toScores(shifted: Int32Array, kept: Int32Array, values: { logProbs: tf.Tensor; entropy: tf.Tensor; correct: tf.Tensor; meanLogits: tf.Tensor }): TokenScores {
    const n = shifted.length;
    const grid = (t: tf.Tensor) => {
      const data = t.dataSync();
      const out = new Float32Array(n);
      kept.forEach((idx, k) => {
        out[idx] = data[k] as number;
      });
      return out;
    };
    return { labels: shifted, logProbs: grid(values.logProbs), entropy: grid(values.entropy), correct: grid(values.correct), meanLogits: grid(values.meanLogits) };
  }

  async score(batch: TrainingBatch): Promise<TokenScores> {
    checkTrainingBatch(batch, this.model.vocabSize, this.model.maxPositions);
    const shifted = shiftLabels(batch);
    let scores: TokenScores | undefined;
    tf.tidy(() => {
      const out = this.forward(batch, shifted);
      scores = this.toScores(shifted, out.keptIndices, out);
    });
    return scores as TokenScores;
  }

  async gradients(batch: TrainingBatch, weights: TokenWeights, _options: GradientOptions = {}): Promise<GradientResult> {
    checkTrainingBatch(batch, this.model.vocabSize, this.model.maxPositions);
    const shifted = shiftLabels(batch);
    const u = await resolveTokenWeights(weights, () => this.score(batch), shifted.length);
    const trained = this.trained();
    const nameOf = new Map([...trained].map(([name, v]) => [v.name, name]));
    let scores: TokenScores | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const out = this.forward(batch, shifted);
      scores = this.toScores(shifted, out.keptIndices, out);
      const keptWeights = tf.tensor1d(Float32Array.from(out.keptIndices, (idx) => u[idx] as number));
      // A zero multiple of a trained tensor keeps the objective connected when no position is scored (gradient 0).
      const anchor = tf.mul(tf.sum(trained.values().next().value as tf.Variable), 0);
      return tf.add(tf.sum(tf.mul(keptWeights, out.logProbs)), anchor) as tf.Scalar;
    }, [...trained.values()]);
    const objective = value.dataSync()[0] as number;
    value.dispose();
    const host: NamedTensors = new Map();
    for (const [tfName, grad] of Object.entries(grads)) {
      host.set(nameOf.get(tfName) as string, { shape: [...grad.shape], data: Float32Array.from(grad.dataSync() as Float32Array) });
      grad.dispose();
    }
    return { scores: scores as TokenScores, objective, grads: host };
  }

  async dispose(): Promise<void> {}
}
