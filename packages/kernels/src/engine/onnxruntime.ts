// onnxruntime-node (an optional peer) as a synchronous product engine. The vector kernels are synchronous and the
// public `InferenceSession` only has an async `run`, but onnxruntime-node's native session — which its async wrapper
// calls inside a setImmediate — runs synchronously; this file drives that native session directly, with tensors over
// the caller's arrays for inputs and outputs (onnxruntime writes the results in place: no copy either way). Anything
// unexpected in the installed package makes the engine unavailable (engine "auto" then stays on the JS kernels).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { assignGraph, assignRowsGraph, clusterSumsGraph, GRAPH_NAMES as N, productGraph, topKGraph } from "./onnxGraph.js";

/** onnxruntime tensor as the binding returns it. */
interface OrtTensor {
  readonly data: Float32Array | Int32Array | BigInt64Array;
  readonly dims: readonly number[];
}

type TensorCtor = new (type: string, data: Float32Array | Int32Array | BigInt64Array, dims: readonly number[]) => OrtTensor;

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, OrtTensor | null>, options: object): Record<string, OrtTensor>;
}

interface OrtNative {
  Tensor: TensorCtor;
  Session: new () => NativeSession;
}

/** The first load attempt's outcome, kept for the process. */
let loaded: OrtNative | Error | undefined;

/** onnxruntime-node's native binding, or the reason it cannot be used. */
export function loadOnnxruntime(): OrtNative | Error {
  if (loaded !== undefined) return loaded;
  try {
    const require = createRequire(import.meta.url);
    const main = require.resolve("onnxruntime-node");
    const root = dirname(dirname(main));
    const ort = require(main) as { Tensor?: TensorCtor };
    const native = require(join(root, "dist", "binding.js")) as { binding?: { InferenceSession?: new () => NativeSession }; initOrt?: () => void };
    const pkg = require(join(root, "package.json")) as { version?: string };
    if (typeof ort.Tensor !== "function" || typeof native.binding?.InferenceSession !== "function") {
      throw new Error(`onnxruntime-node ${pkg.version ?? "?"} has no dist/binding.js InferenceSession (supported: 1.20–1.x)`);
    }
    native.initOrt?.();
    loaded = { Tensor: ort.Tensor, Session: native.binding.InferenceSession };
  } catch (cause) {
    loaded = new Error(`[infialign/kernels] vector-engine: onnxruntime-node could not be loaded (${String((cause as Error)?.message ?? cause).split("\n")[0]})`, { cause });
  }
  return loaded;
}

/** A caller's array that onnxruntime writes an output into. */
interface Output {
  type: "float32" | "int32";
  data: Float32Array | Int32Array;
  dims: number[];
}

/** onnxruntime-node takes no SharedArrayBuffer-backed arrays ("Invalid argument"): those get a plain copy. */
const isShared = (x: ArrayBufferView): boolean => typeof SharedArrayBuffer !== "undefined" && x.buffer instanceof SharedArrayBuffer;
function plain<T extends Float32Array | Int32Array>(x: T): T {
  return isShared(x) ? (x.slice() as T) : x;
}

/**
 * Rows per onnxruntime call of the assignment. The chunk × k score matrix then stays in cache between Gemm and the
 * row maxima: 200,000 × 256 rows against 316 centroids ran at 105–116 GFLOP/s in chunks of 1,024 rows, 89–105 in
 * chunks of 2,048–4,096 and 74–93 in chunks of 16,384 (2 threads, loaded machine; measured with ArgMax/ReduceMax).
 */
const ASSIGN_CHUNK_ROWS = 1024;

/** The graphs of onnxGraph.ts, one session each with `threads` intra-op threads, kept for the process. */
export class OnnxruntimeProducts {
  readonly #ort: OrtNative;
  readonly #product: NativeSession;
  readonly #assign: NativeSession;
  readonly #assignRows: NativeSession;
  readonly #topK: NativeSession;
  /** One intra-op thread whatever `threads`: with more, its ScatterND adds rows into the same sum from several threads. */
  readonly #clusterSums: NativeSession;

  constructor(
    ort: OrtNative,
    readonly threads: number,
  ) {
    this.#ort = ort;
    const options = {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      // Spin-waiting pool threads burn the cores the other threads of a loaded machine need (measured slower there).
      extra: { "session.intra_op.allow_spinning": "0", "session.inter_op.allow_spinning": "0" },
    };
    const open = (model: Uint8Array, sessionOptions: object = options): NativeSession => {
      const s = new ort.Session();
      s.loadModel(model.buffer, model.byteOffset, model.byteLength, sessionOptions);
      return s;
    };
    this.#product = open(productGraph());
    this.#assign = open(assignGraph());
    this.#assignRows = open(assignRowsGraph());
    this.#topK = open(topKGraph());
    this.#clusterSums = open(clusterSumsGraph(), { ...options, intraOpNumThreads: 1 });
  }

  #tensor(data: Float32Array, rows: number, dim: number): OrtTensor {
    return new this.#ort.Tensor("float32", plain(data), [rows, dim]);
  }

  /** Runs `session` with outputs written into `outs` in place (through a plain copy for shared arrays). */
  #run(session: NativeSession, feeds: Record<string, OrtTensor>, outs: Record<string, Output>): void {
    const fetches: Record<string, OrtTensor> = {};
    for (const [name, o] of Object.entries(outs)) fetches[name] = new this.#ort.Tensor(o.type, plain(o.data), o.dims);
    session.run(feeds, fetches, {});
    for (const [name, o] of Object.entries(outs)) if (fetches[name]!.data !== o.data) o.data.set(fetches[name]!.data as Float32Array & Int32Array);
  }

  /** out[i·nb + j] = a_i · b_j. */
  product(a: Float32Array, na: number, b: Float32Array, nb: number, dim: number, out: Float32Array): void {
    if (na === 0 || nb === 0) return;
    this.#run(this.#product, { [N.a]: this.#tensor(a, na, dim), [N.b]: this.#tensor(b, nb, dim) }, { [N.scores]: { type: "float32", data: out.subarray(0, na * nb), dims: [na, nb] } });
  }

  /** Largest dot product per row (first maximum) and its index. */
  assign(rows: Float32Array, n: number, centroids: Float32Array, k: number, dim: number, assignments: Int32Array, scores: Float32Array): void {
    const b = this.#tensor(centroids, k, dim);
    for (let r0 = 0; r0 < n; r0 += ASSIGN_CHUNK_ROWS) {
      const m = Math.min(ASSIGN_CHUNK_ROWS, n - r0);
      const a = this.#tensor(rows.subarray(r0 * dim, (r0 + m) * dim), m, dim);
      this.#run(this.#assign, { [N.a]: a, [N.b]: b }, assignOut(assignments, scores, r0, m));
    }
  }

  /** {@link assign} of rows `rows[i]` of `data`, gathered inside onnxruntime (no copy here). */
  assignRows(
    data: Float32Array,
    total: number,
    rows: Int32Array,
    centroids: Float32Array,
    k: number,
    dim: number,
    assignments: Int32Array,
    scores: Float32Array,
  ): void {
    const d = this.#tensor(data, total, dim);
    const b = this.#tensor(centroids, k, dim);
    for (let r0 = 0; r0 < rows.length; r0 += ASSIGN_CHUNK_ROWS) {
      const m = Math.min(ASSIGN_CHUNK_ROWS, rows.length - r0);
      const idx = new this.#ort.Tensor("int32", plain(rows.subarray(r0, r0 + m)), [m]);
      this.#run(this.#assignRows, { [N.data]: d, [N.rows]: idx, [N.b]: b }, assignOut(assignments, scores, r0, m));
    }
  }

  /** sums[c] = Σ data[rows[i]] over i with labels[i] = c (float32, in batch order), c < k; bit-identical for any `threads`. */
  clusterSums(data: Float32Array, total: number, rows: Int32Array, labels: Int32Array, k: number, dim: number, sums: Float32Array): void {
    const m = rows.length;
    this.#run(
      this.#clusterSums,
      {
        [N.data]: this.#tensor(data, total, dim),
        [N.rows]: new this.#ort.Tensor("int32", plain(rows), [m]),
        [N.index]: new this.#ort.Tensor("int32", plain(labels.subarray(0, m)), [m, 1]),
        [N.shape]: new this.#ort.Tensor("int64", BigInt64Array.of(BigInt(k), BigInt(dim)), [2]),
      },
      { [N.sums]: { type: "float32", data: sums.subarray(0, k * dim), dims: [k, dim] } },
    );
  }

  /** The `take` best keys of every query in blocks of `blockRows` queries, into the k-wide rows of the outputs. */
  topK(queries: Float32Array, nq: number, keys: Float32Array, nk: number, dim: number, take: number, k: number, blockRows: number, indices: Int32Array, scores: Float32Array): void {
    const b = this.#tensor(keys, nk, dim);
    const kk = new this.#ort.Tensor("int64", BigInt64Array.of(BigInt(take)), [1]);
    for (let q0 = 0; q0 < nq; q0 += blockRows) {
      const m = Math.min(blockRows, nq - q0);
      const a = this.#tensor(queries.subarray(q0 * dim, (q0 + m) * dim), m, dim);
      const r = this.#topK.run({ [N.a]: a, [N.b]: b, [N.k]: kk }, { [N.topScores]: null, [N.topIndices]: null }, {});
      const s = r[N.topScores]!.data as Float32Array;
      const idx = r[N.topIndices]!.data as BigInt64Array;
      for (let i = 0; i < m; i++) {
        const o = (q0 + i) * k;
        for (let t = 0; t < take; t++) {
          indices[o + t] = Number(idx[i * take + t]!);
          scores[o + t] = s[i * take + t]!;
        }
      }
    }
  }
}

/** The assignment outputs: rows [r0, r0 + m) of the caller's arrays. */
function assignOut(assignments: Int32Array, scores: Float32Array, r0: number, m: number): Record<string, Output> {
  return {
    [N.index]: { type: "int32", data: assignments.subarray(r0, r0 + m), dims: [m] },
    [N.best]: { type: "float32", data: scores.subarray(r0, r0 + m), dims: [m] },
  };
}
