import { getVectorEngine, type VectorEngineChoice } from "../engine/vectorEngine.js";
import { gemmNT } from "./gemm.js";
import { l2NormalizeRows } from "./l2NormalizeRows.js";
import { rowCount } from "./shape.js";

/** Options of {@link cosineTopK}. */
export interface CosineTopKOptions {
  /**
   * Queries scored per block; peak scratch memory is `blockRows × keys` floats.
   * @default 256
   */
  blockRows?: number;
  /**
   * Whether query and key rows are already unit length. When false, normalized copies are made (zero rows score 0).
   * @default true
   */
  normalized?: boolean;
  /**
   * Engine of the products (see `getVectorEngine`): "auto" uses onnxruntime-node when it is installed. Engines agree
   * up to rounding (scores within 1e-5 for unit rows), so a near-tie may order differently across engines.
   * @default "auto"
   */
  engine?: VectorEngineChoice;
  /**
   * onnxruntime intra-op threads ("auto" = min(2, os.availableParallelism())); the js engine runs on the calling thread.
   * @default "auto"
   */
  threads?: number | "auto";
}

/**
 * The `k` keys most similar (cosine) to each query. Result arrays are nq×k row-major; each row is sorted by score
 * descending (ties → lower key index) and padded with index -1 / score -Infinity when there are fewer than `k` keys.
 */
export function cosineTopK(
  queries: Float32Array,
  keys: Float32Array,
  dim: number,
  k: number,
  options: CosineTopKOptions = {},
): { indices: Int32Array; scores: Float32Array } {
  const { engine: choice = "auto", threads = "auto", ...rest } = options;
  if (choice !== "js") {
    const engine = getVectorEngine({ engine: choice, threads });
    if (engine.name !== "js") return engine.cosineTopK(queries, keys, dim, k, rest);
  }
  const args = cosineTopKArgs(queries, keys, dim, k, options);
  const { nq, nk, take, blockRows, indices, scores } = args;
  if (take === 0 || nq === 0) return { indices, scores };
  queries = args.queries;
  keys = args.keys;
  const block = new Float32Array(Math.min(blockRows, nq) * nk);
  // Min-heap of the current best `take` keys (root = worst kept), reused across queries.
  const heapIdx = new Int32Array(take);
  const heapScore = new Float64Array(take);
  for (let q0 = 0; q0 < nq; q0 += blockRows) {
    const m = Math.min(blockRows, nq - q0);
    gemmNT(queries, q0, m, keys, 0, nk, dim, block, 0, nk);
    for (let i = 0; i < m; i++) {
      const o = i * nk;
      let size = 0;
      for (let j = 0; j < nk; j++) {
        const s = block[o + j]!;
        if (size < take) {
          heapIdx[size] = j;
          heapScore[size] = s;
          siftUp(heapIdx, heapScore, size);
          size++;
        } else if (s > heapScore[0]!) {
          // Equal scores keep the earlier (lower) index, so only strictly better keys replace the root.
          heapIdx[0] = j;
          heapScore[0] = s;
          siftDown(heapIdx, heapScore, 0, size);
        }
      }
      // Pop worst-first into the row from the back, giving a descending row.
      const row = (q0 + i) * k;
      for (let t = size - 1; t >= 0; t--) {
        indices[row + t] = heapIdx[0]!;
        scores[row + t] = heapScore[0]!;
        heapIdx[0] = heapIdx[t]!;
        heapScore[0] = heapScore[t]!;
        siftDown(heapIdx, heapScore, 0, t);
      }
    }
  }
  return { indices, scores };
}

/** Heap order: `x` is "worse" than `y` when its score is lower, or equal with a higher index. */
function worse(idx: Int32Array, sc: Float64Array, x: number, y: number): boolean {
  const a = sc[x]!;
  const b = sc[y]!;
  return a < b || (a === b && idx[x]! > idx[y]!);
}

function swap(idx: Int32Array, sc: Float64Array, x: number, y: number): void {
  const ti = idx[x]!;
  idx[x] = idx[y]!;
  idx[y] = ti;
  const ts = sc[x]!;
  sc[x] = sc[y]!;
  sc[y] = ts;
}

function siftUp(idx: Int32Array, sc: Float64Array, i: number): void {
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!worse(idx, sc, i, p)) return;
    swap(idx, sc, i, p);
    i = p;
  }
}

function siftDown(idx: Int32Array, sc: Float64Array, i: number, size: number): void {
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) return;
    const r = l + 1;
    const c = r < size && worse(idx, sc, r, l) ? r : l;
    if (!worse(idx, sc, c, i)) return;
    swap(idx, sc, i, c);
    i = c;
  }
}

/**
 * Checks the arguments of a cosine top-k (any engine): row counts, `k` and `blockRows`; unit-length copies of the rows
 * when `normalized` is false; the outputs, pre-filled with the padding (index -1, score -Infinity).
 */
export function cosineTopKArgs(
  queries: Float32Array,
  keys: Float32Array,
  dim: number,
  k: number,
  options: Pick<CosineTopKOptions, "blockRows" | "normalized">,
): { queries: Float32Array; keys: Float32Array; nq: number; nk: number; take: number; blockRows: number; indices: Int32Array; scores: Float32Array } {
  const nq = rowCount(queries, dim, "cosine-top-k", "queries");
  const nk = rowCount(keys, dim, "cosine-top-k", "keys");
  if (!Number.isInteger(k) || k < 0) throw new Error(`[infialign/kernels] cosine-top-k: k must be a non-negative integer, got ${k}`);
  const blockRows = options.blockRows ?? 256;
  if (!Number.isInteger(blockRows) || blockRows < 1) {
    throw new Error(`[infialign/kernels] cosine-top-k: blockRows must be a positive integer, got ${blockRows}`);
  }
  const unit = options.normalized === false;
  return {
    queries: unit ? l2NormalizeRows(queries.slice(), dim) : queries,
    keys: unit ? l2NormalizeRows(keys.slice(), dim) : keys,
    nq,
    nk,
    take: Math.min(k, nk),
    blockRows,
    indices: new Int32Array(nq * k).fill(-1),
    scores: new Float32Array(nq * k).fill(Number.NEGATIVE_INFINITY),
  };
}
