import { describe, expect, it } from "vitest";
import { compareRuns, type RunSamples } from "../src/compare/compareRuns.js";
import { itemScores, standardError } from "../src/metrics/index.js";
import type { BenchmarkResult, SampleRecord } from "../src/types.js";

function sample(itemId: string, sampleIndex: number, correct: boolean, extra: Partial<SampleRecord> = {}): SampleRecord {
  return { benchmark: "b", itemId, sampleIndex, completion: `${itemId}/${sampleIndex}/${correct}`, finishReason: "stop", grade: { correct }, ...extra };
}

function run(model: string, avg: number, verdicts: Record<string, boolean[]>, extra: SampleRecord[] = []): RunSamples {
  const samples = Object.entries(verdicts).flatMap(([id, v]) => v.map((c, j) => sample(id, j, c)));
  const scores = itemScores(Object.entries(verdicts).map(([id]) => [id, samples.filter((s) => s.itemId === id)]));
  const bench: BenchmarkResult = { benchmark: "b", title: "Bench", column: "B", items: 4, samplesPerItem: 3, avgAtN: avg, stderr: standardError(Object.values(scores.perItem)), passAtK: {}, majAtK: {}, ...scores };
  const other: BenchmarkResult = { ...bench, benchmark: `only-${model}` };
  return {
    result: { model, protocol: { temperature: 0.6, topP: 0.95, maxTokens: 10, samples: { default: 3 }, k: [1], seed: 0 }, benchmarks: [bench, other], average: avg, createdAt: "" },
    samples: [...samples.filter((s) => !extra.some((e) => e.itemId === s.itemId && e.sampleIndex === s.sampleIndex)), ...extra],
  };
}

// x1 flips to wrong, x2 to right; x3 agrees; x4 differs by basis (sample 0 wrong→right, majority right→wrong).
const A = { x1: [true, true, false], x2: [false, false, false], x3: [true, false, false], x4: [false, true, true] };
const B = { x1: [false, false, true], x2: [true, true, false], x3: [true, false, false], x4: [true, false, false] };

describe("compareRuns", () => {
  it("counts flips by majority of sample verdicts", async () => {
    const c = await compareRuns(run("a", 0.5, A), run("b", 0.25, B));
    expect(c.benchmarks).toHaveLength(1);
    const b = c.benchmarks[0]!;
    expect(b).toMatchObject({ benchmark: "b", accuracyA: 0.5, accuracyB: 0.25, items: 4, correctToWrong: ["x1", "x4"], wrongToCorrect: ["x2"], flipRate: 0.75 });
    expect(b.delta).toBeCloseTo(-0.25, 12);
    expect(c.flipRate).toBe(0.75);
    expect(c.averageDelta).toBeCloseTo(-0.25, 12);
    expect(b.kl).toEqual({ available: false, reason: expect.stringContaining("no log-probs") });
    // x3 is wrong in both runs (1 of 3 samples); no item is right in both.
    expect([b.bothCorrect, b.bothWrong]).toEqual([0, 1]);
  });

  it("gives each run's standard error and the paired standard error of the delta", async () => {
    const a = run("a", 0.5, A);
    const b = run("b", 0.25, B);
    const c = (await compareRuns(a, b)).benchmarks[0]!;
    // Per item: A 2/3, 0, 1/3, 2/3; B 1/3, 2/3, 1/3, 1/3; differences −1/3, 2/3, 0, −1/3.
    expect(c.stderrA).toBe(a.result.benchmarks[0]!.stderr);
    expect(c.stderrB).toBe(b.result.benchmarks[0]!.stderr);
    expect(c.stderrA).toBeCloseTo(standardError([2 / 3, 0, 1 / 3, 2 / 3]), 12);
    expect(c.deltaStderr).toBeCloseTo(standardError([-1 / 3, 2 / 3, 0, -1 / 3]), 12);
    // Hand-computed: mean 0, sample variance (1/9 + 4/9 + 0 + 1/9) / 3 = 2/9, stderr √(2/9 / 4) = 0.2357.
    expect(c.deltaStderr).toBeCloseTo(Math.sqrt(2 / 9 / 4), 12);
  });

  it("needs only the results (their per-item scores) for majority flips", async () => {
    const { result: ra } = run("a", 0.5, A);
    const { result: rb } = run("b", 0.25, B);
    const c = (await compareRuns({ result: ra }, { result: rb })).benchmarks[0]!;
    expect(c).toMatchObject({ correctToWrong: ["x1", "x4"], wrongToCorrect: ["x2"], items: 4, flipRate: 0.75 });
    expect(c.kl).toEqual({ available: false, reason: expect.stringContaining("samples were not given") });
    await expect(compareRuns({ result: ra }, { result: rb }, { by: "sample0" })).rejects.toThrow(/\[infialign\/eval\] compare: flips by "sample0" need the samples of run "a"/);
  });

  it("counts flips by sample 0 when asked", async () => {
    const b = (await compareRuns(run("a", 0.5, A), run("b", 0.25, B), { by: "sample0" })).benchmarks[0]!;
    expect(b).toMatchObject({ correctToWrong: ["x1"], wrongToCorrect: ["x2", "x4"], flipRate: 0.75 });
  });

  it("treats a tie as wrong under majority", async () => {
    const b = (await compareRuns(run("a", 0, { y: [true, false] }), run("b", 0, { y: [true, true] }))).benchmarks[0]!;
    expect(b.wrongToCorrect).toEqual(["y"]);
  });

  it("estimates KL(A‖B) from B's log-probs of the same completions, and from scoreB otherwise", async () => {
    const a = run("a", 0.5, A, [sample("x1", 0, true, { completion: "aa", logprobs: [-1, -2] }), sample("x2", 0, false, { completion: "b", logprobs: [-0.1] })]);
    const b = run("b", 0.25, B, [sample("x1", 0, false, { completion: "aa", logprobs: [-1.5, -2.5] })]);
    const stored = (await compareRuns(a, b)).benchmarks[0]!.kl;
    expect(stored).toEqual({ available: true, perToken: 0.5, perCompletion: 1, completions: 1, tokens: 2 });
    const scored: string[] = [];
    const withScore = (
      await compareRuns(a, b, {
        scoreB: async (s) => {
          scored.push(s.itemId);
          return s.completion === "b" ? [-0.4] : undefined;
        },
      })
    ).benchmarks[0]!.kl;
    expect(scored).toEqual(["x2"]);
    if (!withScore.available) throw new Error("expected KL");
    expect(withScore.perToken).toBeCloseTo(1.3 / 3, 12);
    expect(withScore.perCompletion).toBeCloseTo(1.3 / 2, 12);
    const none = (await compareRuns(a, run("b", 0.25, B))).benchmarks[0]!.kl;
    expect(none).toEqual({ available: false, reason: expect.stringContaining("run B has no log-probs") });
  });

  it("names the run and benchmark whose result has no per-item scores", async () => {
    const old = run("b", 0.25, B);
    const { perItem: _dropped, ...bench } = old.result.benchmarks[0]!;
    const legacy = { ...old, result: { ...old.result, benchmarks: [bench as BenchmarkResult] } };
    await expect(compareRuns(run("a", 0.5, A), legacy)).rejects.toThrow(/run B's result for "b" has no per-item scores.*loadRun/);
  });
});
