import { createRng, l2NormalizeRows } from "@infialign/kernels";

/** Options of {@link vmfMixture}. */
export interface VmfMixtureOptions {
  n: number;
  dim: number;
  clusters: number;
  /** Norm of the Gaussian noise added to a unit mean direction before normalizing; smaller = tighter clusters. */
  spread: number;
  seed: number;
}

/**
 * Seeded mixture of von Mises–Fisher-like clusters on the unit sphere: row = normalize(μ_c + spread · g / √dim) with
 * μ_c a random unit direction and g standard normal; cluster c drawn uniformly. Generated in memory, never stored.
 */
export function vmfMixture(options: VmfMixtureOptions): { data: Float32Array; labels: Int32Array; means: Float32Array } {
  const { n, dim, clusters, spread, seed } = options;
  const rng = createRng(seed);
  const means = new Float32Array(clusters * dim);
  for (let i = 0; i < means.length; i++) means[i] = rng.nextGaussian();
  l2NormalizeRows(means, dim);
  const data = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const scale = spread / Math.sqrt(dim);
  for (let i = 0; i < n; i++) {
    const c = rng.nextInt(clusters);
    labels[i] = c;
    const o = i * dim;
    const m = c * dim;
    for (let d = 0; d < dim; d++) data[o + d] = means[m + d]! + scale * rng.nextGaussian();
  }
  return { data: l2NormalizeRows(data, dim), labels, means };
}
