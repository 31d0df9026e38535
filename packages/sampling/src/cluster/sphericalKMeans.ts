import { createRng, getVectorEngine, type Rng, resolveThreads, type VectorEngine } from "@infialign/kernels";
import { chooseK, type KMeansConfig, MINI_BATCH_AUTO_THRESHOLD, PARALLEL_MIN_ROWS, resolveKMeansConfig } from "./config.js";
import { kmeansPlusPlus } from "./kmeansPlusPlus.js";

/** Result of {@link sphericalKMeans}. */
export interface KMeansResult {
  /** Number of clusters actually used (the requested k clamped to n). */
  k: number;
  /** k×dim unit-length centroids, row-major. */
  centroids: Float32Array;
  /** Cluster of every row (nearest centroid by cosine, ties → lowest index). */
  assignments: Int32Array;
  /** Σ over rows of (1 − cos(row, its centroid)), from the final full assignment pass. */
  inertia: number;
  /** Rows per cluster. */
  sizes: Int32Array;
  /** Full batch: centroid updates (Lloyd iterations). Mini-batch: mini-batch steps. */
  iterations: number;
  /** Whether a convergence rule stopped the run (rather than `maxIter`). */
  converged: boolean;
  /** Which algorithm ran. */
  mode: "full-batch" | "mini-batch";
  /** Which engine computed the products. */
  engine: VectorEngine["name"];
}

/** Progress callback payload: `inertia` is the full inertia (full batch) or the smoothed mean batch inertia (mini-batch). */
export interface KMeansProgress {
  iteration: number;
  inertia: number;
}

export type SphericalKMeansOptions = Partial<KMeansConfig> & { onProgress?: (p: KMeansProgress) => void };

/**
 * Spherical k-means (Dhillon & Modha 2001) on L2-normalized rows: k-means++ seeding, then full-batch Lloyd iterations
 * or mini-batch updates (Sculley 2010), and a final full assignment pass that gives `assignments`, `sizes`, `inertia`.
 */
export function sphericalKMeans(data: Float32Array, dim: number, options: SphericalKMeansOptions = {}): KMeansResult {
  const { onProgress, ...partial } = options;
  const config = resolveKMeansConfig(partial);
  if (!Number.isInteger(dim) || dim < 1 || data.length % dim !== 0) {
    throw new Error(`[infialign/sampling] kmeans: data.length ${data.length} is not a multiple of dim ${dim}; pass n×dim row-major rows`);
  }
  const n = data.length / dim;
  if (n === 0) throw new Error("[infialign/sampling] kmeans: no rows to cluster; pass at least one embedding");
  const k = Math.min(n, config.k ?? chooseK(n));
  const miniBatch = config.miniBatch === "auto" ? n > MINI_BATCH_AUTO_THRESHOLD : config.miniBatch;
  const threads = resolveThreads(config.threads);
  // js: the worker pool splits every assignment on 64-row block boundaries, so its results equal one thread's bit for bit.
  const engine = getVectorEngine({ engine: config.engine, threads: n >= PARALLEL_MIN_ROWS ? threads : 1 });
  return miniBatch ? miniBatchKMeans(data, dim, n, k, config, engine, onProgress) : lloydBest(data, dim, n, k, config, engine, onProgress);
}

function lloydBest(
  data: Float32Array,
  dim: number,
  n: number,
  k: number,
  config: KMeansConfig,
  engine: VectorEngine,
  onProgress?: (p: KMeansProgress) => void,
): KMeansResult {
  let best: KMeansResult | undefined;
  for (let r = 0; r < (config.nInit ?? 1); r++) {
    const rng = createRng((config.seed + r) >>> 0);
    const result = lloyd(data, dim, n, k, kmeansPlusPlus(data, dim, k, rng, undefined, engine), config, engine, onProgress);
    if (!best || result.inertia < best.inertia) best = result;
  }
  return best!;
}

function lloyd(
  data: Float32Array,
  dim: number,
  n: number,
  k: number,
  centroids: Float32Array,
  config: KMeansConfig,
  engine: VectorEngine,
  onProgress?: (p: KMeansProgress) => void,
): KMeansResult {
  const assignments = new Int32Array(n);
  const previous = new Int32Array(n).fill(-1);
  const scores = new Float32Array(n);
  const sizes = new Int32Array(k);
  const sums = new Float64Array(k * dim);
  let prevInertia = Number.POSITIVE_INFINITY;
  let converged = false;
  let iterations = 0;
  let reseeded = false;
  for (;;) {
    engine.assignNearest(data, centroids, dim, { assignments, scores });
    const inertia = inertiaOf(scores, n);
    onProgress?.({ iteration: iterations, inertia });
    let changed = false;
    for (let i = 0; i < n; i++) {
      if (assignments[i] !== previous[i]) {
        changed = true;
        break;
      }
    }
    if (!reseeded && (!changed || Math.abs(prevInertia - inertia) <= config.tol * Math.max(inertia, Number.MIN_VALUE))) {
      converged = true;
      break;
    }
    if (iterations >= config.maxIter) break;
    previous.set(assignments);
    prevInertia = inertia;
    reseeded = reseedEmpty(data, dim, n, k, assignments, scores, centroids, sizes);
    updateCentroids(data, dim, n, k, assignments, centroids, sums);
    iterations++;
  }
  return { k, centroids, assignments, inertia: inertiaOf(scores, n), sizes: countSizes(assignments, sizes), iterations, converged, mode: "full-batch", engine: engine.name };
}

/**
 * Moves the rows farthest from their centroid (lowest cosine) into empty clusters, taking them only from clusters that
 * keep at least one row. Returns whether any cluster was empty.
 */
export function reseedEmpty(
  data: Float32Array,
  dim: number,
  n: number,
  k: number,
  assignments: Int32Array,
  scores: Float32Array,
  centroids: Float32Array,
  sizes: Int32Array,
): boolean {
  countSizes(assignments, sizes);
  const empty: number[] = [];
  for (let c = 0; c < k; c++) if (sizes[c] === 0) empty.push(c);
  if (empty.length === 0) return false;
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => scores[x]! - scores[y]! || x - y);
  let p = 0;
  for (const c of empty) {
    while (p < n && sizes[assignments[order[p]!]!]! <= 1) p++;
    if (p >= n) break;
    const row = order[p++]!;
    sizes[assignments[row]!]!--;
    assignments[row] = c;
    sizes[c] = 1;
    scores[row] = 1;
    centroids.set(data.subarray(row * dim, row * dim + dim), c * dim);
  }
  return true;
}

/** Centroid = normalized mean of its rows; clusters without rows keep their centroid. */
function updateCentroids(data: Float32Array, dim: number, n: number, k: number, assignments: Int32Array, centroids: Float32Array, sums: Float64Array): void {
  sums.fill(0);
  const counts = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = assignments[i]!;
    counts[c]!++;
    const o = c * dim;
    const r = i * dim;
    for (let d = 0; d < dim; d++) sums[o + d] = sums[o + d]! + data[r + d]!;
  }
  for (let c = 0; c < k; c++) if (counts[c]! > 0) writeNormalized(sums, c * dim, dim, centroids);
}

/** Writes the normalized `dim` values of `src` at `off` to `centroids` at the same offset; a zero vector is left as is. */
function writeNormalized(src: Float64Array, off: number, dim: number, centroids: Float32Array): void {
  let s = 0;
  for (let d = 0; d < dim; d++) s += src[off + d]! * src[off + d]!;
  if (s === 0) return;
  const inv = 1 / Math.sqrt(s);
  for (let d = 0; d < dim; d++) centroids[off + d] = src[off + d]! * inv;
}

function miniBatchKMeans(
  data: Float32Array,
  dim: number,
  n: number,
  k: number,
  config: KMeansConfig,
  engine: VectorEngine,
  onProgress?: (p: KMeansProgress) => void,
): KMeansResult {
  const rng = createRng(config.seed);
  // Seeding sample of max(3·batchSize, 3·k) distinct rows (sklearn `init_size`).
  const sampleSize = Math.min(n, Math.max(3 * config.batchSize, 3 * k));
  const sample = gatherRows(data, dim, sampleWithoutReplacement(n, sampleSize, rng));
  let centroids: Float32Array | undefined;
  let bestInit = Number.POSITIVE_INFINITY;
  const sampleScores = new Float32Array(sampleSize);
  for (let r = 0; r < (config.nInit ?? 1); r++) {
    const candidate = kmeansPlusPlus(sample, dim, k, r === 0 ? rng : createRng((config.seed + r) >>> 0), undefined, engine);
    const inertia = inertiaOf(engine.assignNearest(sample, candidate, dim, { scores: sampleScores }).scores, sampleSize);
    if (inertia < bestInit) {
      bestInit = inertia;
      centroids = candidate;
    }
  }
  const cents = centroids!;
  const shiftTol = config.tol * meanFeatureVariance(sample, dim);

  // Running means of the rows seen by each center (learning rate 1/count, Sculley 2010); centroids are their directions.
  const centers = { centroids: cents, means: Float64Array.from(cents), counts: new Float64Array(k) };
  const batchSize = Math.min(config.batchSize, n);
  const batchRows = new Int32Array(batchSize);
  const batch = { assignments: new Int32Array(batchSize), scores: new Float32Array(batchSize) };
  const maxSteps = Math.ceil((config.maxIter * n) / batchSize);
  const alpha = Math.min(1, (2 * batchSize) / (n + 1));
  let ewa = 0;
  let bestEwa = Number.POSITIVE_INFINITY;
  let noImprovement = 0;
  let converged = false;
  let steps = 0;
  while (steps < maxSteps) {
    for (let b = 0; b < batchSize; b++) batchRows[b] = rng.nextInt(n);
    // Assignment, per-center sums and the centers' move in one engine call (the sums on onnxruntime too).
    const { shift } = engine.miniBatchStep(data, batchRows, centers, dim, batch);
    const batchInertia = inertiaOf(batch.scores, batchSize) / batchSize;
    steps++;
    ewa = steps === 1 ? batchInertia : ewa * (1 - alpha) + batchInertia * alpha;
    onProgress?.({ iteration: steps, inertia: ewa });
    // sklearn `_mini_batch_convergence`: the first step only initializes the EWA.
    if (steps === 1) continue;
    if (shiftTol > 0 && shift <= shiftTol) {
      converged = true;
      break;
    }
    // Unlike sklearn (any decrease counts), an improvement must exceed `tol` relative, so a slow creep of the EWA on
    // large n does not keep the run going for all `maxIter` epochs.
    if (ewa < bestEwa * (1 - config.tol)) {
      bestEwa = ewa;
      noImprovement = 0;
    } else if (++noImprovement >= config.maxNoImprovement) {
      converged = true;
      break;
    }
  }
  const { assignments, scores } = engine.assignNearest(data, cents, dim);
  return {
    k,
    centroids: cents,
    assignments,
    inertia: inertiaOf(scores, n),
    sizes: countSizes(assignments, new Int32Array(k)),
    iterations: steps,
    converged,
    mode: "mini-batch",
    engine: engine.name,
  };
}

function inertiaOf(scores: Float32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += 1 - scores[i]!;
  return Math.max(0, s);
}

function countSizes(assignments: Int32Array, sizes: Int32Array): Int32Array {
  sizes.fill(0);
  for (let i = 0; i < assignments.length; i++) sizes[assignments[i]!]!++;
  return sizes;
}

/** `m` distinct indices in [0, n) by a partial Fisher–Yates shuffle, in draw order. */
function sampleWithoutReplacement(n: number, m: number, rng: Rng): Int32Array {
  if (m >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < m; i++) {
    const j = i + rng.nextInt(n - i);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm.slice(0, m);
}

function gatherRows(data: Float32Array, dim: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) out.set(data.subarray(rows[i]! * dim, rows[i]! * dim + dim), i * dim);
  return out;
}

/** Mean over features of the per-feature variance (sklearn scales `tol` by this). */
function meanFeatureVariance(rows: Float32Array, dim: number): number {
  const n = rows.length / dim;
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      const x = rows[i * dim + d]!;
      mean[d] = mean[d]! + x;
      sq[d] = sq[d]! + x * x;
    }
  }
  let v = 0;
  for (let d = 0; d < dim; d++) v += sq[d]! / n - (mean[d]! / n) ** 2;
  return v / dim;
}
