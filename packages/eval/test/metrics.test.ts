import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { majorityCorrect } from "../src/metrics/majority.js";
import { mean, passAtK, standardError } from "../src/metrics/passAtK.js";
import { averageOf, summarize } from "../src/metrics/summarize.js";
import type { BenchmarkResult, EvalItem, SampleRecord } from "../src/types.js";

function binom(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}

describe("passAtK", () => {
  it("matches hand-computed values", () => {
    expect(passAtK(4, 2, 2)).toBeCloseTo(5 / 6, 12); // 1 − C(2,2)/C(4,2) = 1 − 1/6
    expect(passAtK(10, 3, 5)).toBeCloseTo(11 / 12, 12); // 1 − C(7,5)/C(10,5) = 1 − 21/252
    expect(passAtK(5, 1, 1)).toBeCloseTo(0.2, 12);
    expect(passAtK(4, 0, 3)).toBe(0);
    expect(passAtK(4, 3, 2)).toBe(1); // n − c < k: every k-subset holds a correct sample
  });

  it("equals the exact binomial form (property) and pass@1 = c/n", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.nat(), fc.nat(), (n, cRaw, kRaw) => {
        const c = cRaw % (n + 1);
        const k = (kRaw % n) + 1;
        const exact = 1 - Number((binom(n - c, k) * 10n ** 15n) / binom(n, k)) / 1e15;
        expect(passAtK(n, c, k)).toBeCloseTo(exact, 12);
        expect(passAtK(n, c, 1)).toBeCloseTo(c / n, 12);
      }),
    );
  });

  it("stays finite where the binomials overflow a double", () => {
    const v = passAtK(2000, 3, 1000);
    expect(v).toBeCloseTo(1 - (1000 * 999 * 998) / (2000 * 1999 * 1998), 12);
  });

  it("rejects impossible counts", () => {
    expect(() => passAtK(4, 5, 1)).toThrow(/0 ≤ c ≤ n and 1 ≤ k ≤ n, got n=4, c=5, k=1/);
    expect(() => passAtK(4, 1, 5)).toThrow(RangeError);
  });
});

describe("standardError and majority", () => {
  it("standard error uses the sample std over problems", () => {
    expect(standardError([0.5, 0.25, 0.75])).toBeCloseTo(0.25 / Math.sqrt(3), 12);
    expect(standardError([1])).toBe(0);
    expect(Number.isNaN(mean([]))).toBe(true);
  });

  it("majority: most votes win, ties go to the first seen, no-answers abstain", () => {
    expect(majorityCorrect([{ key: "a", correct: false }, { key: "b", correct: true }, { key: "b", correct: true }])).toBe(true);
    expect(majorityCorrect([{ key: "a", correct: false }, { key: "b", correct: true }])).toBe(false);
    expect(majorityCorrect([{ key: "b", correct: true }, { key: "a", correct: false }])).toBe(true);
    expect(majorityCorrect([{ key: undefined, correct: false }, { key: undefined, correct: false }, { key: "x", correct: true }])).toBe(true);
    expect(majorityCorrect([{ key: undefined, correct: false }])).toBe(false);
  });
});

describe("summarize", () => {
  const item = (id: string, difficulty: number | undefined): EvalItem => ({
    benchmark: "b",
    id,
    messages: [],
    kind: "math",
    gold: "",
    meta: difficulty === undefined ? {} : { difficulty },
  });
  const s = (itemId: string, sampleIndex: number, extracted: string | undefined, correct: boolean, benchmark = "b"): SampleRecord => ({
    benchmark,
    itemId,
    sampleIndex,
    completion: "",
    finishReason: "stop",
    grade: { correct, ...(extracted !== undefined && { extracted }), reason: extracted === undefined ? "no_answer" : correct ? "equal_exact" : "unequal" },
  });
  const items = [item("A", 1), item("B", 1), item("C", 2), item("D", 2)];
  const samples = [
    // Out of order on purpose; summarize sorts by sampleIndex.
    s("A", 3, "2", false),
    s("A", 0, "2", false),
    s("A", 1, "1", true),
    s("A", 2, "1", true),
    s("B", 0, "5", true),
    s("B", 1, undefined, false),
    s("B", 2, "3", false),
    s("B", 3, "3", false),
    // \frac12, \dfrac{1}{2} and \frac{1}{2} normalize to one answer.
    s("C", 0, "\\frac{1}{2}", true),
    s("C", 1, "7", false),
    s("C", 2, "\\frac12", true),
    s("C", 3, "\\dfrac{1}{2}", true),
    // Ignored: a repeat of (A, 0), another benchmark, an unknown item.
    s("A", 0, "1", true),
    s("A", 4, "1", true, "other"),
    s("Z", 0, "1", true),
  ];

  it("computes avg@n, stderr, pass@k, maj@k and the difficulty breakdown (hand-computed)", () => {
    const r = summarize(items, samples, [8, 4, 2, 1, 2], { title: "Bench", column: "B" });
    // Per item accuracy: A 2/4, B 1/4, C 3/4; D has no samples (partial run) and is left out.
    expect(r).toMatchObject({ benchmark: "b", title: "Bench", column: "B", items: 3, samplesPerItem: 4 });
    expect(r.avgAtN).toBeCloseTo(0.5, 12);
    expect(r.stderr).toBeCloseTo(0.25 / Math.sqrt(3), 12);
    expect(Object.keys(r.passAtK)).toEqual(["1", "2", "4"]); // k = 8 > n is skipped
    expect(r.passAtK["1"]).toBeCloseTo(0.5, 12);
    // pass@2: A 1 − C(2,2)/C(4,2) = 5/6, B 1 − C(3,2)/C(4,2) = 1/2, C (n − c = 1 < 2) = 1.
    expect(r.passAtK["2"]).toBeCloseTo((5 / 6 + 1 / 2 + 1) / 3, 12);
    expect(r.passAtK["4"]).toBe(1);
    // maj@1: A "2" ✗, B "5" ✓, C ✓. maj@2: A tie 2/1 → "2" ✗, B "5" (no-answer abstains) ✓, C tie → ½ ✓.
    // maj@4: A tie → "2" ✗, B "3"×2 ✗, C ½×3 ✓.
    expect(r.majAtK["1"]).toBeCloseTo(2 / 3, 12);
    expect(r.majAtK["2"]).toBeCloseTo(2 / 3, 12);
    expect(r.majAtK["4"]).toBeCloseTo(1 / 3, 12);
    expect(r.byDifficulty).toEqual({ "1": { items: 2, avgAtN: 0.375 }, "2": { items: 1, avgAtN: 0.75 } });
    // The per-item scores behind them, and the grade reasons of the 12 samples counted.
    expect(r.perItem).toEqual({ A: 0.5, B: 0.25, C: 0.75 });
    expect(r.reasons).toEqual({ equal_exact: 6, unequal: 5, no_answer: 1 });
  });

  it("handles no samples and items without difficulty", () => {
    const r = summarize([item("A", undefined)], [], [1]);
    expect(r).toMatchObject({ benchmark: "b", title: "b", column: "b", items: 0, samplesPerItem: 0, avgAtN: 0, stderr: 0, passAtK: {}, majAtK: {}, perItem: {}, reasons: {} });
    expect(r.byDifficulty).toBeUndefined();
    expect(() => summarize(items, samples, [0])).toThrow(/k values must be positive integers/);
  });

  it("averageOf is the mean of avgAtN", () => {
    const res = (avgAtN: number) => ({ avgAtN }) as BenchmarkResult;
    expect(averageOf([res(0.5), res(0.25)])).toBeCloseTo(0.375, 12);
    expect(Number.isNaN(averageOf([]))).toBe(true);
  });
});
