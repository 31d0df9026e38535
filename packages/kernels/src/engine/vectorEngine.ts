import { type AssignmentBuffers, type Assignments, assignNearest, assignNearestArgs } from "../vector/assignNearest.js";
import { type CosineTopKOptions, cosineTopK, cosineTopKArgs } from "../vector/cosineTopK.js";
import { matmulTransposed } from "../vector/matmulTransposed.js";
import { centerCount, countByCluster, type MiniBatchCenters, type MiniBatchStepResult, moveCenters, sumByCluster } from "../vector/miniBatchStep.js";
import { getAssignPool, resolveThreads } from "../vector/parallel.js";
import { checkOut, rowCount } from "../vector/shape.js";
import { loadOnnxruntime, OnnxruntimeProducts } from "./onnxruntime.js";

/**
 * Which engine computes the products: "onnxruntime" (onnxruntime-node's MLAS GEMM, an optional peer), "js" (the
 * Float32Array kernels of this package, with worker threads for assignments), or "auto" — onnxruntime when it can be
 * loaded, else js.
 */
export type VectorEngineChoice = "auto" | "js" | "onnxruntime";

/** Options of {@link getVectorEngine}. */
export interface VectorEngineOptions {
  /** @default "auto" */
  engine?: VectorEngineChoice;
  /**
   * Threads of one product: onnxruntime's intra-op threads, or the caller plus `threads − 1` workers of the js
   * assignment pool. "auto" = min(2, os.availableParallelism()).
   * @default "auto"
   */
  threads?: number | "auto";
}

/**
 * Row-major Float32Array products behind one synchronous contract, on onnxruntime or on the js kernels. Each engine is
 * deterministic: the same inputs give bit-identical outputs run to run. The two engines sum in different orders, so
 * their scores differ in the last bits (≤ 1e-5 relative for unit rows) and a near-tie can pick a different index.
 */
export interface VectorEngine {
  readonly name: "js" | "onnxruntime";
  readonly threads: number;
  /** (na×dim)·(nb×dim)ᵀ → na×nb row-major, as {@link matmulTransposed}. */
  matmulTransposed(a: Float32Array, b: Float32Array, dim: number, out?: Float32Array): Float32Array;
  /** Nearest centroid by dot product (ties → lowest index) and that dot product, as {@link assignNearest}. */
  assignNearest(
    rows: Float32Array,
    centroids: Float32Array,
    dim: number,
    out?: AssignmentBuffers,
  ): Assignments;
  /**
   * {@link assignNearest} of the rows `rows[i]` of `data` (a sampled mini-batch) without copying them out first: the
   * onnxruntime engine gathers them inside its graph. Out-of-range row indices throw.
   */
  assignRows(
    data: Float32Array,
    rows: Int32Array,
    centroids: Float32Array,
    dim: number,
    out?: AssignmentBuffers,
  ): Assignments;
  /**
   * One step of spherical mini-batch k-means (Sculley 2010) on the rows `rows[i]` of `data`: assigns them as
   * {@link assignRows}, then moves, in place, every center c that got b > 0 of them: mean ← (count·mean + Σ its rows) /
   * (count + b), count ← count + b, centroid ← mean/‖mean‖. The js engine adds a center's rows in float64, the
   * onnxruntime engine in float32 (ScatterND on one thread, so still bit-identical for any `threads`); the means and
   * the move are float64 on both.
   */
  miniBatchStep(
    data: Float32Array,
    rows: Int32Array,
    centers: MiniBatchCenters,
    dim: number,
    out?: AssignmentBuffers,
  ): MiniBatchStepResult;
  /** The `k` most similar keys per query, as {@link cosineTopK} (same sorting, ties and padding). */
  cosineTopK(queries: Float32Array, keys: Float32Array, dim: number, k: number, options?: Omit<CosineTopKOptions, "engine">): { indices: Int32Array; scores: Float32Array };
}

/** Checks the row indices of {@link VectorEngine.assignRows} and its `out` buffers; returns the outputs. */
function rowsOut(
  total: number,
  rows: Int32Array,
  out?: AssignmentBuffers,
  component = "assign-rows",
): Assignments {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (!(r >= 0 && r < total)) throw new Error(`[infialign/kernels] ${component}: rows[${i}] = ${r} is outside the ${total} rows of data`);
  }
  const assignments = out?.assignments ?? new Int32Array(rows.length);
  const scores = out?.scores ?? new Float32Array(rows.length);
  checkOut(assignments, rows.length, component, "out.assignments");
  checkOut(scores, rows.length, component, "out.scores");
  return { assignments, scores };
}

/** Checks a mini-batch step's arguments (both engines): row count of `data`, centers, the batch's output buffers. */
function miniBatchArgs(data: Float32Array, rows: Int32Array, centers: MiniBatchCenters, dim: number, out?: AssignmentBuffers) {
  const total = rowCount(data, dim, "mini-batch-step", "data");
  const k = centerCount(centers, dim, "mini-batch-step");
  return { total, k, m: rows.length, result: rowsOut(total, rows, out, "mini-batch-step") };
}

/** Scratch of one engine's mini-batch steps, grown on demand (the engines are synchronous, so one set serves all calls). */
class StepScratch {
  counts = new Int32Array(0);
  order = new Int32Array(0);
  sums32 = new Float32Array(0);
  sums64 = new Float64Array(0);

  /** Sizes the buffers for `m` batch rows, `k` centers of `dim` values. */
  fit(m: number, k: number, dim: number, engine: "js" | "onnxruntime"): this {
    if (this.counts.length < k) this.counts = new Int32Array(k);
    if (engine === "onnxruntime") {
      if (this.sums32.length < k * dim) this.sums32 = new Float32Array(k * dim);
    } else {
      if (this.order.length < m + k + 1) this.order = new Int32Array(m + k + 1);
      if (this.sums64.length < k * dim) this.sums64 = new Float64Array(k * dim);
    }
    return this;
  }
}

function jsEngine(threads: number): VectorEngine {
  const assign: VectorEngine["assignNearest"] = threads > 1 ? (rows, centroids, dim, out) => getAssignPool(threads).assign(rows, centroids, dim, out) : assignNearest;
  let gathered = new Float32Array(0);
  const gather = (data: Float32Array, rows: Int32Array, dim: number): Float32Array => {
    if (gathered.length < rows.length * dim) gathered = new Float32Array(rows.length * dim);
    for (let i = 0; i < rows.length; i++) gathered.set(data.subarray(rows[i]! * dim, rows[i]! * dim + dim), i * dim);
    return gathered.subarray(0, rows.length * dim);
  };
  const step = new StepScratch();
  return {
    name: "js",
    threads,
    matmulTransposed,
    assignNearest: assign,
    assignRows(data, rows, centroids, dim, out) {
      const total = rowCount(data, dim, "assign-rows", "data");
      const result = rowsOut(total, rows, out);
      return assign(gather(data, rows, dim), centroids, dim, result);
    },
    miniBatchStep(data, rows, centers, dim, out) {
      const { k, m, result } = miniBatchArgs(data, rows, centers, dim, out);
      if (m === 0) return { ...result, shift: 0 };
      // The batch stays gathered (and in cache) for the sums.
      const batch = gather(data, rows, dim);
      assign(batch, centers.centroids, dim, result);
      const { counts, order, sums64 } = step.fit(m, k, dim, "js");
      countByCluster(result.assignments, m, k, counts);
      sumByCluster(batch, result.assignments, m, k, dim, counts, order, sums64);
      return { ...result, shift: moveCenters(counts, sums64, centers, k, dim) };
    },
    cosineTopK: (queries, keys, dim, k, options) => cosineTopK(queries, keys, dim, k, { ...options, engine: "js" }),
  };
}

function onnxEngine(products: OnnxruntimeProducts): VectorEngine {
  const step = new StepScratch();
  return {
    name: "onnxruntime",
    threads: products.threads,
    matmulTransposed(a, b, dim, out) {
      const na = rowCount(a, dim, "matmul-transposed", "a");
      const nb = rowCount(b, dim, "matmul-transposed", "b");
      const result = out ?? new Float32Array(na * nb);
      checkOut(result, na * nb, "matmul-transposed");
      products.product(a, na, b, nb, dim, result);
      return result;
    },
    assignNearest(rows, centroids, dim, out) {
      const { n, k, assignments, scores } = assignNearestArgs(rows, centroids, dim, out);
      if (n > 0) products.assign(rows, n, centroids, k, dim, assignments, scores);
      return { assignments, scores };
    },
    assignRows(data, rows, centroids, dim, out) {
      const total = rowCount(data, dim, "assign-rows", "data");
      const k = rowCount(centroids, dim, "assign-rows", "centroids");
      if (k === 0) throw new Error("[infialign/kernels] assign-rows: centroids is empty; pass at least one centroid");
      const result = rowsOut(total, rows, out);
      if (rows.length > 0) products.assignRows(data, total, rows, centroids, k, dim, result.assignments, result.scores);
      return result;
    },
    miniBatchStep(data, rows, centers, dim, out) {
      const { total, k, m, result } = miniBatchArgs(data, rows, centers, dim, out);
      if (m === 0) return { ...result, shift: 0 };
      const { counts, sums32 } = step.fit(m, k, dim, "onnxruntime");
      products.assignRows(data, total, rows, centers.centroids, k, dim, result.assignments, result.scores);
      countByCluster(result.assignments, m, k, counts);
      products.clusterSums(data, total, rows, result.assignments, k, dim, sums32);
      return { ...result, shift: moveCenters(counts, sums32, centers, k, dim) };
    },
    cosineTopK(queries, keys, dim, k, options = {}) {
      const { queries: q, keys: ks, nq, nk, take, blockRows, indices, scores } = cosineTopKArgs(queries, keys, dim, k, options);
      if (take === 0 || nq === 0) return { indices, scores };
      products.topK(q, nq, ks, nk, dim, take, k, blockRows, indices, scores);
      return { indices, scores };
    },
  };
}

const engines = new Map<string, VectorEngine>();

/**
 * The process-wide engine for these options (created on first use and kept; onnxruntime sessions load once). With
 * `engine: "onnxruntime"` and onnxruntime-node missing or unusable it throws, saying to install it; "auto" falls back
 * to js silently (check `engine.name`).
 */
export function getVectorEngine(options: VectorEngineOptions = {}): VectorEngine {
  const choice = options.engine ?? "auto";
  if (choice !== "auto" && choice !== "js" && choice !== "onnxruntime") {
    throw new Error(`[infialign/kernels] vector-engine: engine must be "auto", "js" or "onnxruntime", got ${JSON.stringify(choice)}`);
  }
  const threads = resolveThreads(options.threads ?? "auto");
  const ort = choice === "js" ? undefined : loadOnnxruntime();
  if (choice === "onnxruntime" && ort instanceof Error) {
    throw new Error(`${ort.message}; install onnxruntime-node to use engine "onnxruntime" (npm i onnxruntime-node), or pass engine "auto" or "js"`, {
      cause: ort,
    });
  }
  const name = ort === undefined || ort instanceof Error ? "js" : "onnxruntime";
  const key = `${name}:${threads}`;
  let engine = engines.get(key);
  if (!engine) {
    engine = name === "js" || ort === undefined || ort instanceof Error ? jsEngine(threads) : onnxEngine(new OnnxruntimeProducts(ort, threads));
    engines.set(key, engine);
  }
  return engine;
}
