import { createRng } from "@infialign/kernels";

/** Single-accumulator dot product: the scalar loop a first implementation would use. */
function naiveDot(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[i * dim + d]! * b[j * dim + d]!;
  return s;
}

function naiveAssign(rows: Float32Array, rowIdx: Int32Array, cents: Float32Array, k: number, dim: number, out: Int32Array, scores: Float64Array): void {
  for (let b = 0; b < rowIdx.length; b++) {
    let best = 0;
    let bestS = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) {
      const s = naiveDot(rows, rowIdx[b]!, cents, j, dim);
      if (s > bestS) {
        bestS = s;
        best = j;
      }
    }
    out[b] = best;
    scores[b] = bestS;
  }
}

/**
 * Baseline for the benchmark: the same mini-batch spherical k-means update (per-center rate 1/count) written with naive
 * scalar loops and no blocking, run for a fixed number of steps, then a full assignment pass. Seeding is a uniform pick of
 * k rows (cheaper than k-means++, so the baseline is, if anything, flattered).
 */
export function naiveMiniBatch(data: Float32Array, dim: number, k: number, steps: number, batchSize: number, seed: number): { stepSeconds: number; finalSeconds: number; inertia: number } {
  const n = data.length / dim;
  const rng = createRng(seed);
  const cents = new Float32Array(k * dim);
  for (let c = 0; c < k; c++) {
    const r = rng.nextInt(n);
    for (let d = 0; d < dim; d++) cents[c * dim + d] = data[r * dim + d]!;
  }
  const means = Float64Array.from(cents);
  const counts = new Float64Array(k);
  const idx = new Int32Array(batchSize);
  const assign = new Int32Array(batchSize);
  const scores = new Float64Array(batchSize);
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    for (let b = 0; b < batchSize; b++) idx[b] = rng.nextInt(n);
    naiveAssign(data, idx, cents, k, dim, assign, scores);
    for (let b = 0; b < batchSize; b++) {
      const c = assign[b]!;
      counts[c]!++;
      const eta = 1 / counts[c]!;
      let norm = 0;
      for (let d = 0; d < dim; d++) {
        const m = means[c * dim + d]! * (1 - eta) + data[idx[b]! * dim + d]! * eta;
        means[c * dim + d] = m;
        norm += m * m;
      }
      const inv = 1 / Math.sqrt(norm);
      for (let d = 0; d < dim; d++) cents[c * dim + d] = means[c * dim + d]! * inv;
    }
  }
  const t1 = performance.now();
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const finalAssign = new Int32Array(n);
  const finalScores = new Float64Array(n);
  naiveAssign(data, all, cents, k, dim, finalAssign, finalScores);
  const t2 = performance.now();
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += 1 - finalScores[i]!;
  return { stepSeconds: (t1 - t0) / 1000 / steps, finalSeconds: (t2 - t1) / 1000, inertia };
}
