import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSchedule, warmupStepsFor } from "../src/core/schedule.js";

describe("createSchedule (HF get_scheduler lr_lambda)", () => {
  it("warmup steps: explicit steps win, else ceil(total · ratio)", () => {
    expect(warmupStepsFor(30, 0, 0.05)).toBe(2); // 1.5 → 2
    expect(warmupStepsFor(7, 0, 0.1)).toBe(1); // 0.7000000000000001 → 1
    expect(warmupStepsFor(100, 0, 0.1)).toBe(10);
    expect(warmupStepsFor(100, 4, 0.5)).toBe(4);
    expect(warmupStepsFor(100, 0, 0)).toBe(0);
  });

  it("linear: 0 → peak over warmup, then down to 0 at totalSteps", () => {
    const s = createSchedule({ type: "linear", learningRate: 1e-3, totalSteps: 10, warmupRatio: 0.1 });
    expect(s.warmupSteps).toBe(1);
    expect(s.factor(0)).toBe(0);
    expect(s.factor(1)).toBe(1); // (10 − 1)/(10 − 1)
    expect(s.factor(5)).toBeCloseTo(5 / 9, 15);
    expect(s.factor(10)).toBe(0);
    expect(s.factor(12)).toBe(0);
    expect(s.at(5)).toBeCloseTo(1e-3 * (5 / 9), 18);
  });

  it("cosine with num_cycles 0.5: half a wave from peak to 0", () => {
    const s = createSchedule({ type: "cosine", learningRate: 2e-5, totalSteps: 10, warmupSteps: 2 });
    expect(s.factor(0)).toBe(0);
    expect(s.factor(1)).toBe(0.5);
    expect(s.factor(2)).toBe(1);
    expect(s.factor(4)).toBeCloseTo(0.8535533905932737, 14); // 0.5·(1 + cos(π/4))
    expect(s.factor(6)).toBeCloseTo(0.5, 14); // progress 0.5
    expect(s.factor(10)).toBeCloseTo(0, 14);
    expect(s.at(2)).toBe(2e-5);
  });

  it("constant_with_warmup and constant", () => {
    const w = createSchedule({ type: "constant_with_warmup", learningRate: 1, totalSteps: 100, warmupSteps: 4 });
    expect([0, 1, 2, 4, 50, 100].map(w.factor)).toEqual([0, 0.25, 0.5, 1, 1, 1]);
    const c = createSchedule({ type: "constant", learningRate: 3e-4, totalSteps: 100, warmupSteps: 10 });
    expect(c.warmupSteps).toBe(0);
    expect([0, 5, 100].map(c.at)).toEqual([3e-4, 3e-4, 3e-4]);
  });

  it("InfiAlign recipe: 5% warmup, cosine", () => {
    const s = createSchedule({ type: "cosine", learningRate: 2e-5, totalSteps: 1000, warmupRatio: 0.05 });
    expect(s.warmupSteps).toBe(50);
    expect(s.at(25)).toBeCloseTo(1e-5, 18);
    expect(s.at(525)).toBeCloseTo(1e-5, 15); // progress 0.5
  });

  it("reports every invalid option at once", () => {
    expect(() =>
      createSchedule({ type: "polynomial" as never, learningRate: -1, totalSteps: 1.5, warmupRatio: 2 }),
    ).toThrow(/type="polynomial".*learningRate=-1.*totalSteps=1.5.*warmupRatio=2/);
  });

  it("property: factor in [0, 1], step/warmup during warmup, never rising after it up to totalSteps", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("linear" as const, "cosine" as const, "constant_with_warmup" as const),
        fc.integer({ min: 1, max: 500 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (type, totalSteps, warmupRatio) => {
          const s = createSchedule({ type, totalSteps, warmupRatio, learningRate: 1 });
          expect(s.warmupSteps).toBe(Math.ceil(totalSteps * warmupRatio));
          let previous = 1;
          for (let step = 0; step <= totalSteps; step++) {
            const f = s.factor(step);
            expect(f).toBeGreaterThanOrEqual(0);
            expect(f).toBeLessThanOrEqual(1);
            if (step < s.warmupSteps) expect(f).toBe(step / s.warmupSteps);
            else {
              expect(f).toBeLessThanOrEqual(previous + 1e-12);
              previous = f;
            }
          }
          if (s.warmupSteps < totalSteps) expect(s.factor(s.warmupSteps)).toBe(1);
        },
      ),
      { seed: 20260519, numRuns: 200 },
    );
  });
});
