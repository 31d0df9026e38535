import { readFileSync } from "node:fs";
import { gsm8kAdapter, makeSample, mathAdapter, type Sample, type SampleInit } from "@infialign/data";
import { describeWhen, sharedDataFile } from "@infialign/test-utils/vitest";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkQuality, finalAnswerOf, resolveQualityOptions } from "../src/select/quality.js";
import { DEFAULT_REPETITION_THRESHOLDS, GOPHER_REPETITION_THRESHOLDS, repetitionStats, repetitionViolation } from "../src/select/repetition.js";

const sample = (init: Partial<SampleInit>): Sample => makeSample({ source: "t", prompt: "What is 6 times 7?", ...init });
const reasonOf = (s: Sample, o = {}) => {
  const v = checkQuality(s, o);
  return v.keep ? "keep" : v.reason;
};
// ~120 distinct words of prose, so repetition checks apply (≥ 50 words).
const prose = Array.from({ length: 120 }, (_, i) => `w${i}x${(i * 7919) % 1000}`).join(" ");

describe("repetitionStats (Gopher, Rae et al. 2021 Table A1)", () => {
  it("is zero on text without repetition", () => {
    const s = repetitionStats(prose);
    expect(s.duplicateLineFraction).toBe(0);
    expect(Object.values(s.duplicateNgramCharFraction).every((v) => v === 0)).toBe(true);
    expect(Object.values(s.topNgramCharFraction).every((v) => v === 0)).toBe(true);
    expect(repetitionViolation(s)).toBeUndefined();
  });

  it("measures duplicate lines and n-grams exactly on a small case", () => {
    const s = repetitionStats("a b\na b\nc d");
    expect(s.duplicateLineFraction).toBeCloseTo(1 / 3);
    expect(s.duplicateLineCharFraction).toBeCloseTo(3 / 9);
    // words a b a b c d: top 2-gram "a b" twice → 4 chars of 6.
    expect(s.topNgramCharFraction[2]).toBeCloseTo(4 / 6);
  });

  it("flags a looping generation", () => {
    const loop = `${prose} ${"Let me check the computation again. ".repeat(40)}`;
    expect(repetitionViolation(repetitionStats(loop))).toMatch(/fraction/);
  });

  it("Gopher's web thresholds are stricter than the chain-of-thought defaults", () => {
    // A sentence restated twice (~13% of the characters): too much for Gopher, normal in a worked solution.
    const s = repetitionStats(`${prose} ${"therefore substituting fourteen into equation seventeen gives exactly eleven solutions overall ".repeat(3)}`);
    expect(repetitionViolation(s, GOPHER_REPETITION_THRESHOLDS)).toMatch(/gram_char_fraction/);
    expect(repetitionViolation(s, DEFAULT_REPETITION_THRESHOLDS)).toBeUndefined();
  });

  it("skips short texts (minWords)", () => {
    expect(repetitionViolation(repetitionStats("yes yes yes yes yes yes"))).toBeUndefined();
    expect(repetitionViolation(repetitionStats("yes yes yes yes yes yes"), { ...DEFAULT_REPETITION_THRESHOLDS, minWords: 1 })).toBeDefined();
  });

  it("fractions stay in [0, 1] for any text", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom("a", "b", "c", "\n", " ", "dd", "e f"), { maxLength: 200 }), (parts) => {
        const s = repetitionStats(parts.join(" "));
        const all = [s.duplicateLineFraction, s.duplicateLineCharFraction, ...Object.values(s.topNgramCharFraction), ...Object.values(s.duplicateNgramCharFraction)];
        return all.every((v) => v >= 0 && v <= 1 + 1e-12);
      }),
    );
  });
});

describe("checkQuality", () => {
  it("keeps a correct boxed answer and a correct GSM8K answer", () => {
    expect(reasonOf(sample({ response: "6*7 = 42, so \\boxed{42}", gold: "42" }))).toBe("keep");
    expect(reasonOf(sample({ response: "6*7 = 42\n#### 42", gold: "42" }))).toBe("keep");
    expect(reasonOf(sample({ response: "Half of it: \\boxed{\\frac{1}{2}}", gold: "0.5" }))).toBe("keep");
  });

  it("gives every reason", () => {
    expect(reasonOf(sample({ response: "  " }))).toBe("no_response");
    expect(reasonOf(sample({ response: "<think>6*7 is", gold: "42" }))).toBe("truncated");
    expect(reasonOf(sample({ response: "\\boxed{42}", gold: "42", meta: { finishReason: "length" } }))).toBe("truncated");
    expect(reasonOf(sample({ response: "\\boxed{42}", gold: "42", meta: { finish_reason: "stop" } }))).toBe("keep");
    expect(reasonOf(sample({ response: "It is forty-two.", gold: "42" }))).toBe("missing_final_answer");
    expect(reasonOf(sample({ response: "\\boxed{41}", gold: "42" }))).toBe("answer_mismatch");
    expect(reasonOf(sample({ response: "\\boxed{42}" }))).toBe("keep");
    expect(reasonOf(sample({ response: "\\boxed{42}" }), { noGold: "drop" })).toBe("no_gold");
    expect(reasonOf(sample({ response: `${"the same line again\n".repeat(60)}\\boxed{42}`, gold: "42" }))).toBe("repetition");
    expect(reasonOf(sample({ response: "\\boxed{42}", gold: "42", meta: { scores: { judge: 4 } } }), { minJudgeScore: 7 })).toBe("low_judge_score");
    expect(reasonOf(sample({ response: "\\boxed{42}", gold: "42", meta: { scores: { judge: 8 } } }), { minJudgeScore: 7 })).toBe("keep");
  });

  it("reads the answer after </think>, not inside the reasoning", () => {
    const s = sample({ response: "<think>maybe \\boxed{41}</think>The answer is \\boxed{42}", gold: "42" });
    expect(finalAnswerOf(s)).toBe("42");
    expect(reasonOf(s)).toBe("keep");
  });

  it("verifies choice items with verifyChoice when meta says so", () => {
    const meta = { choices: ["3", "42", "7", "9"] };
    expect(reasonOf(sample({ response: "The answer is (B).", gold: "B", meta }))).toBe("keep");
    expect(reasonOf(sample({ response: "The answer is (C).", gold: "B", meta }))).toBe("answer_mismatch");
  });

  it("messages say why", () => {
    const v = checkQuality(sample({ response: "\\boxed{41}", gold: "42" }));
    expect(v).toMatchObject({ keep: false, message: expect.stringContaining('"41"') });
  });

  it("reports every invalid option at once", () => {
    expect(() => resolveQualityOptions({ minJudgeScore: Number.NaN, verifyTimeoutMs: -1 })).toThrow(/minJudgeScore.*verifyTimeoutMs/);
  });

  it("never throws on arbitrary responses and golds", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), (response, gold) => {
        const v = checkQuality(sample({ response, gold }), { verifyTimeoutMs: 200 });
        return v.keep || typeof v.message === "string";
      }),
      { numRuns: 200 },
    );
  });
});

const pools = sharedDataFile("pools");
describeWhen(pools.missing)("checkQuality on the gold solutions of ../shared/data/pools", () => {
  it("keeps every MATH test and GSM8K train solution (their answers verify, none is degenerate)", () => {
    const reasons: Record<string, number> = {};
    for (const [file, adapter] of [
      ["math-test.jsonl", mathAdapter],
      ["gsm8k-train.jsonl", gsm8kAdapter],
    ] as const) {
      for (const line of readFileSync(`${pools.path}/${file}`, "utf8").trim().split("\n")) {
        const r = adapter.adapt(JSON.parse(line), { source: file, requireAnswer: false, loc: { file } });
        if (!r.ok) continue;
        const v = checkQuality(makeSample(r.sample));
        const k = v.keep ? "keep" : v.reason;
        reasons[k] = (reasons[k] ?? 0) + 1;
      }
    }
    expect(reasons).toEqual({ keep: 12_473 });
  }, 240_000);
});
