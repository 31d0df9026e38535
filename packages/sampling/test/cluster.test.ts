import { describe, expect, it } from "vitest";
import { vmfMixture } from "../bench/vmfMixture.js";
import { chooseK, DEFAULT_KMEANS_CONFIG, PARALLEL_MIN_ROWS, resolveKMeansConfig, sphericalKMeans } from "../src/cluster/index.js";
import { reseedEmpty } from "../src/cluster/sphericalKMeans.js";

/** Fraction of rows whose cluster's majority true label equals their own label. */
function purity(assignments: Int32Array, labels: Int32Array, k: number, classes: number): number {
  const table = new Int32Array(k * classes);
  for (let i = 0; i < assignments.length; i++) table[assignments[i]! * classes + labels[i]!]!++;
  let hit = 0;
  for (let c = 0; c < k; c++) hit += Math.max(0, ...table.subarray(c * classes, c * classes + classes));
  return hit / assignments.length;
}

/** Adjusted Rand index (Hubert & Arabie 1985). */
function adjustedRand(a: Int32Array, b: Int32Array): number {
  const ka = Math.max(...a) + 1;
  const kb = Math.max(...b) + 1;
  const table = new Float64Array(ka * kb);
  const ra = new Float64Array(ka);
  const rb = new Float64Array(kb);
  for (let i = 0; i < a.length; i++) {
    table[a[i]! * kb + b[i]!]!++;
    ra[a[i]!]!++;
    rb[b[i]!]!++;
  }
  const c2 = (x: number) => (x * (x - 1)) / 2;
  let sumT = 0;
  for (const x of table) sumT += c2(x);
  let sumA = 0;
  for (const x of ra) sumA += c2(x);
  let sumB = 0;
  for (const x of rb) sumB += c2(x);
  const expected = (sumA * sumB) / c2(a.length);
  return (sumT - expected) / ((sumA + sumB) / 2 - expected);
}

function unitNorms(centroids: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let c = 0; c < centroids.length / dim; c++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += centroids[c * dim + d]! ** 2;
    out.push(Math.sqrt(s));
  }
  return out;
}

describe("chooseK", () => {
  it("follows round(sqrt(n/2)) clamped to [2, 1024] and n", () => {
    expect(chooseK(0)).toBe(0);
    expect(chooseK(1)).toBe(1);
    expect(chooseK(5)).toBe(2);
    expect(chooseK(200)).toBe(10);
    expect(chooseK(10_000)).toBe(71);
    expect(chooseK(1_000_000)).toBe(707);
    expect(chooseK(10_000_000)).toBe(1024);
    expect(chooseK(10_000, { max: 50 })).toBe(50);
    expect(chooseK(10, { min: 8 })).toBe(8);
    expect(() => chooseK(-1)).toThrow(/\[infialign\/sampling\] choose-k/);
    expect(() => chooseK(10, { min: 5, max: 2 })).toThrow(/min ≤ max/);
  });
});

describe("resolveKMeansConfig", () => {
  it("fills defaults without mutating the input", () => {
    const input = { k: 5 };
    expect(resolveKMeansConfig(input)).toEqual({ ...DEFAULT_KMEANS_CONFIG, k: 5 });
    expect(input).toEqual({ k: 5 });
  });

  it("reports every invalid field at once", () => {
    const err = (() => {
      try {
        resolveKMeansConfig({ k: 0, batchSize: 1.5, miniBatch: "yes" as never, tol: -1 });
      } catch (e) {
        return String(e);
      }
      return "";
    })();
    expect(err).toMatch(/\[infialign\/sampling\] kmeans: invalid config/);
    for (const field of ["k", "batchSize", "miniBatch", "tol"]) expect(err).toContain(`${field}:`);
    expect(() => resolveKMeansConfig({ unknown: 1 } as never)).toThrow(/unknown|Unrecognized/i);
  });
});

describe("sphericalKMeans", () => {
  const dim = 13;
  const planted = vmfMixture({ n: 3000, dim, clusters: 6, spread: 0.5, seed: 11 });

  it("recovers planted well-separated clusters (full batch)", () => {
    const res = sphericalKMeans(planted.data, dim, { k: 6, seed: 1, miniBatch: false });
    expect(res.mode).toBe("full-batch");
    expect(res.converged).toBe(true);
    expect(res.iterations).toBeLessThan(100);
    expect(adjustedRand(res.assignments, planted.labels)).toBeGreaterThanOrEqual(0.95);
    expect(purity(res.assignments, planted.labels, 6, 6)).toBeGreaterThanOrEqual(0.95);
    expect(res.sizes.reduce((a, b) => a + b, 0)).toBe(3000);
    for (const norm of unitNorms(res.centroids, dim)) expect(Math.abs(norm - 1)).toBeLessThan(1e-5);
    let inertia = 0;
    for (let i = 0; i < 3000; i++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += planted.data[i * dim + d]! * res.centroids[res.assignments[i]! * dim + d]!;
      inertia += 1 - dot;
    }
    expect(res.inertia).toBeCloseTo(inertia, 2);
  });

  it("is deterministic for a seed and differs across seeds on ambiguous data", () => {
    const blob = vmfMixture({ n: 1500, dim, clusters: 2, spread: 3, seed: 5 });
    const a = sphericalKMeans(blob.data, dim, { k: 9, seed: 3 });
    const b = sphericalKMeans(blob.data, dim, { k: 9, seed: 3 });
    const c = sphericalKMeans(blob.data, dim, { k: 9, seed: 4 });
    expect(b.assignments).toEqual(a.assignments);
    expect(b.centroids).toEqual(a.centroids);
    expect(b.inertia).toBe(a.inertia);
    expect(c.centroids).not.toEqual(a.centroids);
    const ma = sphericalKMeans(blob.data, dim, { k: 9, seed: 3, miniBatch: true, batchSize: 256 });
    const mb = sphericalKMeans(blob.data, dim, { k: 9, seed: 3, miniBatch: true, batchSize: 256 });
    expect(mb.centroids).toEqual(ma.centroids);
  });

  it("reports non-convergence when maxIter stops it", () => {
    const blob = vmfMixture({ n: 2000, dim, clusters: 3, spread: 4, seed: 8 });
    const res = sphericalKMeans(blob.data, dim, { k: 20, seed: 0, maxIter: 1, tol: 0 });
    expect(res.converged).toBe(false);
    expect(res.iterations).toBe(1);
    const longer = sphericalKMeans(blob.data, dim, { k: 20, seed: 0, maxIter: 300 });
    expect(longer.converged).toBe(true);
    expect(longer.inertia).toBeLessThanOrEqual(res.inertia);
    const progress: number[] = [];
    sphericalKMeans(blob.data, dim, { k: 20, seed: 0, maxIter: 300, onProgress: (p) => progress.push(p.inertia) });
    expect(progress.length).toBe(longer.iterations + 1);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeLessThanOrEqual(progress[i - 1]! + 1e-6);
  });

  it("never leaves a cluster empty when there are enough distinct rows", () => {
    // 4 far-apart points repeated plus one outlier: k = 5 forces seeding onto duplicates and reseeding from the farthest row.
    const base = [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [-1, 0, 0],
    ];
    const rows: number[] = [];
    for (let r = 0; r < 40; r++) rows.push(...base[r % 4]!);
    rows.push(0.6, 0.8, 0);
    const res = sphericalKMeans(Float32Array.from(rows), 3, { k: 5, seed: 2, miniBatch: false });
    expect(Array.from(res.sizes).every((s) => s > 0)).toBe(true);
    const dup = sphericalKMeans(Float32Array.from([1, 0, 1, 0, 1, 0]), 2, { k: 2, seed: 0 });
    expect(dup.k).toBe(2);
    expect(dup.sizes.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it("re-seeds empty clusters from the farthest rows of clusters that keep a row", () => {
    // Rows 0..3 in cluster 0, row 4 alone in cluster 1, cluster 2 empty; row 2 is the farthest movable row.
    const data = Float32Array.from([1, 0, 0.9, 0.1, 0.2, 0.9, 0.8, 0.2, 0, 1]);
    const assignments = Int32Array.from([0, 0, 0, 0, 1]);
    const scores = Float32Array.from([0.99, 0.9, 0.3, 0.95, 0.1]);
    const centroids = new Float32Array(6);
    const sizes = new Int32Array(3);
    expect(reseedEmpty(data, 2, 5, 3, assignments, scores, centroids, sizes)).toBe(true);
    expect(Array.from(assignments)).toEqual([0, 0, 2, 0, 1]);
    expect(Array.from(sizes)).toEqual([3, 1, 1]);
    expect(Array.from(centroids.subarray(4, 6))).toEqual([Math.fround(0.2), Math.fround(0.9)]);
    expect(reseedEmpty(data, 2, 5, 3, assignments, scores, centroids, sizes)).toBe(false);
  });

  it("clamps k to n and chooses k when absent", () => {
    const tiny = sphericalKMeans(Float32Array.from([1, 0, 0, 1]), 2, { k: 5 });
    expect(tiny.k).toBe(2);
    expect(Array.from(tiny.sizes)).toEqual([1, 1]);
    expect(tiny.inertia).toBeCloseTo(0, 6);
    expect(sphericalKMeans(planted.data, dim, { seed: 0 }).k).toBe(chooseK(3000));
  });

  it("mini-batch reaches an inertia within a few % of full batch", () => {
    const mix = vmfMixture({ n: 20_000, dim: 16, clusters: 12, spread: 1, seed: 21 });
    const full = sphericalKMeans(mix.data, 16, { k: 12, seed: 0, miniBatch: false });
    const mini = sphericalKMeans(mix.data, 16, { k: 12, seed: 0, miniBatch: true });
    expect(mini.mode).toBe("mini-batch");
    expect(mini.converged).toBe(true);
    expect(mini.sizes.reduce((a, b) => a + b, 0)).toBe(20_000);
    expect(mini.inertia / full.inertia).toBeLessThan(1.03);
    // Overlapping clusters (spread 1): both runs find the same partition up to small boundary differences.
    expect(adjustedRand(mini.assignments, full.assignments)).toBeGreaterThanOrEqual(0.9);
    for (const norm of unitNorms(mini.centroids, 16)) expect(Math.abs(norm - 1)).toBeLessThan(1e-5);
  });

  it.each(["js", "onnxruntime"] as const)("gives bit-identical results with 1 and 2 threads (mini-batch and full batch, engine %s)", (engine) => {
    const n = PARALLEL_MIN_ROWS + 1001;
    const mix = vmfMixture({ n, dim: 8, clusters: 10, spread: 1, seed: 5 });
    const same = (a: ReturnType<typeof sphericalKMeans>, b: ReturnType<typeof sphericalKMeans>) => {
      expect(b.iterations).toBe(a.iterations);
      expect(b.inertia).toBe(a.inertia);
      expect(Array.from(b.centroids)).toEqual(Array.from(a.centroids));
      expect(Array.from(b.assignments)).toEqual(Array.from(a.assignments));
    };
    const mini = { k: 10, seed: 3, miniBatch: true, batchSize: 1000, engine } as const;
    same(sphericalKMeans(mix.data, 8, { ...mini, threads: 1 }), sphericalKMeans(mix.data, 8, { ...mini, threads: 2 }));
    const full = { k: 6, seed: 1, miniBatch: false, maxIter: 3, engine } as const;
    same(sphericalKMeans(mix.data, 8, { ...full, threads: 1 }), sphericalKMeans(mix.data, 8, { ...full, threads: 2 }));
    expect(() => resolveKMeansConfig({ threads: 0 })).toThrow(/threads/);
  });

  it("onnxruntime and js engines give the same clustering; a seed gives bit-identical centroids run to run on onnxruntime", () => {
    // Well-separated clusters: the engines' rounding differences (≤ 1e-6 on a score) never flip a nearest centroid.
    const n = PARALLEL_MIN_ROWS + 10_000;
    const mix = vmfMixture({ n, dim: 32, clusters: 24, spread: 0.5, seed: 8 });
    for (const options of [
      { k: 24, seed: 4, miniBatch: true, batchSize: 2048 },
      { k: 24, seed: 4, miniBatch: false, maxIter: 20 },
    ]) {
      const fast = sphericalKMeans(mix.data, 32, { ...options, engine: "onnxruntime" });
      const again = sphericalKMeans(mix.data, 32, { ...options, engine: "onnxruntime" });
      const slow = sphericalKMeans(mix.data, 32, { ...options, engine: "js" });
      expect([fast.engine, slow.engine]).toEqual(["onnxruntime", "js"]);
      expect(Array.from(new Uint32Array(again.centroids.buffer))).toEqual(Array.from(new Uint32Array(fast.centroids.buffer)));
      expect(again.inertia).toBe(fast.inertia);
      expect(Array.from(fast.assignments)).toEqual(Array.from(slow.assignments));
      expect(fast.iterations).toBe(slow.iterations);
      for (let i = 0; i < fast.centroids.length; i++) expect(Math.abs(fast.centroids[i]! - slow.centroids[i]!)).toBeLessThan(1e-5);
      expect(Math.abs(fast.inertia - slow.inertia) / slow.inertia).toBeLessThan(1e-5);
    }
    // The default ("auto") takes onnxruntime where it is installed, as in this workspace.
    expect(sphericalKMeans(mix.data.subarray(0, 1000 * 32), 32, { k: 4 }).engine).toBe("onnxruntime");
    expect(() => resolveKMeansConfig({ engine: "gpu" as never })).toThrow(/engine/);
  });

  it("rejects bad shapes with a fix", () => {
    expect(() => sphericalKMeans(new Float32Array(5), 2)).toThrow(/not a multiple of dim 2/);
    expect(() => sphericalKMeans(new Float32Array(0), 2)).toThrow(/no rows/);
  });
});
