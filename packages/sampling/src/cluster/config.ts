import type { VectorEngineChoice } from "@infialign/kernels";
import { z } from "zod";

/** Configuration of {@link sphericalKMeans}. */
export interface KMeansConfig {
  /**
   * Number of clusters. When absent, `chooseK(n)`. Clamped to the number of rows.
   * @default chooseK(n)
   */
  k?: number;
  /**
   * Seed of the PRNG (seeding, sampling of mini-batches); the same seed gives the same clustering on every run.
   * @default 0
   */
  seed: number;
  /**
   * Full batch: maximum Lloyd iterations. Mini-batch: maximum epochs, i.e. at most `ceil(maxIter · n / batchSize)` steps
   * (sklearn `MiniBatchKMeans.max_iter`).
   * @default 100
   */
  maxIter: number;
  /**
   * Full batch: converged when the relative change of the inertia between iterations is ≤ tol (or no assignment changes).
   * Mini-batch: converged when the summed squared centroid shift of one step is ≤ tol × the mean per-feature variance of
   * the seeding sample (sklearn's rule), and the smoothed inertia must improve by more than tol (relative) to reset
   * `maxNoImprovement`.
   * @default 1e-4
   */
  tol: number;
  /**
   * Mini-batch k-means (Sculley 2010) instead of full-batch Lloyd; "auto" picks mini-batch when n > 50,000.
   * @default "auto"
   */
  miniBatch: boolean | "auto";
  /**
   * Rows per mini-batch step, drawn with replacement (sklearn default since 1.4).
   * @default 4096
   */
  batchSize: number;
  /**
   * Mini-batch early stop: steps in a row in which the smoothed (EWA, weight 2·batchSize/(n+1)) mean batch inertia does
   * not fall below (1 − tol) × its best value so far (sklearn `max_no_improvement`, with a relative `tol` margin).
   * @default 10
   */
  maxNoImprovement: number;
  /**
   * Independent seedings (seeds `seed`, `seed + 1`, …). Full batch keeps the run with the lowest inertia; mini-batch keeps
   * the seeding with the lowest inertia on the seeding sample (as sklearn), then runs once.
   * @default 1
   */
  nInit?: number;
  /**
   * Threads of the products, used only when n ≥ {@link PARALLEL_MIN_ROWS}: onnxruntime's intra-op threads, or (js
   * engine) the calling thread plus `threads − 1` worker threads for the assignment passes. Results are bit-identical
   * for any value. "auto" = min(2, os.availableParallelism()); 1 = one thread.
   * @default "auto"
   */
  threads: number | "auto";
  /**
   * Engine of the products (seeding, assignments): "onnxruntime" (onnxruntime-node's GEMM, an optional peer; throws
   * "install onnxruntime-node …" when it is missing), "js" (this package's Float32Array kernels), or "auto" —
   * onnxruntime when it is installed, else js. A seed gives bit-identical results run to run on either engine; the two
   * engines round differently, so a near-tie can make their clusterings differ (see `KMeansResult.engine`).
   * @default "auto"
   */
  engine: VectorEngineChoice;
}

export const DEFAULT_KMEANS_CONFIG: Readonly<KMeansConfig> = Object.freeze({
  seed: 0,
  maxIter: 100,
  tol: 1e-4,
  miniBatch: "auto",
  batchSize: 4096,
  maxNoImprovement: 10,
  nInit: 1,
  threads: "auto",
  engine: "auto",
});

/** Above this many rows `miniBatch: "auto"` uses mini-batch k-means. */
export const MINI_BATCH_AUTO_THRESHOLD = 50_000;

/**
 * From this many rows `threads` > 1 uses worker threads. Below it a whole run takes well under a second, so the ~30 ms
 * worker start and the per-step round trips would eat most of the gain.
 */
export const PARALLEL_MIN_ROWS = 50_000;

const ConfigSchema = z.object({
  k: z.number().int().min(1).optional(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1),
  maxIter: z.number().int().min(1),
  tol: z.number().min(0).finite(),
  miniBatch: z.union([z.boolean(), z.literal("auto")]),
  batchSize: z.number().int().min(1),
  maxNoImprovement: z.number().int().min(1),
  nInit: z.number().int().min(1).max(1000),
  threads: z.union([z.number().int().min(1).max(256), z.literal("auto")]),
  engine: z.enum(["auto", "js", "onnxruntime"]),
});

/** Merges options over the defaults and validates every field at once. */
export function resolveKMeansConfig(partial: Partial<KMeansConfig> = {}): KMeansConfig {
  const merged = { ...DEFAULT_KMEANS_CONFIG, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) };
  const parsed = ConfigSchema.strict().safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`[infialign/sampling] kmeans: invalid config (${issues})`);
  }
  return parsed.data;
}

/** Options of {@link chooseK}. */
export interface ChooseKOptions {
  /** @default 2 */
  min?: number;
  /** @default 1024 */
  max?: number;
}

/**
 * Rule-of-thumb number of clusters k ≈ √(n/2) (Mardia, Kent & Bibby, Multivariate Analysis, 1979, p. 365), rounded and
 * clamped to [min, max] and to n. 10,000 rows → 71; 1,000,000 → 707.
 */
export function chooseK(n: number, options: ChooseKOptions = {}): number {
  const min = options.min ?? 2;
  const max = options.max ?? 1024;
  if (!Number.isInteger(n) || n < 0) throw new Error(`[infialign/sampling] choose-k: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min) {
    throw new Error(`[infialign/sampling] choose-k: need integers 1 ≤ min ≤ max, got min ${min}, max ${max}`);
  }
  if (n === 0) return 0;
  return Math.min(n, Math.max(min, Math.min(max, Math.round(Math.sqrt(n / 2)))));
}
