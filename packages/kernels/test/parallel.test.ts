import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { assignNearest } from "../src/vector/assignNearest.js";
import { type AssignPool, createAssignPool, getAssignPool, resolveThreads } from "../src/vector/parallel.js";
import { createRng } from "../src/vector/rng.js";

const random = (len: number, seed: number) => {
  const rng = createRng(seed);
  return Float32Array.from({ length: len }, () => rng.nextFloat() * 2 - 1);
};

/** Exact equality, scores compared by bit pattern (so −0 ≠ 0 and no tolerance). */
function expectIdentical(a: { assignments: Int32Array; scores: Float32Array }, b: { assignments: Int32Array; scores: Float32Array }) {
  expect(Array.from(b.assignments)).toEqual(Array.from(a.assignments));
  expect(Array.from(new Uint32Array(b.scores.buffer, b.scores.byteOffset, b.scores.length))).toEqual(
    Array.from(new Uint32Array(a.scores.buffer, a.scores.byteOffset, a.scores.length)),
  );
}

describe("createAssignPool", () => {
  const pools: AssignPool[] = [];
  const pool = (threads: number) => {
    const p = createAssignPool(threads);
    pools.push(p);
    return p;
  };
  afterAll(() => {
    for (const p of pools) p.close();
  });

  it("matches assignNearest bit for bit on random shapes (odd n, k > n, edge columns)", () => {
    const two = pool(2);
    expect(two.threads).toBe(2);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 700 }), fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 19 }), fc.nat(), (n, k, dim, seed) => {
        const rows = random(n * dim, seed);
        const centroids = random(k * dim, seed + 1);
        expectIdentical(assignNearest(rows, centroids, dim), two.assign(rows, centroids, dim));
      }),
      { seed: 7, numRuns: 60 },
    );
  });

  it("is exact over several chunks and with more than one worker", () => {
    const n = 70_001;
    const dim = 5;
    const rows = random(n * dim, 1);
    const centroids = random(9 * dim, 2);
    const expected = assignNearest(rows, centroids, dim);
    expectIdentical(expected, pool(2).assign(rows, centroids, dim));
    expectIdentical(expected, pool(3).assign(rows, centroids, dim));
  });

  it("fills caller-provided outputs and validates shapes", () => {
    const two = pool(2);
    const rows = random(300 * 4, 3);
    const centroids = random(7 * 4, 4);
    const out = { assignments: new Int32Array(300), scores: new Float32Array(300) };
    const res = two.assign(rows, centroids, 4, out);
    expect(res.assignments).toBe(out.assignments);
    expect(res.scores).toBe(out.scores);
    expectIdentical(assignNearest(rows, centroids, 4), res);
    expect(() => two.assign(rows, new Float32Array(0), 4)).toThrow(/\[infialign\/kernels\] parallel-assign: centroids is empty/);
    expect(() => two.assign(rows, centroids, 7)).toThrow(/not a multiple of dim 7/);
    expect(() => two.assign(rows, centroids, 4, { scores: new Float32Array(2) })).toThrow(/out.scores has length 2/);
  });

  it("runs on the calling thread after close()", () => {
    const p = pool(2);
    p.close();
    expect(p.threads).toBe(1);
    const rows = random(500 * 3, 5);
    const centroids = random(4 * 3, 6);
    expectIdentical(assignNearest(rows, centroids, 3), p.assign(rows, centroids, 3));
  });

  it("resolves thread counts", () => {
    expect(resolveThreads(1)).toBe(1);
    expect(resolveThreads(4)).toBe(4);
    expect(resolveThreads("auto")).toBeGreaterThanOrEqual(1);
    expect(resolveThreads("auto")).toBeLessThanOrEqual(2);
    expect(() => resolveThreads(0)).toThrow(/threads must be a positive integer/);
    expect(() => resolveThreads(1.5)).toThrow(/threads must be a positive integer/);
    expect(getAssignPool(1).threads).toBe(1);
  });

  it("does not keep the process alive (workers are unref'd)", () => {
    const module = fileURLToPath(new URL("../src/vector/parallel.ts", import.meta.url));
    const script = `const { getAssignPool } = await import(${JSON.stringify(module)});
const p = getAssignPool(2);
const r = p.assign(new Float32Array(4000).fill(1), new Float32Array([1, 0, 0, 1]), 2);
console.log(p.threads, r.assignments.length);`;
    // Without unref the child would never exit and execFileSync would hit its timeout.
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 45_000 });
    expect(out.trim()).toBe("2 2000");
  });
});
