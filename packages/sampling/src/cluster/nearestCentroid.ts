/**
 * The centroid (row of the k×dim `centroids`) with the largest dot product with `row` (the nearest by cosine for unit
 * vectors), ties → lowest index, and that dot product.
 *
 * Row by row on purpose: each product is a sequential float64 sum over the dimensions rounded to float32, so a row
 * gets the same cluster whatever batch it comes in (a blocked GEMM rounds a row differently by its place in a block).
 * That is what lets a sharded run assign clusters shard by shard and still match the whole-pool run. The rounding
 * equals the js engine's 4×2 micro-kernel, so a fit's own `assignments` agree except at float32 near-ties.
 */
export function nearestCentroid(row: Float32Array, rowOffset: number, centroids: Float32Array, dim: number): { cluster: number; score: number } {
  const k = centroids.length / dim;
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < k; c++) {
    const o = c * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) s += row[rowOffset + d]! * centroids[o + d]!;
    const score = Math.fround(s);
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return { cluster: best, score: bestScore };
}
