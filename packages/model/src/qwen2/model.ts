// Qwen2ForCausalLM (transformers models/qwen2/modeling_qwen2.py) in TensorFlow.js: one tf.Variable per Hugging Face
// tensor, a differentiable training forward built from the fused ops of @infialign/kernels, and a KV-cache decode step
// implementing DecodeModel.
import { applyRope, attentionBias, type ChunkedCrossEntropyOptions, causalAttention, chunkedCrossEntropy, chunkedTokenLogProbs, embeddingLookup, IGNORE_INDEX, type RopeTables, rmsNorm, ropeTables, swiglu, type TokenLogProbs } from "@infialign/kernels/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import type { Qwen2Config } from "../config.js";
import type { CacheRows, DecodeModel, HostTensor, KvCache, NamedTensors, StepInput, StepOutput } from "../engine.js";
import { ModelError } from "../errors.js";
import { shiftLabels } from "../train/engine.js";

/** Options of {@link Qwen2Model.init}. */
export interface Qwen2InitOptions {
  /** Seed of the normal(0, initializer_range) weight init; equal seeds give equal weights on every backend. @default 0 */
  seed?: number;
}

/** Options of the training forward ({@link Qwen2Model.forward}). */
export interface Qwen2ForwardOptions {
  /**
   * Position id of every token, int32 `[batch, seq]` (or `[1, seq]` shared by all rows). For packed sequences pass
   * positions restarting at 0 at each document, as transformers' `DataCollatorWithFlattening` does.
   * @default 0 … seq−1 in every row
   */
  positionIds?: tf.Tensor2D;
  /**
   * Document id of every token, int32 `[batch, seq]`, for packed sequences: a token attends only to earlier tokens of
   * its own document. Any integers; equal within a document.
   * @default one document per row
   */
  segmentIds?: tf.Tensor2D;
}

/** A causal-LM training batch (transformers' `input_ids` / `labels` / `position_ids`). */
export interface CausalLmBatch extends Qwen2ForwardOptions {
  /** int32 `[batch, seq]`. */
  inputIds: tf.Tensor2D;
  /**
   * int32 `[batch, seq]`, aligned with `inputIds` as in transformers (usually a copy of `inputIds` with prompt and
   * padding positions set to -100): the shift happens inside, so position t is trained to predict `labels[t + 1]`.
   * With `segmentIds`, the first token of each document is never predicted from the previous document.
   */
  labels: tf.Tensor2D;
}

/** Result of {@link Qwen2Model.loss}. */
export interface CausalLmLoss {
  /** Mean next-token negative log-likelihood over the scored positions (0 when none), nats. */
  loss: tf.Scalar;
  /** Positions scored (shifted labels ≠ -100): the denominator of the mean, to weight gradient accumulation. */
  numTokens: number;
}

/** One LoRA adapter on a projection; created and managed by `attachLora` (lora.ts). */
export interface LoraAdapter {
  /** `[r, in]`. */
  readonly a: tf.Variable;
  /** `[out, r]`. */
  readonly b: tf.Variable;
  /** alpha / r. */
  readonly scale: number;
  readonly dropout: number;
  /** B·A currently added into the base weight (then the forward skips the adapter path). */
  merged: boolean;
}

/** Projections and whether they carry a bias, per layer, in Hugging Face naming. */
const ATTENTION_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj"] as const;
const MLP_PROJECTIONS = ["gate_proj", "up_proj", "down_proj"] as const;
/** PEFT `target_modules` names of the projections LoRA can wrap. */
export const LORA_TARGET_MODULES = [...ATTENTION_PROJECTIONS, ...MLP_PROJECTIONS] as const;
export type LoraTargetModule = (typeof LORA_TARGET_MODULES)[number];

/** Rows of rotary tables built before the first use; they double on demand up to max_position_embeddings. */
const INITIAL_ROPE_POSITIONS = 2048;
/** Added to masked attention logits: exp(-1e9 − max) is exactly 0 in float32. */
const MASKED = -1e9;

/** Module prefix of projection `name` in layer `layer` (`model.layers.0.self_attn.q_proj`). */
export function projectionPrefix(layer: number, name: LoraTargetModule): string {
  return `model.layers.${layer}.${(ATTENTION_PROJECTIONS as readonly string[]).includes(name) ? "self_attn" : "mlp"}.${name}`;
}

/**
 * Every parameter of a Qwen2ForCausalLM with this config, by Hugging Face name, in Hugging Face shape (`[out, in]` for
 * projections), in the order transformers registers them. Tied embeddings have no `lm_head.weight` (as HF saves them).
 */
export function qwen2ParameterShapes(config: Qwen2Config): Map<string, number[]> {
  const { vocabSize: v, hiddenSize: h, intermediateSize: inter, numAttentionHeads: hq, numKeyValueHeads: hkv, headDim: d } = config;
  const shapes = new Map<string, number[]>([["model.embed_tokens.weight", [v, h]]]);
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    shapes.set(`${p}.self_attn.q_proj.weight`, [hq * d, h]);
    shapes.set(`${p}.self_attn.q_proj.bias`, [hq * d]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [hkv * d, h]);
    shapes.set(`${p}.self_attn.k_proj.bias`, [hkv * d]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [hkv * d, h]);
    shapes.set(`${p}.self_attn.v_proj.bias`, [hkv * d]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [h, hq * d]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [inter, h]);
    shapes.set(`${p}.mlp.up_proj.weight`, [inter, h]);
    shapes.set(`${p}.mlp.down_proj.weight`, [h, inter]);
    shapes.set(`${p}.input_layernorm.weight`, [h]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [h]);
  }
  shapes.set("model.norm.weight", [h]);
  if (!config.tieWordEmbeddings) shapes.set("lm_head.weight", [v, h]);
  return shapes;
}

/** Keys and values of every layer, `[batch, hkv, length, headDim]` each. */
class Qwen2KvCache implements KvCache {
  constructor(
    readonly keys: tf.Tensor4D[],
    readonly values: tf.Tensor4D[],
    readonly length: number,
    readonly batch: number,
  ) {}

  dispose(): void {
    tf.dispose([...this.keys, ...this.values]);
  }
}

const fail = (message: string): never => {
  throw new ModelError("qwen2", message);
};

/**
 * A Qwen2 causal LM (Hugging Face `Qwen2ForCausalLM`): token embedding; per layer input RMSNorm → GQA self-attention
 * (q/k/v projections with bias, o_proj without, RoPE in rotate_half layout with `rope_theta`, causal) → residual →
 * post-attention RMSNorm → SwiGLU MLP (no biases) → residual; final RMSNorm; LM head tied to the embedding or not per
 * `tie_word_embeddings`. Parameters are float32 `tf.Variable`s keyed by Hugging Face name. Computation runs on the active
 * tfjs backend; training needs tfjs' kernel gradients registered (the fused ops' own are custom).
 */
export class Qwen2Model implements DecodeModel {
  readonly config: Qwen2Config;
  readonly vocabSize: number;
  readonly maxPositions: number;
  /** Base parameters by Hugging Face name. */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  /** LoRA adapters by module prefix (`model.layers.0.self_attn.q_proj`); see lora.ts. */
  readonly adapters = new Map<string, LoraAdapter>();
  /** Training mode (torch's `model.train()`): enables LoRA dropout. @default false */
  training = false;
  private rope: RopeTables | undefined;
  private dropoutCalls = 0;
  /** Seed of LoRA dropout masks; set by attachLora. */
  dropoutSeed = 0;

  private constructor(config: Qwen2Config, variables: Map<string, tf.Variable>) {
    this.config = config;
    this.vocabSize = config.vocabSize;
    this.maxPositions = config.maxPositionEmbeddings;
    this.variables = variables;
  }

  /**
   * Fresh weights as transformers' `Qwen2PreTrainedModel._init_weights`: linear and embedding weights normal(0,
   * initializer_range), biases 0, RMSNorm weights 1. Seeded and deterministic.
   */
  static init(config: Qwen2Config, options: Qwen2InitOptions = {}): Qwen2Model {
    const seed = options.seed ?? 0;
    const variables = new Map<string, tf.Variable>();
    let k = 0;
    for (const [name, shape] of qwen2ParameterShapes(config)) {
      k++;
      const init = name.endsWith("norm.weight")
        ? tf.ones(shape)
        : name.endsWith(".bias")
          ? tf.zeros(shape)
          : // tfjs draws normal samples in JS from the seed, so the weights are the same on every backend.
            tf.randomNormal(shape, 0, config.initializerRange, "float32", seed * 1009 + k);
      variables.set(name, tf.variable(init, true));
      init.dispose();
    }
    return new Qwen2Model(config, variables);
  }

  /**
   * A model holding copies of `weights` (Hugging Face names and shapes, as `loadWeights` returns them). Every expected
   * tensor must be present with its shape; names that are not parameters of this config are an error too (a wrong
   * config would otherwise load silently). With tied embeddings a `lm_head.weight` is accepted and ignored (some
   * checkpoints save the tied copy).
   */
  static fromWeights(config: Qwen2Config, weights: NamedTensors): Qwen2Model {
    const shapes = qwen2ParameterShapes(config);
    const missing = [...shapes.keys()].filter((n) => !weights.has(n));
    const unexpected = [...weights.keys()].filter((n) => !shapes.has(n) && !(n === "lm_head.weight" && config.tieWordEmbeddings));
    const wrong: string[] = [];
    for (const [name, shape] of shapes) {
      const t = weights.get(name);
      if (t === undefined) continue;
      const size = shape.reduce((a, b) => a * b, 1);
      if (t.shape.join() !== shape.join() || t.data.length !== size) wrong.push(`${name} is [${t.shape}] (${t.data.length} values), expected [${shape}]`);
    }
    if (missing.length > 0 || unexpected.length > 0 || wrong.length > 0) {
      const parts = [
        missing.length > 0 ? `missing ${missing.length}: ${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ", …" : ""}` : "",
        unexpected.length > 0 ? `unexpected ${unexpected.length}: ${unexpected.slice(0, 8).join(", ")}${unexpected.length > 8 ? ", …" : ""}` : "",
        wrong.length > 0 ? `wrong shape: ${wrong.slice(0, 8).join("; ")}` : "",
      ].filter(Boolean);
      fail(`fromWeights: the weights do not match the config (${config.numHiddenLayers} layers, hidden ${config.hiddenSize}, tie_word_embeddings ${config.tieWordEmbeddings}): ${parts.join("; ")}. Check that config.json belongs to these weights.`);
    }
    const variables = new Map<string, tf.Variable>();
    for (const [name, shape] of shapes) {
      const t = tf.tensor((weights.get(name) as HostTensor).data, shape, "float32");
      variables.set(name, tf.variable(t, true));
      t.dispose();
    }
    return new Qwen2Model(config, variables);
  }

  /**
   * Host copies of the base parameters, Hugging Face names and shapes (no `lm_head.weight` when tied, as HF saves).
   * Merged LoRA deltas are part of the weights; unmerged adapters are not (see `loraState`).
   */
  toWeights(): NamedTensors {
    const out: NamedTensors = new Map();
    for (const [name, v] of this.variables) out.set(name, { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) });
    return out;
  }

  /** What an optimizer should update: the LoRA A/B matrices when adapters are attached, else every base parameter. */
  get trainableVariables(): tf.Variable[] {
    if (this.adapters.size > 0) return [...this.adapters.values()].flatMap((a) => [a.a, a.b]);
    return [...this.variables.values()];
  }

  /** Output embedding `[vocab, hidden]`: `lm_head.weight`, or the input embedding when tied. */
  get lmHead(): tf.Variable {
    return this.param(this.config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight");
  }

  /** Frees every variable, adapter and table. The model is unusable afterwards. */
  dispose(): void {
    tf.dispose([...this.variables.values(), ...[...this.adapters.values()].flatMap((a) => [a.a, a.b])]);
    this.adapters.clear();
    if (this.rope !== undefined) tf.dispose(this.rope);
    this.rope = undefined;
  }

  /** Base parameter by Hugging Face name; a ModelError naming it when the model has none. */
  param(name: string): tf.Variable {
    return (this.variables.get(name) as tf.Variable | undefined) ?? fail(`no parameter "${name}" in this model`);
  }

  /**
   * Final hidden states `[batch, seq, hidden]` (after the final norm), differentiable with respect to the variables.
   * Built from the fused ops of @infialign/kernels (custom gradients), with every projection a 2-D product
   * `[batch·seq, in] · Wᵀ`.
   */
  forward(ids: tf.Tensor2D, options: Qwen2ForwardOptions = {}): tf.Tensor3D {
    if (ids.rank !== 2 || ids.dtype !== "int32") fail(`forward: ids must be an int32 [batch, seq] tensor; got ${ids.dtype} [${ids.shape}].`);
    const [b, s] = ids.shape;
    const { positionIds, segmentIds } = options;
    if (positionIds !== undefined && (positionIds.rank !== 2 || positionIds.dtype !== "int32" || positionIds.shape[1] !== s || (positionIds.shape[0] !== b && positionIds.shape[0] !== 1))) {
      fail(`forward: option positionIds must be int32 [${b}, ${s}] or [1, ${s}]; got ${positionIds.dtype} [${positionIds.shape}].`);
    }
    if (segmentIds !== undefined && segmentIds.shape.join() !== [b, s].join()) fail(`forward: option segmentIds must be [${b}, ${s}]; got [${segmentIds.shape}].`);
    // The tables must cover the largest position; reading the (small, int) position ids is cheap next to the forward.
    const maxPosition = positionIds === undefined ? s - 1 : Math.max(0, ...(positionIds.dataSync() as Int32Array));
    const rope = this.ropeFor(maxPosition);
    return tf.tidy(() => {
      const pos = positionIds ?? tf.reshape(tf.range(0, s, 1, "int32"), [1, s]);
      const { hiddenSize: h, numAttentionHeads: hq, numKeyValueHeads: hkv, headDim: d, rmsNormEps: eps } = this.config;
      const n = b * s;
      let x = tf.reshape(embeddingLookup(this.param("model.embed_tokens.weight"), ids), [n, h]) as tf.Tensor2D;
      const heads = (t: tf.Tensor, count: number) => tf.transpose(tf.reshape(t, [b, s, count, d]), [0, 2, 1, 3]);
      // One causal/packing mask for all layers (building it per layer was ~10% of a small model's step).
      const bias = attentionBias(b, s, segmentIds);
      for (let l = 0; l < this.config.numHiddenLayers; l++) {
        const p = `model.layers.${l}`;
        const hn = rmsNorm(x, this.param(`${p}.input_layernorm.weight`), eps) as tf.Tensor2D;
        const qh = applyRope(heads(this.linear(hn, l, "q_proj"), hq), rope, pos);
        const kh = applyRope(heads(this.linear(hn, l, "k_proj"), hkv), rope, pos);
        const vh = heads(this.linear(hn, l, "v_proj"), hkv);
        const attn = causalAttention(qh, kh, vh, { bias });
        const merged = tf.reshape(tf.transpose(attn, [0, 2, 1, 3]), [n, hq * d]) as tf.Tensor2D;
        x = tf.add(x, this.linear(merged, l, "o_proj"));
        const hn2 = rmsNorm(x, this.param(`${p}.post_attention_layernorm.weight`), eps) as tf.Tensor2D;
        const act = swiglu(this.linear(hn2, l, "gate_proj"), this.linear(hn2, l, "up_proj")) as tf.Tensor2D;
        x = tf.add(x, this.linear(act, l, "down_proj"));
      }
      return tf.reshape(rmsNorm(x, this.param("model.norm.weight"), eps), [b, s, h]) as tf.Tensor3D;
    });
  }

  /** Full logits `[batch, seq, vocab]` of the training forward (tests and small vocabularies; the loss never builds them). */
  logits(ids: tf.Tensor2D, options: Qwen2ForwardOptions = {}): tf.Tensor3D {
    const hidden = this.forward(ids, options);
    return tf.tidy(() => {
      const [b, s, h] = hidden.shape;
      const out = tf.reshape(tf.matMul(tf.reshape(hidden, [b * s, h]), this.lmHead, false, true), [b, s, this.vocabSize]) as tf.Tensor3D;
      hidden.dispose();
      return out;
    });
  }

  /**
   * Mean next-token cross-entropy of a batch (transformers' `ForCausalLMLoss`): labels shifted inside, -100 ignored,
   * through the chunked LM-head + cross-entropy of @infialign/kernels (never materialises `[batch·seq, vocab]`).
   */
  loss(batch: CausalLmBatch, options: ChunkedCrossEntropyOptions = {}): CausalLmLoss {
    const shifted = this.shiftedLabels(batch);
    const numTokens = shifted.reduce((c, l) => c + (l === IGNORE_INDEX ? 0 : 1), 0);
    const loss = tf.tidy(() => {
      const hidden = this.forward(batch.inputIds, batch);
      const [b, s, h] = hidden.shape;
      return chunkedCrossEntropy(tf.reshape(hidden, [b * s, h]), this.lmHead, tf.tensor1d(shifted, "int32"), options);
    });
    return { loss, numTokens };
  }

  /**
   * log p of every scored next token (for DPO / GRPO): `keptIndices[i] = row · seq + t` means `logProbs[i]` is
   * log p(labels[row, t + 1] | ids[row, ≤ t]). Labels as {@link loss}; entropy and accuracy come along.
   */
  tokenLogProbs(batch: CausalLmBatch, options: ChunkedCrossEntropyOptions = {}): TokenLogProbs {
    const shifted = this.shiftedLabels(batch);
    const hidden = this.forward(batch.inputIds, batch);
    const [b, s, h] = hidden.shape;
    const flat = tf.reshape(hidden, [b * s, h]);
    const labels = tf.tensor1d(shifted, "int32");
    const out = chunkedTokenLogProbs(flat, this.lmHead, labels, options);
    labels.dispose();
    // Not disposed when recording gradients: the tape still needs them (tf.grads / minimize free them with their scope).
    return out;
  }

  /** Labels shifted left by one per row (-100 at each row end and, with segmentIds, at each document's last token). */
  private shiftedLabels(batch: CausalLmBatch): Int32Array {
    const { inputIds, labels, segmentIds } = batch;
    if (labels.shape.join() !== inputIds.shape.join()) fail(`loss: labels [${labels.shape}] must have the shape of inputIds [${inputIds.shape}] (the shift happens inside).`);
    const [b, s] = labels.shape;
    const seg = segmentIds?.dataSync() as Int32Array | undefined;
    return shiftLabels({ labels: labels.dataSync() as Int32Array, batch: b, seq: s, ...(seg ? { segmentIds: seg } : {}) });
  }

  /** x·Wᵀ + bias of projection `name` in layer `layer`, plus its LoRA path (scale · dropout(x)·Aᵀ·Bᵀ) when unmerged. */
  private linear(x: tf.Tensor2D, layer: number, name: LoraTargetModule): tf.Tensor2D {
    const prefix = projectionPrefix(layer, name);
    let y = tf.matMul(x, this.param(`${prefix}.weight`), false, true);
    const bias = this.variables.get(`${prefix}.bias`);
    if (bias !== undefined) y = tf.add(y, bias);
    const adapter = this.adapters.get(prefix);
    if (adapter !== undefined && !adapter.merged) {
      // LoRA, Hu et al. 2021, Eq. 3: h = W₀x + (α/r)·B·A·x, with dropout on the adapter's input as PEFT applies it.
      const xin = this.training && adapter.dropout > 0 ? tf.dropout(x, adapter.dropout, undefined, this.dropoutSeed * 100_003 + this.dropoutCalls++) : x;
      y = tf.add(y, tf.mul(tf.matMul(tf.matMul(xin, adapter.a, false, true), adapter.b, false, true), adapter.scale));
    }
    return y as tf.Tensor2D;
  }

  /** Rotary tables covering position `maxPosition`, grown by doubling (capped at max_position_embeddings). */
  private ropeFor(maxPosition: number): RopeTables {
    const limit = this.config.maxPositionEmbeddings;
    if (!(maxPosition < limit)) fail(`position id ${maxPosition} is outside [0, ${limit}) (max_position_embeddings); shorten the sequence.`);
    if (this.rope === undefined || this.rope.maxPositions <= maxPosition) {
      let size = Math.max(this.rope?.maxPositions ?? 0, Math.min(INITIAL_ROPE_POSITIONS, limit));
      while (size <= maxPosition) size = Math.min(limit, size * 2);
      if (this.rope !== undefined) tf.dispose(this.rope);
      const tables = ropeTables(this.config.headDim, size, this.config.ropeTheta);
      // Long-lived: kept out of whatever tidy scope the caller is in.
      for (const t of [tables.cos, tables.sin, tables.rotateHalf]) tf.keep(t);
      this.rope = tables;
    }
    return this.rope;
  }

  /**
   * One forward over new tokens on top of the KV cache (DecodeModel). Inference only: no gradients, plain masked
   * attention over cache + new keys (keyMask for left padding, causal within the new tokens).
   */
  async step(input: StepInput): Promise<StepOutput> {
    const { ids, batch, newTokens, positionIds, keyMask, cache } = input;
    const past = cache === undefined ? 0 : cache.length;
    if (!(Number.isInteger(batch) && batch > 0 && Number.isInteger(newTokens) && newTokens > 0)) fail(`step: batch and newTokens must be positive integers; got ${batch}, ${newTokens}.`);
    if (ids.length !== batch * newTokens) fail(`step: ids has ${ids.length} entries, expected batch·newTokens = ${batch * newTokens}.`);
    if (positionIds.length !== batch * newTokens) fail(`step: positionIds has ${positionIds.length} entries, expected batch·newTokens = ${batch * newTokens}.`);
    const total = past + newTokens;
    if (keyMask.length !== batch * total) fail(`step: keyMask has ${keyMask.length} entries, expected batch·(cache length + newTokens) = ${batch}·${total}.`);
    if (cache !== undefined && !(cache instanceof Qwen2KvCache)) fail("step: the cache was not made by a Qwen2Model (each engine needs its own cache).");
    if (cache !== undefined && cache.batch !== batch) fail(`step: the cache holds ${cache.batch} rows but the input has batch ${batch}; use selectRows to reorder or repeat rows.`);
    if (total > this.maxPositions) fail(`step: ${total} key positions exceed max_position_embeddings ${this.maxPositions}.`);
    for (const id of ids) if (!(id >= 0 && id < this.vocabSize)) fail(`step: token id ${id} is outside [0, ${this.vocabSize}).`);
    let maxPosition = 0;
    for (const p of positionIds) {
      if (p < 0) fail(`step: position id ${p} is negative.`);
      maxPosition = Math.max(maxPosition, p);
    }
    const rope = this.ropeFor(maxPosition);
    // Additive mask [batch, 1, newTokens, total]: key j is visible to new token i when it is real and not in the future.
    const bias = new Float32Array(batch * newTokens * total);
    for (let r = 0; r < batch; r++) {
      for (let i = 0; i < newTokens; i++) {
        const row = (r * newTokens + i) * total;
        for (let j = 0; j < total; j++) bias[row + j] = keyMask[r * total + j] !== 0 && j <= past + i ? 0 : MASKED;
      }
    }
    // Inference: no LoRA dropout even when the model is in training mode (the tidy below is synchronous).
    const wasTraining = this.training;
    this.training = false;
    let result: { logits: tf.Tensor; keys: tf.Tensor4D[]; values: tf.Tensor4D[] };
    try {
      result = tf.tidy(() => this.decodeTensors(input, rope, bias, total));
    } finally {
      this.training = wasTraining;
    }
    const { logits, keys, values } = result;
    const data = (await logits.data()) as Float32Array;
    logits.dispose();
    return { logits: data, cache: new Qwen2KvCache(keys, values, total, batch) };
  }

  /** The tensors of {@link step}: logits and the extended per-layer keys/values (called inside a tidy). */
  private decodeTensors(input: StepInput, rope: RopeTables, bias: Float32Array, total: number): { logits: tf.Tensor; keys: tf.Tensor4D[]; values: tf.Tensor4D[] } {
    const { ids, batch, newTokens, positionIds } = input;
    const pastCache = input.cache as Qwen2KvCache | undefined;
    const { hiddenSize: h, numAttentionHeads: hq, numKeyValueHeads: hkv, headDim: d, rmsNormEps: eps } = this.config;
    const group = hq / hkv;
    const t = newTokens;
    const n = batch * t;
    const pos = tf.tensor2d(positionIds, [batch, t], "int32");
    const mask = tf.tensor4d(bias, [batch, 1, t, total]);
    const heads = (x: tf.Tensor, count: number) => tf.transpose(tf.reshape(x, [batch, t, count, d]), [0, 2, 1, 3]);
    let x = tf.gather(this.param("model.embed_tokens.weight"), tf.tensor1d(ids, "int32")) as tf.Tensor2D;
    const keys: tf.Tensor4D[] = [];
    const values: tf.Tensor4D[] = [];
    for (let l = 0; l < this.config.numHiddenLayers; l++) {
      const p = `model.layers.${l}`;
      const hn = rmsNorm(x, this.param(`${p}.input_layernorm.weight`), eps) as tf.Tensor2D;
      const q = applyRope(heads(this.linear(hn, l, "q_proj"), hq), rope, pos);
      let k = applyRope(heads(this.linear(hn, l, "k_proj"), hkv), rope, pos) as tf.Tensor4D;
      let v = heads(this.linear(hn, l, "v_proj"), hkv) as tf.Tensor4D;
      if (pastCache !== undefined) {
        k = tf.concat([pastCache.keys[l] as tf.Tensor4D, k], 2);
        v = tf.concat([pastCache.values[l] as tf.Tensor4D, v], 2);
      }
      keys.push(k);
      values.push(v);
      // GQA without copying kv heads: query head h = kvHead·group + g reads kv head kvHead (transformers' repeat_kv).
      const scores = tf.mul(tf.matMul(tf.reshape(q, [batch * hkv, group * t, d]), tf.reshape(k, [batch * hkv, total, d]), false, true), 1 / Math.sqrt(d));
      const probs = tf.softmax(tf.add(tf.reshape(scores, [batch, hq, t, total]), mask), -1);
      const attn = tf.matMul(tf.reshape(probs, [batch * hkv, group * t, total]), tf.reshape(v, [batch * hkv, total, d]));
      const merged = tf.reshape(tf.transpose(tf.reshape(attn, [batch, hq, t, d]), [0, 2, 1, 3]), [n, hq * d]) as tf.Tensor2D;
      x = tf.add(x, this.linear(merged, l, "o_proj"));
      const hn2 = rmsNorm(x, this.param(`${p}.post_attention_layernorm.weight`), eps) as tf.Tensor2D;
      x = tf.add(x, this.linear(swiglu(this.linear(hn2, l, "gate_proj"), this.linear(hn2, l, "up_proj")) as tf.Tensor2D, l, "down_proj"));
    }
    const last = input.allLogits ? x : (tf.reshape(tf.slice(tf.reshape(x, [batch, t, h]), [0, t - 1, 0], [batch, 1, h]), [batch, h]) as tf.Tensor2D);
    const logits = tf.matMul(rmsNorm(last, this.param("model.norm.weight"), eps), this.lmHead, false, true);
    return { logits, keys, values };
  }

  /** A cache with only `rows` of `cache`, in that order (rows may repeat). Does not dispose `cache`. */
  selectRows(cache: KvCache, rows: readonly number[]): KvCache {
    if (!(cache instanceof Qwen2KvCache)) return fail("selectRows: the cache was not made by a Qwen2Model.");
    if (rows.length === 0) fail("selectRows: rows is empty; a cache needs at least one row.");
    for (const r of rows) if (!(Number.isInteger(r) && r >= 0 && r < cache.batch)) fail(`selectRows: row ${r} is outside [0, ${cache.batch}).`);
    const picked = tf.tidy(() => {
      const index = tf.tensor1d(Int32Array.from(rows), "int32");
      return { keys: cache.keys.map((k) => tf.gather(k, index, 0) as tf.Tensor4D), values: cache.values.map((v) => tf.gather(v, index, 0) as tf.Tensor4D) };
    });
    return new Qwen2KvCache(picked.keys, picked.values, cache.length, rows.length);
  }

  /** One cache of `length` positions holding the rows of every part, right-aligned (see DecodeModel.mergeCaches). */
  mergeCaches(parts: readonly CacheRows[], length: number): KvCache {
    if (!(Number.isInteger(length) && length > 0 && length <= this.maxPositions)) fail(`mergeCaches: length must be an integer in [1, ${this.maxPositions}]; got ${length}.`);
    for (const { cache, rows } of parts) {
      if (!(cache instanceof Qwen2KvCache)) fail("mergeCaches: a cache was not made by a Qwen2Model.");
      for (const r of rows) if (!(Number.isInteger(r) && r >= 0 && r < cache.batch)) fail(`mergeCaches: row ${r} is outside [0, ${cache.batch}).`);
    }
    const used = parts.filter((p) => p.rows.length > 0) as { cache: Qwen2KvCache; rows: readonly number[] }[];
    if (used.length === 0) fail("mergeCaches: no rows; a cache needs at least one row.");
    const fit = (t: tf.Tensor4D, cacheLength: number, rows: readonly number[]) => {
      const kept = Math.min(cacheLength, length);
      const picked = tf.slice(tf.gather(t, tf.tensor1d(Int32Array.from(rows), "int32"), 0), [0, 0, cacheLength - kept, 0], [-1, -1, kept, -1]);
      return kept === length ? picked : tf.pad(picked, [[0, 0], [0, 0], [length - kept, 0], [0, 0]]);
    };
    const layer = (which: "keys" | "values", l: number) => tf.concat(used.map((p) => fit(p.cache[which][l] as tf.Tensor4D, p.cache.length, p.rows)), 0) as tf.Tensor4D;
    const merged = tf.tidy(() => ({
      keys: Array.from({ length: this.config.numHiddenLayers }, (_, l) => layer("keys", l)),
      values: Array.from({ length: this.config.numHiddenLayers }, (_, l) => layer("values", l)),
    }));
    return new Qwen2KvCache(merged.keys, merged.values, length, used.reduce((sum, p) => sum + p.rows.length, 0));
  }
}
