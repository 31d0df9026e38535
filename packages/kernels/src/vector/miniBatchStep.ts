// The host-side parts of VectorEngine.miniBatchStep (spherical mini-batch k-means, Sculley 2010): the batch count of
// every center, the per-center sums of the batch rows on the js engine, and the move of the centers, shared by both
// engines so that they differ only in how the sums are added up.
import { checkOut, rowCount } from "./shape.js";

/** Centers of spherical mini-batch k-means, updated in place by `VectorEngine.miniBatchStep`. */
export interface MiniBatchCenters {
  /** k×dim unit centroids, row-major: the rows are assigned to these; each is the direction of its mean. */
  readonly centroids: Float32Array;
  /** k×dim running means (float64) of the rows each center has taken, row-major. Start them at the centroids. */
  readonly means: Float64Array;
  /** Rows each center has taken so far (k values, start at 0): its learning rate is 1/count. */
  readonly counts: Float64Array;
}

/** Result of `VectorEngine.miniBatchStep`. */
export interface MiniBatchStepResult {
  /** Nearest centroid of every batch row, before the move (ties → lowest index). */
  assignments: Int32Array;
  /** Dot product of every batch row with that centroid. */
  scores: Float32Array;
  /** Σ over the centroids of ‖new − old‖² (float64; 0 when no center moved). */
  shift: number;
}

/** Checks the shapes of `centers`; returns k. */
export function centerCount(centers: MiniBatchCenters, dim: number, component: string): number {
  const k = rowCount(centers.centroids, dim, component, "centers.centroids");
  if (k === 0) throw new Error(`[infialign/kernels] ${component}: centers.centroids is empty; pass at least one centroid`);
  if (centers.means.length !== k * dim) {
    throw new Error(`[infialign/kernels] ${component}: centers.means has length ${centers.means.length}, needs ${k * dim} (k×dim, as centers.centroids)`);
  }
  checkOut(centers.counts, k, component, "centers.counts");
  return k;
}

/** counts[c] = number of batch rows assigned to c, for c < k. */
export function countByCluster(assignments: Int32Array, m: number, k: number, counts: Int32Array): void {
  counts.fill(0, 0, k);
  for (let i = 0; i < m; i++) counts[assignments[i]!]!++;
}

/**
 * Per-center sums (float64) of the contiguous batch rows, for the centers with rows (`counts` from
 * {@link countByCluster}; the others' sums are left as they are). Each center adds its rows in batch order, four at a
 * time, so a sum is read and written once per four rows. `order` is scratch of at least m + k + 1 values.
 */
export function sumByCluster(batch: Float32Array, assignments: Int32Array, m: number, k: number, dim: number, counts: Int32Array, order: Int32Array, sums: Float64Array): void {
  // order[0 .. m): batch rows grouped by center; order[m + c]: where center c's group starts.
  const start = m;
  order[start] = 0;
  for (let c = 0; c < k; c++) order[start + c + 1] = order[start + c]! + counts[c]!;
  for (let i = 0; i < m; i++) order[order[start + assignments[i]!]!++] = i;
  // The loop above advanced each group start to the group's end: center c's rows are order[p .. order[start + c]).
  let p = 0;
  for (let c = 0; c < k; c++) {
    const end = order[start + c]!;
    if (p === end) continue;
    const o = c * dim;
    for (let d = 0; d < dim; d++) sums[o + d] = 0;
    for (; p + 3 < end; p += 4) {
      const r0 = order[p]! * dim;
      const r1 = order[p + 1]! * dim;
      const r2 = order[p + 2]! * dim;
      const r3 = order[p + 3]! * dim;
      for (let d = 0; d < dim; d++) sums[o + d] = sums[o + d]! + (batch[r0 + d]! + batch[r1 + d]!) + (batch[r2 + d]! + batch[r3 + d]!);
    }
    for (; p < end; p++) {
      const r = order[p]! * dim;
      for (let d = 0; d < dim; d++) sums[o + d] = sums[o + d]! + batch[r + d]!;
    }
  }
}

/**
 * Sculley's per-center update with learning rate 1/count, batched: for every center with `counts[c]` > 0 batch rows,
 * mean ← (count·mean + batch sum)/(count + batch count) and centroid ← mean/‖mean‖ (a zero mean keeps the centroid).
 * Returns the summed squared centroid shift.
 */
export function moveCenters(counts: Int32Array, sums: Float32Array | Float64Array, centers: MiniBatchCenters, k: number, dim: number): number {
  const { means, centroids, counts: seen } = centers;
  let shift = 0;
  for (let c = 0; c < k; c++) {
    const bc = counts[c]!;
    if (bc === 0) continue;
    const o = c * dim;
    const total = seen[c]! + bc;
    const keep = seen[c]! / total;
    const rate = 1 / total;
    seen[c] = total;
    let s = 0;
    for (let d = o; d < o + dim; d++) {
      const mean = means[d]! * keep + sums[d]! * rate;
      means[d] = mean;
      s += mean * mean;
    }
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let d = o; d < o + dim; d++) {
      const next = means[d]! * inv;
      const diff = next - centroids[d]!;
      shift += diff * diff;
      centroids[d] = next;
    }
  }
  return shift;
}
