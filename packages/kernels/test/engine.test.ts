import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getVectorEngine } from "../src/engine/vectorEngine.js";
import { assignNearest, cosineTopK, createRng, l2NormalizeRows, matmulTransposed } from "../src/vector/index.js";

// onnxruntime-node is a devDependency of this package, so "onnxruntime" must load here; the js engine is the fallback.
const ort = getVectorEngine({ engine: "onnxruntime", threads: 2 });
const js = getVectorEngine({ engine: "js", threads: 1 });

const matrix = (maxRows: number, dim: number) =>
  fc
    .array(fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }), { minLength: 0, maxLength: maxRows * dim })
    .map((xs) => Float32Array.from(xs.slice(0, xs.length - (xs.length % dim))));
const shapes = fc.integer({ min: 1, max: 19 }).chain((dim) => fc.tuple(fc.constant(dim), matrix(11, dim), matrix(13, dim)));
/** The engines sum in different orders: equal up to float32 rounding of a length-`dim` dot product of values ≤ 4. */
const close = (x: number, y: number) => Math.abs(x - y) <= 1e-5 * (1 + Math.abs(y)) * 16;

/** Seeded mixture of tight clusters on the unit sphere: nearest centroids are far from ties. */
function clustered(n: number, dim: number, centers: number, seed: number): { rows: Float32Array; centroids: Float32Array } {
  const rng = createRng(seed);
  const centroids = l2NormalizeRows(Float32Array.from({ length: centers * dim }, () => rng.nextGaussian()), dim);
  const rows = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = rng.nextInt(centers);
    for (let d = 0; d < dim; d++) rows[i * dim + d] = centroids[c * dim + d]! + (0.3 / Math.sqrt(dim)) * rng.nextGaussian();
  }
  return { rows: l2NormalizeRows(rows, dim), centroids };
}

const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

describe("getVectorEngine", () => {
  it("loads onnxruntime when installed, keeps one engine per options, and validates the choice", () => {
    expect(ort.name).toBe("onnxruntime");
    expect(ort.threads).toBe(2);
    expect(getVectorEngine({ engine: "auto", threads: 2 })).toBe(ort);
    expect(js.name).toBe("js");
    expect(() => getVectorEngine({ engine: "gpu" as never })).toThrow(/engine must be "auto", "js" or "onnxruntime"/);
    expect(() => getVectorEngine({ threads: 0 })).toThrow(/threads must be a positive integer/);
  });

  it("js engine is the Float32Array kernels", () => {
    const { rows, centroids } = clustered(300, 24, 7, 1);
    expect(bits(js.matmulTransposed(rows, centroids, 24))).toEqual(bits(matmulTransposed(rows, centroids, 24)));
    expect(Array.from(js.assignNearest(rows, centroids, 24).assignments)).toEqual(Array.from(assignNearest(rows, centroids, 24).assignments));
  });
});

describe("onnxruntime engine ≡ js kernels", () => {
  it("matmulTransposed agrees to rounding, shapes and empty inputs included", () => {
    fc.assert(
      fc.property(shapes, ([dim, a, b]) => {
        const want = matmulTransposed(a, b, dim);
        const got = ort.matmulTransposed(a, b, dim);
        expect(got.length).toBe(want.length);
        for (let i = 0; i < want.length; i++) expect(close(got[i]!, want[i]!)).toBe(true);
      }),
    );
  });

  it("assignNearest gives the same assignments on clustered unit rows (several onnxruntime chunks)", () => {
    const { rows, centroids } = clustered(40_000, 32, 50, 2);
    const want = assignNearest(rows, centroids, 32);
    const got = ort.assignNearest(rows, centroids, 32);
    expect(Array.from(got.assignments)).toEqual(Array.from(want.assignments));
    for (let i = 0; i < want.scores.length; i++) expect(Math.abs(got.scores[i]! - want.scores[i]!)).toBeLessThan(1e-5);
  });

  it("assignNearest picks a maximum (up to rounding) on arbitrary inputs, first maximum on exact ties", () => {
    fc.assert(
      fc.property(shapes, ([dim, rows, cents]) => {
        fc.pre(cents.length > 0);
        const full = matmulTransposed(rows, cents, dim);
        const k = cents.length / dim;
        const got = ort.assignNearest(rows, cents, dim);
        for (let i = 0; i < rows.length / dim; i++) {
          const best = Math.max(...full.subarray(i * k, i * k + k));
          expect(close(full[i * k + got.assignments[i]!]!, best)).toBe(true);
          expect(close(got.scores[i]!, best)).toBe(true);
        }
      }),
    );
    const tie = ort.assignNearest(Float32Array.of(1, 0), Float32Array.of(0, 1, 1, 0, 1, 0), 2);
    expect(Array.from(tie.assignments)).toEqual([1]);
  });

  it("cosineTopK gives the same neighbours on clustered rows, and valid top-k with the same padding on arbitrary inputs", () => {
    const { rows } = clustered(3000, 32, 40, 3);
    const queries = rows.subarray(0, 500 * 32);
    const want = cosineTopK(queries, rows, 32, 5, { engine: "js" });
    const got = cosineTopK(queries, rows, 32, 5, { engine: "onnxruntime", blockRows: 128 });
    // Within a tight cluster the 2nd…5th neighbours can be near-ties; the nearest (the query itself) cannot.
    for (let i = 0; i < 500; i++) expect(got.indices[i * 5]).toBe(want.indices[i * 5]);
    for (let i = 0; i < want.scores.length; i++) expect(Math.abs(got.scores[i]! - want.scores[i]!)).toBeLessThan(1e-5);
    fc.assert(
      fc.property(shapes, fc.integer({ min: 0, max: 16 }), fc.integer({ min: 1, max: 5 }), ([dim, q, keys], k, blockRows) => {
        const nk = keys.length / dim;
        const a = cosineTopK(q, keys, dim, k, { blockRows, engine: "js" });
        const b = ort.cosineTopK(q, keys, dim, k, { blockRows });
        const full = matmulTransposed(q, keys, dim);
        for (let i = 0; i < q.length / dim; i++) {
          const seen = new Set<number>();
          for (let t = 0; t < k; t++) {
            const j = b.indices[i * k + t]!;
            if (t >= nk) {
              expect(j).toBe(-1);
              expect(b.scores[i * k + t]).toBe(Number.NEGATIVE_INFINITY);
              continue;
            }
            expect(seen.has(j)).toBe(false);
            seen.add(j);
            // The t-th pick scores as the t-th best, up to rounding.
            expect(close(full[i * nk + j]!, a.scores[i * k + t]!)).toBe(true);
          }
        }
      }),
    );
  });

  it("is deterministic: repeated calls and 1 vs 2 threads give bit-identical results", () => {
    const { rows, centroids } = clustered(20_000, 64, 100, 4);
    const one = getVectorEngine({ engine: "onnxruntime", threads: 1 });
    const a = ort.assignNearest(rows, centroids, 64);
    const b = ort.assignNearest(rows, centroids, 64);
    const c = one.assignNearest(rows, centroids, 64);
    expect(bits(b.scores)).toEqual(bits(a.scores));
    expect(bits(c.scores)).toEqual(bits(a.scores));
    expect(Array.from(c.assignments)).toEqual(Array.from(a.assignments));
    expect(bits(ort.matmulTransposed(centroids, rows, 64))).toEqual(bits(one.matmulTransposed(centroids, rows, 64)));
  });

  it("writes into caller buffers in place, subarrays and SharedArrayBuffer-backed arrays included", () => {
    const { rows, centroids } = clustered(500, 16, 9, 5);
    const want = assignNearest(rows, centroids, 16);
    const shared = <T extends Float32Array | Int32Array>(x: T): T => {
      const y = new (x.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(x.byteLength));
      y.set(x as Float32Array & Int32Array);
      return y;
    };
    const assignments = shared(new Int32Array(502)).subarray(2);
    const scores = new Float32Array(501);
    const got = ort.assignNearest(shared(rows), shared(centroids), 16, { assignments, scores });
    expect(got.assignments).toBe(assignments);
    expect(Array.from(assignments)).toEqual(Array.from(want.assignments));
    const picked = ort.assignRows(shared(rows), shared(Int32Array.of(3, 0, 499)), centroids, 16);
    expect(Array.from(picked.assignments)).toEqual([want.assignments[3], want.assignments[0], want.assignments[499]]);
    expect(() => ort.assignRows(rows, Int32Array.of(500), centroids, 16)).toThrow(/rows\[0\] = 500 is outside the 500 rows/);
    expect(() => js.assignRows(rows, Int32Array.of(-1), centroids, 16)).toThrow(/outside/);
    expect(Array.from(js.assignRows(rows, Int32Array.of(3, 0, 499), centroids, 16).assignments)).toEqual(Array.from(picked.assignments));
    const out = new Float32Array(9 * 500 + 1);
    ort.matmulTransposed(centroids, rows, 16, out);
    const ref = matmulTransposed(centroids, rows, 16);
    for (let i = 0; i < ref.length; i++) expect(close(out[i]!, ref[i]!)).toBe(true);
    expect(out[ref.length]).toBe(0);
  });

  it("validates shapes like the js kernels", () => {
    expect(() => ort.assignNearest(new Float32Array(4), new Float32Array(0), 2)).toThrow(/centroids is empty/);
    expect(() => ort.matmulTransposed(new Float32Array(3), new Float32Array(4), 2)).toThrow(/not a multiple of dim/);
    expect(() => ort.matmulTransposed(new Float32Array(4), new Float32Array(4), 2, new Float32Array(3))).toThrow(/needs at least 4/);
    expect(() => ort.cosineTopK(new Float32Array(4), new Float32Array(4), 2, -1)).toThrow(/k must be/);
  });
});
