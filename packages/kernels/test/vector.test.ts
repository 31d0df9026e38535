import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assignNearest, cosineTopK, createRng, dotRows, l2NormalizeRows, matmulTransposed } from "../src/vector/index.js";

function naiveDot(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[i * dim + d]! * b[j * dim + d]!;
  return s;
}

const matrix = (maxRows: number, dim: number) =>
  fc
    .array(fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }), { minLength: 0, maxLength: maxRows * dim })
    .map((xs) => Float32Array.from(xs.slice(0, xs.length - (xs.length % dim))));

const shapes = fc.integer({ min: 1, max: 19 }).chain((dim) => fc.tuple(fc.constant(dim), matrix(11, dim), matrix(13, dim)));

const close = (x: number, y: number) => Math.abs(x - y) <= 1e-4 * (1 + Math.abs(y));

describe("createRng", () => {
  it("is deterministic per seed and differs across seeds", () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it("gives floats in [0, 1), bounded ints and roughly standard normals", () => {
    const r = createRng(7);
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < 20000; i++) {
      const f = r.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      const n = r.nextInt(10);
      expect(Number.isInteger(n) && n >= 0 && n < 10).toBe(true);
      const g = r.nextGaussian();
      sum += g;
      sq += g * g;
    }
    expect(Math.abs(sum / 20000)).toBeLessThan(0.05);
    expect(Math.abs(sq / 20000 - 1)).toBeLessThan(0.05);
  });

  it("rejects invalid seeds and bounds", () => {
    expect(() => createRng(-1)).toThrow(/\[infialign\/kernels\] rng/);
    expect(() => createRng(1.5)).toThrow(/seed/);
    expect(() => createRng(0).nextInt(0)).toThrow(/nextInt/);
  });
});

describe("vector kernels equal naive loops", () => {
  it("matmulTransposed", () => {
    fc.assert(
      fc.property(shapes, ([dim, a, b]) => {
        const na = a.length / dim;
        const nb = b.length / dim;
        const out = matmulTransposed(a, b, dim);
        expect(out.length).toBe(na * nb);
        for (let i = 0; i < na; i++) for (let j = 0; j < nb; j++) expect(close(out[i * nb + j]!, naiveDot(a, i, b, j, dim))).toBe(true);
      }),
    );
  });

  it("matmulTransposed over several cache tiles", () => {
    const r = createRng(3);
    const dim = 7;
    const a = Float32Array.from({ length: 9 * dim }, () => r.nextGaussian());
    const b = Float32Array.from({ length: 150 * dim }, () => r.nextGaussian());
    const out = matmulTransposed(a, b, dim);
    for (let i = 0; i < 9; i++) for (let j = 0; j < 150; j++) expect(close(out[i * 150 + j]!, naiveDot(a, i, b, j, dim))).toBe(true);
  });

  it("dotRows", () => {
    fc.assert(
      fc.property(shapes, ([dim, a]) => {
        const b = a.map((x) => x * 0.5 - 1);
        const out = dotRows(a, b, dim);
        for (let i = 0; i < a.length / dim; i++) expect(close(out[i]!, naiveDot(a, i, b, i, dim))).toBe(true);
      }),
    );
  });

  it("l2NormalizeRows gives unit rows and keeps zero rows", () => {
    fc.assert(
      fc.property(shapes, ([dim, a]) => {
        const orig = a.slice();
        const out = l2NormalizeRows(a, dim);
        expect(out).toBe(a);
        for (let i = 0; i < a.length / dim; i++) {
          const norm0 = Math.sqrt(naiveDot(orig, i, orig, i, dim));
          const norm = Math.sqrt(naiveDot(a, i, a, i, dim));
          if (norm0 === 0) expect(norm).toBe(0);
          else if (norm0 > 1e-18) expect(Math.abs(norm - 1)).toBeLessThan(1e-5);
        }
      }),
    );
  });

  it("assignNearest picks the naive argmax with ties to the lowest index", () => {
    fc.assert(
      fc.property(shapes, ([dim, rows, cents]) => {
        fc.pre(cents.length > 0);
        const k = cents.length / dim;
        const { assignments, scores } = assignNearest(rows, cents, dim);
        for (let i = 0; i < rows.length / dim; i++) {
          let best = 0;
          let bestS = naiveDot(rows, i, cents, 0, dim);
          for (let j = 1; j < k; j++) {
            const s = naiveDot(rows, i, cents, j, dim);
            if (s > bestS) {
              bestS = s;
              best = j;
            }
          }
          expect(close(scores[i]!, bestS)).toBe(true);
          // Near-ties may legitimately flip under float rounding; the chosen centroid must score as high as the best.
          const a = assignments[i]!;
          expect(a === best || (a > best ? close(naiveDot(rows, i, cents, a, dim), bestS) : bestS - naiveDot(rows, i, cents, a, dim) < 1e-4)).toBe(true);
        }
      }),
    );
    const dup = Float32Array.from([1, 0, 0, 1, 1, 0, 0, 1]);
    expect(Array.from(assignNearest(Float32Array.from([1, 0, 0, 1]), dup, 2).assignments)).toEqual([0, 1]);
  });

  it("reuses caller buffers and validates shapes", () => {
    const assignments = new Int32Array(2);
    const scores = new Float32Array(2);
    const res = assignNearest(Float32Array.from([1, 0, 0, 1]), Float32Array.from([0, 1, 1, 0]), 2, { assignments, scores });
    expect(res.assignments).toBe(assignments);
    expect(Array.from(assignments)).toEqual([1, 0]);
    expect(() => matmulTransposed(new Float32Array(5), new Float32Array(4), 2)).toThrow(/not a multiple of dim 2/);
    expect(() => dotRows(new Float32Array(4), new Float32Array(2), 2)).toThrow(/same shape/);
    expect(() => assignNearest(new Float32Array(4), new Float32Array(0), 2)).toThrow(/centroids is empty/);
    expect(() => matmulTransposed(new Float32Array(4), new Float32Array(4), 2, new Float32Array(3))).toThrow(/needs at least 4/);
  });
});

describe("cosineTopK", () => {
  it("matches a full sort (score desc, index asc) with padding when keys < k", () => {
    fc.assert(
      fc.property(shapes, fc.integer({ min: 0, max: 16 }), fc.integer({ min: 1, max: 5 }), ([dim, q, keys], k, blockRows) => {
        const nq = q.length / dim;
        const nk = keys.length / dim;
        const { indices, scores } = cosineTopK(q, keys, dim, k, { blockRows, engine: "js" });
        expect(indices.length).toBe(nq * k);
        const full = matmulTransposed(q, keys, dim);
        for (let i = 0; i < nq; i++) {
          const order = Array.from({ length: nk }, (_, j) => j).sort((x, y) => full[i * nk + y]! - full[i * nk + x]! || x - y);
          for (let t = 0; t < k; t++) {
            if (t < nk) {
              expect(scores[i * k + t]).toBe(full[i * nk + order[t]!]);
              if (t > 0) expect(scores[i * k + t]!).toBeLessThanOrEqual(scores[i * k + t - 1]!);
            } else {
              expect(indices[i * k + t]).toBe(-1);
              expect(scores[i * k + t]).toBe(Number.NEGATIVE_INFINITY);
            }
          }
          expect(Array.from(indices.subarray(i * k, i * k + Math.min(k, nk)))).toEqual(order.slice(0, k));
        }
      }),
    );
  });

  it("breaks ties by lower index and normalizes when asked", () => {
    const keys = Float32Array.from([2, 0, 1, 0, 0, 3, 1, 0]);
    const q = Float32Array.from([5, 0]);
    const { indices, scores } = cosineTopK(q, keys, 2, 3, { normalized: false });
    expect(Array.from(indices)).toEqual([0, 1, 3]);
    expect(Array.from(scores)).toEqual([1, 1, 1]);
    expect(Array.from(keys)).toEqual([2, 0, 1, 0, 0, 3, 1, 0]);
    expect(() => cosineTopK(q, keys, 2, -1)).toThrow(/k must be/);
  });
});
