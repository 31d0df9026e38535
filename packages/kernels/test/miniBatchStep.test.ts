import { describe, expect, it } from "vitest";
import { getVectorEngine } from "../src/engine/vectorEngine.js";
import { createRng, l2NormalizeRows, type MiniBatchCenters } from "../src/vector/index.js";

// onnxruntime-node is a devDependency of this package, so "onnxruntime" must load here.
const engines = {
  js: getVectorEngine({ engine: "js", threads: 1 }),
  js2: getVectorEngine({ engine: "js", threads: 2 }),
  ort: getVectorEngine({ engine: "onnxruntime", threads: 2 }),
  ort1: getVectorEngine({ engine: "onnxruntime", threads: 1 }),
};

/** Seeded unit rows around `centers` directions, and k of those rows as the starting centers. */
function problem(n: number, dim: number, k: number, seed: number): { data: Float32Array; start: Float32Array } {
  const rng = createRng(seed);
  const dirs = l2NormalizeRows(Float32Array.from({ length: k * dim }, () => rng.nextGaussian()), dim);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = i % k;
    for (let d = 0; d < dim; d++) data[i * dim + d] = dirs[c * dim + d]! + (0.5 / Math.sqrt(dim)) * rng.nextGaussian();
  }
  l2NormalizeRows(data, dim);
  return { data, start: data.slice(0, k * dim) };
}

const centersAt = (start: Float32Array, k: number): MiniBatchCenters => ({ centroids: start.slice(), means: Float64Array.from(start), counts: new Float64Array(k) });
const bits32 = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));
const bits64 = (x: Float64Array) => Array.from(new BigUint64Array(x.buffer, x.byteOffset, x.length));

/** `steps` steps on seeded batches (with replacement) of `batch` rows; returns the centers and every step's result. */
function run(engine: keyof typeof engines, data: Float32Array, start: Float32Array, dim: number, k: number, steps: number, batch: number) {
  const n = data.length / dim;
  const rng = createRng(11);
  const centers = centersAt(start, k);
  const results = [];
  for (let s = 0; s < steps; s++) {
    const rows = Int32Array.from({ length: batch }, () => rng.nextInt(n));
    const r = engines[engine].miniBatchStep(data, rows, centers, dim);
    results.push({ rows, assignments: Array.from(r.assignments), shift: r.shift });
  }
  return { centers, results };
}

/** The update written out row by row in float64: Sculley (2010) with learning rate 1/count, then renormalized. */
function reference(data: Float32Array, rows: Int32Array, assignments: readonly number[], centers: MiniBatchCenters, dim: number): number {
  const k = centers.counts.length;
  const sums = new Float64Array(k * dim);
  const counts = new Float64Array(k);
  rows.forEach((row, i) => {
    const c = assignments[i]!;
    counts[c]!++;
    for (let d = 0; d < dim; d++) sums[c * dim + d]! += data[row * dim + d]!;
  });
  let shift = 0;
  for (let c = 0; c < k; c++) {
    if (counts[c] === 0) continue;
    const total = centers.counts[c]! + counts[c]!;
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const m = (centers.means[c * dim + d]! * centers.counts[c]! + sums[c * dim + d]!) / total;
      centers.means[c * dim + d] = m;
      s += m * m;
    }
    centers.counts[c] = total;
    for (let d = 0; d < dim; d++) {
      const next = centers.means[c * dim + d]! / Math.sqrt(s);
      shift += (next - centers.centroids[c * dim + d]!) ** 2;
      centers.centroids[c * dim + d] = next;
    }
  }
  return shift;
}

describe("VectorEngine.miniBatchStep", () => {
  const dim = 24;
  const k = 9;
  const { data, start } = problem(3000, dim, k, 1);

  it.each(["js", "ort"] as const)("matches the float64 row-by-row update (engine %s)", (engine) => {
    const { centers, results } = run(engine, data, start, dim, k, 6, 700);
    const want = centersAt(start, k);
    for (const r of results) {
      // The assignment is the engine's nearest centroid of the centers before the move.
      const expected = engines[engine].assignRows(data, r.rows, want.centroids, dim);
      expect(r.assignments).toEqual(Array.from(expected.assignments));
      const shift = reference(data, r.rows, r.assignments, want, dim);
      expect(Math.abs(r.shift - shift)).toBeLessThanOrEqual(1e-9 + 1e-5 * shift);
    }
    expect(Array.from(centers.counts)).toEqual(Array.from(want.counts));
    expect(centers.counts.reduce((a, b) => a + b, 0)).toBe(6 * 700);
    // js adds in float64 (different grouping only), onnxruntime in float32.
    const tol = engine === "js" ? 1e-12 : 1e-6;
    for (let i = 0; i < k * dim; i++) {
      expect(Math.abs(centers.means[i]! - want.means[i]!)).toBeLessThanOrEqual(tol);
      expect(Math.abs(centers.centroids[i]! - want.centroids[i]!)).toBeLessThanOrEqual(1e-6);
    }
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += centers.centroids[c * dim + d]! ** 2;
      expect(Math.abs(Math.sqrt(s) - 1)).toBeLessThan(1e-6);
    }
  });

  it("is bit-identical run to run and for 1 and 2 threads on each engine (batches over several onnxruntime chunks)", () => {
    for (const [a, b] of [
      ["js", "js2"],
      ["ort", "ort1"],
    ] as const) {
      const x = run(a, data, start, dim, k, 4, 2500);
      const y = run(b, data, start, dim, k, 4, 2500);
      const z = run(a, data, start, dim, k, 4, 2500);
      for (const other of [y, z]) {
        expect(bits32(other.centers.centroids)).toEqual(bits32(x.centers.centroids));
        expect(bits64(other.centers.means)).toEqual(bits64(x.centers.means));
        expect(other.results).toEqual(x.results);
      }
    }
  });

  it("moves only the centers that got rows, and nothing for an empty batch", () => {
    const centers = centersAt(start, k);
    // Rows 0 and 9 belong to direction 0, row 1 to direction 1: centers 0 and 1 take them (they start at those rows).
    const r = engines.ort.miniBatchStep(data, Int32Array.of(0, 9, 1), centers, dim);
    expect(Array.from(r.assignments)).toEqual([0, 0, 1]);
    expect(Array.from(centers.counts)).toEqual([2, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(bits32(centers.centroids.subarray(2 * dim))).toEqual(bits32(start.subarray(2 * dim)));
    expect(bits32(centers.centroids.subarray(dim, 2 * dim))).toEqual(bits32(start.subarray(dim, 2 * dim)));
    for (const name of ["js", "ort"] as const) {
      const before = centersAt(start, k);
      const empty = engines[name].miniBatchStep(data, new Int32Array(0), before, dim);
      expect(empty.shift).toBe(0);
      expect(bits32(before.centroids)).toEqual(bits32(start));
    }
  });

  it("validates its arguments with the fix", () => {
    for (const engine of [engines.js, engines.ort]) {
      expect(() => engine.miniBatchStep(data, Int32Array.of(3000), centersAt(start, k), dim)).toThrow(/mini-batch-step: rows\[0\] = 3000 is outside the 3000 rows/);
      expect(() => engine.miniBatchStep(data, Int32Array.of(0), { ...centersAt(start, k), means: new Float64Array(3) }, dim)).toThrow(/centers.means has length 3, needs 216/);
      expect(() => engine.miniBatchStep(data, Int32Array.of(0), { ...centersAt(start, k), counts: new Float64Array(2) }, dim)).toThrow(/centers.counts has length 2, needs at least 9/);
      expect(() => engine.miniBatchStep(data, Int32Array.of(0), centersAt(new Float32Array(0), 0), dim)).toThrow(/centers.centroids is empty/);
    }
  });
});
