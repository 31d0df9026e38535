// BatchMatMul and _FusedMatMul for the wasm backend that always reach XNNPACK. The stock kernels
// (tfjs-backend-wasm 4.x, src/cc/batch_mat_mul_impl.cc) call XNNPACK's fully-connected operator only for a single
// 2-D product without transposes and otherwise run a scalar triple loop at 1–3 GFLOP/s: every attention product and
// every weight gradient took that path. Here transposes become explicit copies (a tiled transpose on the heap) and
// the product becomes XNNPACK 2-D products on the heap: one for all of `a`'s batch entries when `b` has no batch
// (its rows are contiguous), else one per batch entry through C-side ids that name sub-ranges of the heap.
import * as tf from "@tensorflow/tfjs-core";
import { heapView, releaseView, shapeBytes, type WasmBackend, type WasmModule, type WasmTensorData } from "./heap.js";

type CFunction = (...args: unknown[]) => void;

interface CFunctions {
  /** BatchMatMul(a_id, a_shape, a_rank, b_id, b_shape, b_rank, transpose_a, transpose_b, out_id) */
  batchMatMul: CFunction;
  /** _FusedMatMul(a_id, a_shape, a_rank, b_id, b_shape, b_rank, ta, tb, activation, bias_id, prelu_id, alpha, out_id) */
  fusedMatMul: CFunction;
}

// Wrapped per Emscripten module, not once at setup: selectBackend may replace the wasm backend (other thread count).
const cache = new WeakMap<WasmModule, CFunctions>();

function cFunctions(backend: WasmBackend): CFunctions {
  let fns = cache.get(backend.wasm);
  if (fns === undefined) {
    const w = backend.wasm;
    fns = {
      batchMatMul: w.cwrap(tf.BatchMatMul, null, ["number", "array", "number", "number", "array", "number", "number", "number", "number"]),
      fusedMatMul: w.cwrap(tf._FusedMatMul, null, ["number", "array", "number", "number", "array", "number", "number", "number", "number", "number", "number", "number", "number"]),
    };
    cache.set(backend.wasm, fns);
  }
  return fns;
}

const PREFIX = "[infialign/kernels] wasm";

/**
 * XNNPACK caches the packed weights of `b` under b's C id (cache key: b id, bias id, activation) and never checks the
 * shape again. tfjs shares one id between a tensor and its reshapes, so a second product that reads the same id as a
 * different [k, n] would reuse the wrong operator. We pass the real id (so repeated products with the same weights
 * skip the packing, as the stock kernel does) only while the id has been seen with one [k, n]; otherwise a fresh view.
 */
const weightShapes = new WeakMap<object, string>();

function weightId(backend: WasmBackend, dataId: object, data: WasmTensorData, k: number, n: number): { id: number; view: boolean } {
  const key = `${k}x${n}`;
  const seen = weightShapes.get(dataId);
  if (seen === undefined || seen === key) {
    weightShapes.set(dataId, key);
    return { id: data.id, view: false };
  }
  return { id: heapView(backend, data, 0, k * n), view: true };
}

interface Operand {
  info: tf.TensorInfo;
  data: WasmTensorData;
  /** A transposed copy made here, to dispose after the product. */
  temporary: boolean;
}

/** `x` as row-major [batch, rows, cols] after undoing a transpose of its last two axes (a heap copy when needed). */
function rowMajor(backend: WasmBackend, x: tf.TensorInfo, batch: number, rows: number, cols: number, transposed: boolean): Operand {
  const data = backend.dataIdMap.get(x.dataId);
  // A transpose with a unit axis only relabels the shape: the memory order is already right.
  if (!transposed || rows === 1 || cols === 1) return { info: x, data, temporary: false };
  const out = backend.makeOutput([batch, rows, cols], "float32");
  // Views made after makeOutput: its malloc may grow the heap, which detaches views of the old buffer.
  transposeBlocks(backend.typedArrayFromHeap(x) as Float32Array, backend.typedArrayFromHeap(out) as Float32Array, batch, cols, rows);
  return { info: out, data: backend.dataIdMap.get(out.dataId), temporary: true };
}

/** Tile edge of {@link transposeBlocks}: 16 × 16 float32 tiles measured fastest here (2.6× the C Transpose kernel). */
const TILE = 16;

/**
 * `dst[b] = src[b]ᵀ` for `batch` row-major [rows, cols] matrices, in cache-sized tiles. Hand-written rather than the
 * backend's C Transpose kernel, a generic N-d loop that took 2.1 ms for a [1024, 256] matrix against 0.8 ms here.
 */
function transposeBlocks(src: Float32Array, dst: Float32Array, batch: number, rows: number, cols: number): void {
  const size = rows * cols;
  for (let b = 0; b < batch; b++) {
    const base = b * size;
    for (let r0 = 0; r0 < rows; r0 += TILE) {
      const r1 = Math.min(r0 + TILE, rows);
      for (let c0 = 0; c0 < cols; c0 += TILE) {
        const c1 = Math.min(c0 + TILE, cols);
        for (let r = r0; r < r1; r++) {
          let from = base + r * cols + c0;
          let to = base + c0 * rows + r;
          for (let c = c0; c < c1; c++, from++, to += rows) dst[to] = src[from] as number;
        }
      }
    }
  }
}

interface Plan {
  outShape: number[];
  batch: number;
  batchA: number;
  batchB: number;
  m: number;
  k: number;
  n: number;
  /** For each output batch entry, the batch entry of a and of b it reads (numpy broadcasting of the batch axes). */
  indexA: (i: number) => number;
  indexB: (i: number) => number;
}

function plan(kernel: string, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): Plan {
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new Error(`${PREFIX} ${kernel}: only float32 tensors are supported (got a: ${a.dtype}, b: ${b.dtype}); cast with tf.cast(x, "float32").`);
  }
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const m = (transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2]) as number;
  const kA = (transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1]) as number;
  const kB = (transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2]) as number;
  const n = (transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1]) as number;
  if (kA !== kB) {
    throw new Error(`Error in matMul: inner shapes (${kA}) and (${kB}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batchA = tf.util.sizeFromShape(outerA);
  const batchB = tf.util.sizeFromShape(outerB);
  return { outShape: [...outer, m, n], batch: tf.util.sizeFromShape(outer), batchA, batchB, m, k: kA, n, indexA: broadcastIndex(outer, outerA), indexB: broadcastIndex(outer, outerB) };
}

/** Maps a flat index over the broadcast batch shape `outer` to the flat index into `own` (right-aligned, size-1 axes repeat). */
function broadcastIndex(outer: readonly number[], own: readonly number[]): (i: number) => number {
  if (tf.util.sizeFromShape([...own]) === tf.util.sizeFromShape([...outer])) return (i) => i;
  if (tf.util.sizeFromShape([...own]) === 1) return () => 0;
  const offset = outer.length - own.length;
  return (i) => {
    let rest = i;
    let index = 0;
    let stride = 1;
    for (let d = outer.length - 1; d >= 0; d--) {
      const size = outer[d] as number;
      const coord = rest % size;
      rest = (rest - coord) / size;
      const ownSize = d >= offset ? (own[d - offset] as number) : 1;
      if (ownSize !== 1) index += coord * stride;
      stride *= ownSize;
    }
    return index;
  };
}

type Call = (aId: number, aRows: number, bId: number, outId: number) => void;

/** Runs the products of a plan on row-major operands; `call` does one 2-D product of a [rows, k] by b [k, n]. */
function run(backend: WasmBackend, p: Plan, a: Operand, b: Operand, out: tf.TensorInfo, call: Call): void {
  const outData = backend.dataIdMap.get(out.dataId);
  const { m, k, n } = p;
  if (p.batchB === 1) {
    // b has no batch: all of a's batch entries are one contiguous [batchA·m, k] block, so one product does them all.
    const w = weightId(backend, b.info.dataId as object, b.data, k, n);
    try {
      call(a.data.id, p.batchA * m, w.id, outData.id);
    } finally {
      if (w.view) releaseView(backend, w.id);
    }
    return;
  }
  for (let i = 0; i < p.batch; i++) {
    const ia = p.indexA(i);
    const aId = p.batchA === 1 ? a.data.id : heapView(backend, a.data, ia * m * k, m * k);
    // Always a fresh id: XNNPACK packs b per id, and the view's release deletes that operator (disposal callback).
    const bId = heapView(backend, b.data, p.indexB(i) * k * n, k * n);
    const outId = heapView(backend, outData, i * m * n, m * n);
    try {
      call(aId, m, bId, outId);
    } finally {
      if (aId !== a.data.id) releaseView(backend, aId);
      releaseView(backend, bId);
      releaseView(backend, outId);
    }
  }
}

function release(backend: WasmBackend, ...operands: Operand[]): void {
  for (const o of operands) if (o.temporary) backend.disposeData(o.info.dataId);
}

/** True when the output has no elements or the shared axis is empty (the product is all zeros). */
function trivial(backend: WasmBackend, p: Plan, out: tf.TensorInfo): boolean {
  if (p.batch * p.m * p.n === 0) return true;
  if (p.k === 0) {
    backend.typedArrayFromHeap(out).fill(0);
    return true;
  }
  return false;
}

/**
 * Multiply-adds per product below which a batched product stays on the stock kernel: XNNPACK creates (and packs) one
 * operator per batch entry, 0.2–0.45 ms each, which costs more than stock's scalar loop (~2.5 GFLOP/s) on tiny products
 * such as decode-time attention (one query row against the cache: 16× slower generation when routed to XNNPACK).
 */
export const SMALL_PRODUCT_MACS = 1 << 19;

/**
 * Output rows below which a transposed or batched product stays on the stock kernel: our path copies (transposes) and
 * XNNPACK packs the whole weight on every call, O(k·n) work that a product with a handful of rows (a decode step's
 * `x·Wᵀ` with one row per sequence) never earns back.
 */
export const MIN_ROWS = 16;

let routing = { smallProductMacs: SMALL_PRODUCT_MACS, minRows: MIN_ROWS };

/** Sets when products stay on the stock kernel; zeros send every product to XNNPACK (as the equivalence tests need). */
export function setRouting(options: { smallProductMacs: number; minRows: number }): void {
  for (const [key, value] of Object.entries(options)) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`${PREFIX} ${key} must be a non-negative integer (got ${value}).`);
  }
  routing = { ...options };
}

/**
 * The BatchMatMul kernel function: same inputs, attributes and result as the stock one, XNNPACK for every product —
 * except products with few rows or tiny batched ones (without broadcasting), which `stock` computes as fast and as well.
 */
export function batchMatMul(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA = false, transposeB = false } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    const p = plan("BatchMatMul", a, b, transposeA, transposeB);
    // Only where stock runs its own scalar loop (batched or transposed; a plain 2-D product is XNNPACK there too) and
    // computes right: stock is wrong when batch axes broadcast, so only equal batches go there.
    const scalarLoop = p.batch > 1 || transposeA || transposeB;
    const equalBatches = p.batchA === p.batch && p.batchB === p.batch;
    if (scalarLoop && equalBatches && (p.m < routing.minRows || (p.batch > 1 && p.m * p.k * p.n < routing.smallProductMacs))) return stock(args);
    return xnnpackBatchMatMul(args.backend as unknown as WasmBackend, p, a, b, transposeA, transposeB);
  };
}

function xnnpackBatchMatMul(backend: WasmBackend, p: Plan, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): tf.TensorInfo {
  const out = backend.makeOutput(p.outShape, "float32");
  if (trivial(backend, p, out)) return out;
  const fns = cFunctions(backend);
  const ra = rowMajor(backend, a, p.batchA, p.m, p.k, transposeA);
  let rb: Operand | undefined;
  try {
    rb = rowMajor(backend, b, p.batchB, p.k, p.n, transposeB);
    const aShape = (rows: number) => shapeBytes([1, rows, p.k]);
    const bShape = shapeBytes([1, p.k, p.n]);
    run(backend, p, ra, rb, out, (aId, rows, bId, outId) => fns.batchMatMul(aId, aShape(rows), 3, bId, bShape, 3, 0, 0, outId));
  } finally {
    release(backend, ra, ...(rb === undefined ? [] : [rb]));
  }
  return out;
}

/** Activations in the order of tfjs-backend-wasm's cc/fusable_activations.h. */
const ACTIVATIONS = ["linear", "relu", "relu6", "prelu", "leakyrelu", "sigmoid", "elu"] as const;

/**
 * The _FusedMatMul kernel function. The C kernel adds the bias as one value per output column and applies the
 * activation to the whole output block it is given, so we take the fast path when the bias is absent or has n entries,
 * and, for batched weights (one C call per batch entry), when the activation is elementwise (not prelu, whose weights
 * may span the whole output). Anything else (a broadcast scalar bias, a non-float32 input) goes to `stock` unchanged.
 */
export function fusedMatMul(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackend;
    const { a, b, bias, preluActivationWeights } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
    const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean; activation?: string; leakyreluAlpha?: number };
    const { transposeA = false, transposeB = false, activation = "linear" } = attrs;
    const activationId = (ACTIVATIONS as readonly string[]).indexOf(activation);
    const bRank = b.shape.length;
    const n = (transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1]) as number;
    const fast =
      a.dtype === "float32" &&
      b.dtype === "float32" &&
      activationId >= 0 &&
      (tf.util.sizeFromShape(b.shape.slice(0, -2)) === 1 || activation !== "prelu") &&
      (bias == null || (bias.shape.length === 1 && bias.shape[0] === n));
    if (!fast) return stock(args);
    const p = plan("_FusedMatMul", a, b, transposeA, transposeB);
    const out = backend.makeOutput(p.outShape, "float32");
    if (p.batch * p.m * p.n === 0) return out;
    // An empty shared axis leaves only bias and activation, which the fast path cannot express: let stock do it.
    if (p.k === 0) {
      backend.disposeData(out.dataId);
      return stock(args);
    }
    const fns = cFunctions(backend);
    const biasId = bias == null ? 0 : backend.dataIdMap.get(bias.dataId).id;
    const preluId = preluActivationWeights == null ? 0 : backend.dataIdMap.get(preluActivationWeights.dataId).id;
    const ra = rowMajor(backend, a, p.batchA, p.m, p.k, transposeA);
    let rb: Operand | undefined;
    try {
      rb = rowMajor(backend, b, p.batchB, p.k, p.n, transposeB);
      const bShape = shapeBytes([1, p.k, p.n]);
      run(backend, p, ra, rb, out, (aId, rows, bId, outId) =>
        fns.fusedMatMul(aId, shapeBytes([1, rows, p.k]), 3, bId, bShape, 3, 0, 0, activationId, biasId, preluId, attrs.leakyreluAlpha ?? 0, outId),
      );
    } finally {
      release(backend, ra, ...(rb === undefined ? [] : [rb]));
    }
    return out;
  };
}
