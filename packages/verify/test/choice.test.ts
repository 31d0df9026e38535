import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { extractChoice, verifyChoice } from "../src/choice/index.js";

describe("extractChoice", () => {
  it.each([
    ["The answer is (C).", "C"],
    ["Therefore $\\boxed{C}$", "C"],
    ["$\\boxed{\\text{(B)}}$", "B"],
    ["Reasoning...\nAnswer: C", "C"],
    ["The correct answer is: **D**", "D"],
    ["I am confident that **A** holds.", "A"],
    ["A train leaves at noon... the answer is B", "B"],
    ["First I thought the answer is B. Wait, the answer is D", "D"],
    ["Let me check.\n(B)", "B"],
  ])("%s → %s", (output, letter) => {
    expect(extractChoice(output, { options: 4 })).toEqual({ letter, reason: "extracted" });
  });

  it("accepts letters up to J with ten options only", () => {
    expect(extractChoice("Answer: J", { options: 10 })).toEqual({ letter: "J", reason: "extracted" });
    expect(extractChoice("Answer: J", { options: 4 })).toEqual({ reason: "no_answer" });
  });

  it("maps an echoed option text to its letter", () => {
    const options = ["London", "Paris", "Rome", "Berlin"];
    expect(extractChoice("So the capital must be Paris.", { options })).toEqual({ letter: "B", reason: "extracted" });
    expect(extractChoice("Either Paris or Rome.", { options })).toEqual({ reason: "ambiguous" });
    expect(extractChoice("So the capital must be Paris.", { options: 4 })).toEqual({ reason: "no_answer" });
  });

  it("calls two different letters ambiguous", () => {
    expect(extractChoice("The answer is (A) or (B)", { options: 4 })).toEqual({ reason: "ambiguous" });
    expect(extractChoice("$\\boxed{A, C}$", { options: 4 })).toEqual({ reason: "ambiguous" });
  });

  it("ignores <think> content and reports no_answer", () => {
    expect(extractChoice("<think>the answer is A</think>The answer is C", { options: 4 })).toEqual({ letter: "C", reason: "extracted" });
    expect(extractChoice("no idea", { options: 4 })).toEqual({ reason: "no_answer" });
  });

  it("never throws and only returns valid letters", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const r = extractChoice(s, { options: 4 });
        if (r.letter !== undefined) expect("ABCD").toContain(r.letter);
      }),
      { seed: 5, numRuns: 500 },
    );
  });
});

describe("verifyChoice", () => {
  it("compares with the gold letter", () => {
    expect(verifyChoice("C", "The answer is (C)", { options: 4 })).toEqual({ correct: true, reason: "extracted", extracted: "C" });
    expect(verifyChoice("(c)", "The answer is (C)", { options: 4 }).correct).toBe(true);
    expect(verifyChoice("B", "The answer is (C)", { options: 4 })).toEqual({ correct: false, reason: "extracted", extracted: "C" });
    expect(verifyChoice("A", "The answer is (A) or (B)", { options: 4 })).toEqual({ correct: false, reason: "ambiguous" });
  });
});
