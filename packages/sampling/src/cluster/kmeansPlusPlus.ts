import { matmulTransposed, type Rng, type VectorEngine } from "@infialign/kernels";

/**
 * Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; greedy variant with `candidates` trials per step as in sklearn,
 * default 2 + ⌊ln k⌋) on unit rows. D² sampling uses the cosine distance 1 − cos, which is half the squared Euclidean
 * distance between unit vectors, so this is exactly k-means++ on the sphere. Returns k×dim centroids (copies of rows).
 * `engine` computes the products (default: this package's js kernels).
 */
export function kmeansPlusPlus(
  data: Float32Array,
  dim: number,
  k: number,
  rng: Rng,
  candidates = 2 + Math.floor(Math.log(k)),
  engine: Pick<VectorEngine, "matmulTransposed"> = { matmulTransposed },
): Float32Array {
  const n = data.length / dim;
  const centroids = new Float32Array(k * dim);
  const closest = new Float64Array(n);
  const cumulative = new Float64Array(n);
  const candRows = new Float32Array(candidates * dim);
  const scores = new Float32Array(candidates * n);
  const first = rng.nextInt(n);
  centroids.set(data.subarray(first * dim, first * dim + dim), 0);
  const s0 = engine.matmulTransposed(centroids.subarray(0, dim), data, dim, scores.subarray(0, n));
  for (let i = 0; i < n; i++) closest[i] = Math.max(0, 1 - s0[i]!);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      total += closest[i]!;
      cumulative[i] = total;
    }
    for (let t = 0; t < candidates; t++) {
      // All rows already coincide with a centroid (duplicates): any row is as good as another.
      const idx = total > 0 ? searchCumulative(cumulative, rng.nextFloat() * total) : rng.nextInt(n);
      candRows.set(data.subarray(idx * dim, idx * dim + dim), t * dim);
    }
    engine.matmulTransposed(candRows, data, dim, scores);
    let best = 0;
    let bestPot = Number.POSITIVE_INFINITY;
    for (let t = 0; t < candidates; t++) {
      let pot = 0;
      const o = t * n;
      for (let i = 0; i < n; i++) pot += Math.min(closest[i]!, Math.max(0, 1 - scores[o + i]!));
      if (pot < bestPot) {
        bestPot = pot;
        best = t;
      }
    }
    const o = best * n;
    for (let i = 0; i < n; i++) closest[i] = Math.min(closest[i]!, Math.max(0, 1 - scores[o + i]!));
    centroids.set(candRows.subarray(best * dim, best * dim + dim), c * dim);
  }
  return centroids;
}

/** First index whose cumulative weight exceeds `x`. */
function searchCumulative(cumulative: Float64Array, x: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
