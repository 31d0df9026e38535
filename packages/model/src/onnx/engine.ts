// The onnxruntime inference engine: the Qwen2 graph from graph.ts in an in-process onnxruntime-node session, behind the
// same DecodeModel contract as the tfjs model, so generation and scoring switch engines without other changes.
// onnxruntime-node is an optional peer, loaded on first use.
import { availableParallelism } from "node:os";
import type { InferenceSession, Tensor } from "onnxruntime-node";
import type { Qwen2Config } from "../config.js";
import type { CacheRows, DecodeModel, KvCache, NamedTensors, StepInput, StepOutput } from "../engine.js";
import { ModelError } from "../errors.js";
import { buildQwen2Onnx, QWEN2_ONNX_NAMES as N } from "./graph.js";

type Ort = typeof import("onnxruntime-node");

export interface OnnxQwen2ModelOptions {
  /** Threads of onnxruntime's intra-op pool (one operator's work split across cores). @default os.availableParallelism() */
  threads?: number;
}

async function loadOrt(): Promise<Ort> {
  try {
    const mod = (await import("onnxruntime-node")) as Ort & { default?: Ort };
    // A CommonJS package: depending on the loader its exports arrive as named exports or under `default`.
    return mod.InferenceSession === undefined && mod.default !== undefined ? mod.default : mod;
  } catch (cause) {
    throw new ModelError("onnx", "could not load onnxruntime-node; install onnxruntime-node to use the onnx engine (npm i onnxruntime-node).", { cause });
  }
}

/** Growth step of the cache buffers, in positions: spare slots cost masked attention work, growing costs a copy. */
const CACHE_CHUNK = 64;

/**
 * Host key/value buffers `[batch, kvHeads, capacity, headDim]` per layer, shared by the caches of one decode chain:
 * each step appends its new positions in place after `filled`, so the cache is never copied per step.
 */
interface KvBuffer {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  readonly capacity: number;
  /** Slots written so far; a cache shorter than this has been stepped from already (a branch), so appending copies. */
  filled: number;
  /** Caches holding this buffer; when the last one is disposed the buffer is kept for reuse (see `spare`). */
  holders: number;
}

/** Buffers kept for reuse: allocating and zeroing tens of MB per batch change cost more than the copy itself. */
const MAX_SPARE_BUFFERS = 2;

/** KV cache of {@link OnnxQwen2Model}: the first `length` slots of a shared {@link KvBuffer}. */
class OnnxKvCache implements KvCache {
  #buffer: KvBuffer | undefined;

  constructor(
    buffer: KvBuffer,
    readonly length: number,
    readonly batch: number,
    private readonly release: (buffer: KvBuffer) => void,
  ) {
    this.#buffer = buffer;
    buffer.holders++;
  }

  get buffer(): KvBuffer {
    if (this.#buffer === undefined) throw new ModelError("onnx", "the KV cache was used after dispose().");
    return this.#buffer;
  }

  /** Drops this cache's hold on the buffers; the model reuses them once no cache holds them. */
  dispose(): void {
    const buffer = this.#buffer;
    this.#buffer = undefined;
    if (buffer !== undefined && --buffer.holders === 0) this.release(buffer);
  }
}

function toInt64(values: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = BigInt(values[i] as number);
  return out;
}

/**
 * Qwen2 causal LM on onnxruntime-node (CPU). Logits equal the tfjs `Qwen2Model` and the float64 reference to 1e-4.
 * Create with {@link OnnxQwen2Model.create}; release the session with {@link OnnxQwen2Model.dispose}.
 */
export class OnnxQwen2Model implements DecodeModel {
  readonly vocabSize: number;
  readonly maxPositions: number;
  /**
   * Buffers no cache holds any more, reused by `allocate` for the same shape (their stale slots are masked out).
   * TypeScript-private rather than `#private`: an ES-private field in the class's .d.ts breaks consumers compiling for
   * ES5 / the default target (TS18028).
   */
  private readonly spare: KvBuffer[] = [];
  private readonly release = (buffer: KvBuffer): void => {
    this.spare.push(buffer);
    if (this.spare.length > MAX_SPARE_BUFFERS) this.spare.shift();
  };

  private constructor(
    readonly config: Qwen2Config,
    private readonly ort: Ort,
    private readonly session: InferenceSession,
  ) {
    this.vocabSize = config.vocabSize;
    this.maxPositions = config.maxPositionEmbeddings;
  }

  /**
   * Builds the ONNX graph from `weights` (HF names and shapes) and opens an onnxruntime session on it.
   *
   * @throws ModelError when onnxruntime-node is not installed, or a weight is missing or mis-shaped.
   */
  static async create(config: Qwen2Config, weights: NamedTensors, options: OnnxQwen2ModelOptions = {}): Promise<OnnxQwen2Model> {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new ModelError("onnx", `option "threads" must be a positive integer; got ${threads}.`);
    const ort = await loadOrt();
    const bytes = buildQwen2Onnx(config, weights);
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
    return new OnnxQwen2Model(config, ort, session);
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { batch, newTokens, cache } = input;
    const { numHiddenLayers: layers, numKeyValueHeads: kvHeads, headDim } = this.config;
    if (cache !== undefined && !(cache instanceof OnnxKvCache)) throw new ModelError("onnx", "step: the cache was not made by OnnxQwen2Model; caches cannot move between engines.");
    if (cache !== undefined && cache.batch !== batch) throw new ModelError("onnx", `step: cache holds ${cache.batch} rows but batch is ${batch}.`);
    const past = cache?.length ?? 0;
    const total = past + newTokens;
    if (!(batch > 0 && newTokens > 0)) throw new ModelError("onnx", `step: batch and newTokens must be positive; got ${batch} and ${newTokens}.`);
    if (total > this.maxPositions) throw new ModelError("onnx", `step: ${total} key positions exceed max_position_embeddings ${this.maxPositions}.`);
    if (input.ids.length !== batch * newTokens) throw new ModelError("onnx", `step: ids has ${input.ids.length} values; expected batch × newTokens = ${batch * newTokens}.`);
    if (input.positionIds.length !== batch * newTokens) throw new ModelError("onnx", `step: positionIds has ${input.positionIds.length} values; expected ${batch * newTokens}.`);
    if (input.keyMask.length !== batch * total) throw new ModelError("onnx", `step: keyMask has ${input.keyMask.length} values; expected batch × (cache length + newTokens) = ${batch * total}.`);
    for (const id of input.ids) {
      if (!(id >= 0 && id < this.vocabSize)) throw new ModelError("onnx", `step: token id ${id} is outside the vocabulary [0, ${this.vocabSize}).`);
    }

    const { Tensor } = this.ort;
    const feeds: Record<string, Tensor> = {
      [N.inputIds]: new Tensor("int64", toInt64(input.ids), [batch, newTokens]),
      [N.positionIds]: new Tensor("int64", toInt64(input.positionIds), [batch, newTokens]),
      [N.logitsToKeep]: new Tensor("int64", BigInt64Array.of(input.allLogits ? 0n : 1n), []),
    };
    // The whole buffer goes in (no copy); its unused slots are masked out like padding. onnxruntime accepts zero-length
    // past tensors, so the first step runs the same graph as the later ones.
    const buffer = cache?.buffer;
    const slots = buffer?.capacity ?? 0;
    for (let l = 0; l < layers; l++) {
      feeds[N.pastKey(l)] = new Tensor("float32", buffer?.keys[l] ?? new Float32Array(0), [batch, kvHeads, slots, headDim]);
      feeds[N.pastValue(l)] = new Tensor("float32", buffer?.values[l] ?? new Float32Array(0), [batch, kvHeads, slots, headDim]);
    }
    const mask = new BigInt64Array(batch * (slots + newTokens));
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < past; j++) mask[b * (slots + newTokens) + j] = input.keyMask[b * total + j] ? 1n : 0n;
      for (let i = 0; i < newTokens; i++) mask[b * (slots + newTokens) + slots + i] = input.keyMask[b * total + past + i] ? 1n : 0n;
    }
    feeds[N.attentionMask] = new Tensor("int64", mask, [batch, slots + newTokens]);
    const out = await this.session.run(feeds);

    // Append the new keys/values: in place when this cache is the newest of its buffer and there is room, else into a
    // fresh buffer (first step, growth, or a second step from the same cache).
    const target = buffer !== undefined && buffer.filled === past && total <= buffer.capacity ? buffer : this.allocate(batch, total, buffer, past);
    for (let l = 0; l < layers; l++) {
      for (const [dst, name] of [
        [target.keys[l] as Float32Array, N.newKey(l)],
        [target.values[l] as Float32Array, N.newValue(l)],
      ] as const) {
        const src = (out[name] as Tensor).data as Float32Array;
        for (let bh = 0; bh < batch * kvHeads; bh++) {
          dst.set(src.subarray(bh * newTokens * headDim, (bh + 1) * newTokens * headDim), (bh * target.capacity + past) * headDim);
        }
      }
    }
    target.filled = total;
    return { logits: (out[N.logits] as Tensor).data as Float32Array, cache: new OnnxKvCache(target, total, batch, this.release) };
  }

  /** A buffer with room for `needed` slots holding the first `keep` slots of rows `rows` of `from` (all rows by default). */
  private allocate(batch: number, needed: number, from: KvBuffer | undefined, keep: number, rows?: readonly number[]): KvBuffer {
    const { numHiddenLayers: layers, numKeyValueHeads: kvHeads, headDim } = this.config;
    // At least one spare slot, so the next decode step appends in place.
    const capacity = (Math.floor(needed / CACHE_CHUNK) + 1) * CACHE_CHUNK;
    const size = batch * kvHeads * capacity * headDim;
    const reused = this.spare.findIndex((b) => b.capacity === capacity && b.keys[0]?.length === size);
    const spare = reused >= 0 ? this.spare.splice(reused, 1)[0] : undefined;
    const copy = (src: Float32Array | undefined, l: number, which: "keys" | "values"): Float32Array => {
      const dst = spare?.[which][l] ?? new Float32Array(size);
      if (src === undefined || from === undefined) return dst;
      for (let b = 0; b < batch; b++) {
        const srcRow = rows?.[b] ?? b;
        for (let h = 0; h < kvHeads; h++) {
          const s = (srcRow * kvHeads + h) * from.capacity * headDim;
          dst.set(src.subarray(s, s + keep * headDim), (b * kvHeads + h) * capacity * headDim);
        }
      }
      return dst;
    };
    return {
      keys: Array.from({ length: layers }, (_, l) => copy(from?.keys[l], l, "keys")),
      values: Array.from({ length: layers }, (_, l) => copy(from?.values[l], l, "values")),
      capacity,
      filled: keep,
      holders: 0,
    };
  }

  selectRows(cache: KvCache, rows: readonly number[]): KvCache {
    if (!(cache instanceof OnnxKvCache)) throw new ModelError("onnx", "selectRows: the cache was not made by OnnxQwen2Model.");
    if (rows.length === 0) throw new ModelError("onnx", "selectRows: rows is empty; a cache needs at least one row.");
    for (const r of rows) {
      if (!(Number.isInteger(r) && r >= 0 && r < cache.batch)) throw new ModelError("onnx", `selectRows: row ${r} is outside [0, ${cache.batch}).`);
    }
    return new OnnxKvCache(this.allocate(rows.length, cache.length, cache.buffer, cache.length, rows), cache.length, rows.length, this.release);
  }

  /** One cache of `length` slots holding the rows of every part, right-aligned (see DecodeModel.mergeCaches). */
  mergeCaches(parts: readonly CacheRows[], length: number): KvCache {
    const { numHiddenLayers: layers, numKeyValueHeads: kvHeads, headDim } = this.config;
    if (!(Number.isInteger(length) && length > 0 && length <= this.maxPositions)) throw new ModelError("onnx", `mergeCaches: length must be an integer in [1, ${this.maxPositions}]; got ${length}.`);
    for (const { cache, rows } of parts) {
      if (!(cache instanceof OnnxKvCache)) throw new ModelError("onnx", "mergeCaches: a cache was not made by OnnxQwen2Model.");
      for (const r of rows) if (!(Number.isInteger(r) && r >= 0 && r < cache.batch)) throw new ModelError("onnx", `mergeCaches: row ${r} is outside [0, ${cache.batch}).`);
    }
    const batch = parts.reduce((sum, p) => sum + p.rows.length, 0);
    if (batch === 0) throw new ModelError("onnx", "mergeCaches: no rows; a cache needs at least one row.");
    const target = this.allocate(batch, length, undefined, 0);
    let b = 0;
    for (const { cache, rows, lengths } of parts) {
      const from = (cache as OnnxKvCache).buffer;
      for (const [i, r] of rows.entries()) {
        // Only the row's last `kept` slots are copied: its real positions, when the caller says how many.
        const kept = Math.min(cache.length, length, lengths?.[i] ?? length);
        for (let h = 0; h < kvHeads; h++) {
          const s = ((r * kvHeads + h) * from.capacity + cache.length - kept) * headDim;
          const d = ((b * kvHeads + h) * target.capacity + length - kept) * headDim;
          for (let l = 0; l < layers; l++) {
            (target.keys[l] as Float32Array).set((from.keys[l] as Float32Array).subarray(s, s + kept * headDim), d);
            (target.values[l] as Float32Array).set((from.values[l] as Float32Array).subarray(s, s + kept * headDim), d);
          }
        }
        b++;
      }
    }
    target.filled = length;
    return new OnnxKvCache(target, length, batch, this.release);
  }

  /** Releases the onnxruntime session; the model cannot step afterwards. */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}
