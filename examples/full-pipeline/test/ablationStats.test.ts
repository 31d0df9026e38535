import { createRng } from "@infialign/kernels";
import { describe, expect, it } from "vitest";
import { type ArmRun, compareArms, contaminationCheck, formatPoints, judgeClaim, summarizeArm } from "../src/steps/ablationStats.js";

/** Runs of an arm whose items are solved with probability `p` (4 samples per item), seeded per (arm seed, run). */
function runs(p: number | ((item: number) => number), items: number, seeds: number[], armSeed: number): ArmRun[] {
  return seeds.map((seed) => {
    const rng = createRng(armSeed * 1000 + seed);
    const perItem: Record<string, number> = {};
    for (let i = 0; i < items; i++) {
      const pi = typeof p === "number" ? p : p(i);
      let correct = 0;
      for (let s = 0; s < 4; s++) correct += rng.nextFloat() < pi ? 1 : 0;
      perItem[`item-${String(i).padStart(4, "0")}`] = correct / 4;
    }
    const values = Object.values(perItem);
    return { seed, accuracy: values.reduce((a, b) => a + b, 0) / values.length, perItem, tokens: 1000 + seed, seconds: 10 + seed };
  });
}

const SEEDS = [0, 1, 2];
const FAST = { resamples: 500 };

describe("summarizeArm", () => {
  it("reports the mean over runs, the run count, items and mean tokens/seconds, with the mean inside the interval", () => {
    const r = runs(0.5, 200, SEEDS, 1);
    const s = summarizeArm("curated", "the curated subset", r, FAST);
    expect(s).toMatchObject({ name: "curated", description: "the curated subset", seeds: 3, items: 200, tokens: 1001, seconds: 11 });
    expect(s.mean).toBeCloseTo(r.reduce((a, x) => a + x.accuracy, 0) / 3, 12);
    expect(s.low).toBeLessThan(s.mean);
    expect(s.high).toBeGreaterThan(s.mean);
  });

  it("gives the same interval for the same seed and a different one for another seed", () => {
    const r = runs(0.5, 100, SEEDS, 2);
    const a = summarizeArm("x", "", r, { resamples: 300, seed: 7 });
    const b = summarizeArm("x", "", r, { resamples: 300, seed: 7 });
    const c = summarizeArm("x", "", r, { resamples: 300, seed: 8 });
    expect(b).toEqual(a);
    expect([c.low, c.high]).not.toEqual([a.low, a.high]);
    expect(compareArms(a, c, { resamples: 300, seed: 3 })).toEqual(compareArms(a, c, { resamples: 300, seed: 3 }));
  });

  it("narrows as the number of held-out items grows", () => {
    const small = summarizeArm("x", "", runs(0.5, 50, SEEDS, 3), FAST);
    const large = summarizeArm("x", "", runs(0.5, 1000, SEEDS, 3), FAST);
    expect(large.high - large.low).toBeLessThan((small.high - small.low) / 2);
  });

  it("throws naming the arm, seed and item when a run lacks an item", () => {
    const r = runs(0.5, 10, SEEDS, 4);
    delete r[1]!.perItem["item-0003"];
    expect(() => summarizeArm("random", "", r, FAST)).toThrow(/arm "random", seed 1 has no result for held-out item "item-0003"/);
    const ok = summarizeArm("curated", "", runs(0.5, 10, SEEDS, 5), FAST);
    const other = summarizeArm("full", "", runs(0.5, 11, SEEDS, 6), FAST);
    expect(() => compareArms(other, ok, FAST)).toThrow(/arm "curated", seed 0 has no result for held-out item "item-0010"/);
  });

  it("with one run the interval still reflects the items", () => {
    const s = summarizeArm("x", "", runs(0.5, 200, [0], 7), FAST);
    expect(s.high - s.low).toBeGreaterThan(0.02);
  });
});

describe("judgeClaim", () => {
  it("identical arms: the difference interval contains 0 and 'greater' is not supported", () => {
    const r = runs(0.5, 300, SEEDS, 10);
    const a = summarizeArm("curated", "", r, FAST);
    const b = summarizeArm("full", "", r, FAST);
    const v = judgeClaim("curated beats full", a, b, "greater", undefined, FAST);
    expect(v.difference.low).toBeLessThanOrEqual(0);
    expect(v.difference.high).toBeGreaterThanOrEqual(0);
    expect(v.verdict).not.toBe("supported");
  });

  it("independent draws of equal arms: inconclusive for 'greater'", () => {
    const a = summarizeArm("curated", "", runs(0.5, 300, SEEDS, 11), FAST);
    const b = summarizeArm("full", "", runs(0.5, 300, SEEDS, 12), FAST);
    const v = judgeClaim("curated beats full", a, b, "greater", undefined, FAST);
    expect(v.difference.low).toBeLessThan(0);
    expect(v.difference.high).toBeGreaterThan(0);
    expect(v.verdict).toBe("inconclusive");
  });

  it("a clearly better arm (0.8 vs 0.4, 300 items × 3 seeds) is supported; the reverse is not", () => {
    const good = summarizeArm("curated", "", runs(0.8, 300, SEEDS, 13), FAST);
    const bad = summarizeArm("random", "", runs(0.4, 300, SEEDS, 14), FAST);
    const better = judgeClaim("curated beats random", good, bad, "greater", undefined, FAST);
    expect(better.verdict).toBe("supported");
    expect(better.difference.low).toBeGreaterThan(0.3);
    expect(better.arms).toEqual(["curated", "random"]);
    expect(better.detail).toMatch(/^curated − random = \+\d+\.\d pts \(95% CI \+\d+\.\d … \+\d+\.\d\); 3 vs 3 seeds, 300 held-out items\.$/);
    const worse = judgeClaim("random beats curated", bad, good, "greater", undefined, FAST);
    expect(worse.verdict).toBe("not supported");
    expect(worse.detail).toMatch(/^random − curated = −\d+\.\d pts \(95% CI −/);
    expect(judgeClaim("random is no worse", bad, good, "non-inferior", 0.02, FAST).verdict).toBe("not supported");
  });

  it("non-inferior with a 2-point margin: equal arms of 1000 items are supported", () => {
    const difficulty = (i: number) => (i % 10) / 10 + 0.05;
    const a = summarizeArm("curated", "", runs(difficulty, 1000, SEEDS, 15), FAST);
    const b = summarizeArm("full", "", runs(difficulty, 1000, SEEDS, 16), FAST);
    const v = judgeClaim("curated is no worse than full", a, b, "non-inferior", 0.02, FAST);
    expect(v).toMatchObject({ kind: "non-inferior", margin: 0.02, verdict: "supported" });
    expect(v.difference.low).toBeGreaterThan(-0.02);
    expect(v.detail).toContain("margin 2 pts");
    expect(judgeClaim("default margin", a, b, "non-inferior", undefined, FAST).margin).toBe(0.02);
  });

  it("says when a single seed leaves out the seed-to-seed variance", () => {
    const a = summarizeArm("sft", "", runs(0.5, 100, [0], 17), FAST);
    const b = summarizeArm("dpo", "", runs(0.5, 100, [0], 18), FAST);
    expect(judgeClaim("dpo beats sft", b, a, "greater", undefined, FAST).detail).toContain("one seed per arm, so the interval reflects item sampling only");
    const c = summarizeArm("dpo", "", runs(0.5, 100, SEEDS, 19), FAST);
    expect(judgeClaim("dpo beats sft", c, a, "greater", undefined, FAST).detail).toContain("sft has one seed");
  });

  it("formats signed points with a real minus sign", () => {
    expect([formatPoints(0.012), formatPoints(-0.008), formatPoints(0), formatPoints(-0.0001)]).toEqual(["+1.2", "−0.8", "0.0", "0.0"]);
  });
});

describe("contaminationCheck", () => {
  it("compares leaked with unseen items and flags a real gap", () => {
    const r = runs((i) => (i < 50 ? 0.9 : 0.3), 300, SEEDS, 20);
    const leaked = new Set(Array.from({ length: 50 }, (_, i) => `item-${String(i).padStart(4, "0")}`).concat(["not-held-out"]));
    const c = contaminationCheck("curated", r, leaked, FAST);
    expect(c.leaked.items).toBe(50);
    expect(c.unseen.items).toBe(250);
    expect(c.leaked.accuracy).toBeGreaterThan(0.8);
    expect(c.unseen.accuracy).toBeLessThan(0.4);
    expect(c.difference.mean).toBeCloseTo(c.leaked.accuracy - c.unseen.accuracy, 12);
    expect(c.difference.low).toBeGreaterThan(0.4);
    expect(contaminationCheck("curated", r, leaked, FAST)).toEqual(c);
  });

  it("throws when no held-out item leaked", () => {
    expect(() => contaminationCheck("curated", runs(0.5, 10, SEEDS, 21), new Set(["x"]), FAST)).toThrow(/none of its 10 held-out items/);
  });
});
