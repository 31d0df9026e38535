import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { extractBoxed, extractGsm8kFinal, normalizeSample, normalizeText, splitThink, stripCalculatorAnnotations } from "../src/normalize/index.js";

/** Brace-balanced LaTeX-ish strings: atoms, escaped braces and nested groups. */
const balanced: fc.Arbitrary<string> = fc.letrec<{ x: string }>((tie) => ({
  x: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("", "1", "x", " ", "\\frac", "\\{", "\\}", "\\\\", "-", "$", "\\text", "(C)", "π", "\n", "\\boxed{2}"),
    fc.string({ unit: fc.constantFrom("a", "b", "1", "+", " ", ",", "^", "_") }),
    fc.tuple(tie("x"), tie("x")).map(([a, b]) => a + b),
    tie("x").map((a) => `{${a}}`),
  ),
})).x;
/** Text without box commands or braces, so it cannot interfere with the box. */
const plain = fc.string().filter((s) => !/[{}\\]/.test(s));

describe("extractBoxed", () => {
  it("handles the forms MATH solutions use", () => {
    expect(extractBoxed("so $x = \\boxed{5}$.")).toBe("5");
    expect(extractBoxed("$\\boxed{\\frac{1}{2}}$")).toBe("\\frac{1}{2}");
    expect(extractBoxed("answer \\boxed{\\text{(C)}}")).toBe("\\text{(C)}");
    expect(extractBoxed("\\boxed{\\{1,2\\}}")).toBe("\\{1,2\\}");
    expect(extractBoxed("\\boxed{a \\} b}")).toBe("a \\} b");
    expect(extractBoxed("first \\boxed{1} then \\boxed{2}.")).toBe("2");
    expect(extractBoxed("\\fbox{7}")).toBe("7");
    expect(extractBoxed("\\boxed 5$.")).toBe("5");
    expect(extractBoxed("\\boxed {  3 }")).toBe("3");
    expect(extractBoxed("\\boxed{\\boxed{1}}")).toBe("\\boxed{1}");
    expect(extractBoxed("\\boxed{1} and \\boxed{2")).toBe("1");
    expect(extractBoxed("no box")).toBeUndefined();
    expect(extractBoxed("\\boxedfoo{3}")).toBeUndefined();
    expect(extractBoxed("\\boxed{}")).toBe("");
    expect(extractBoxed("\\boxed{x\\\\}")).toBe("x\\\\");
  });

  it("finds X in `prefix \\boxed{X} suffix` for any brace-balanced X", () => {
    fc.assert(
      fc.property(plain, balanced, plain, (prefix, x, suffix) => {
        expect(extractBoxed(`${prefix}\\boxed{${x}}${suffix}`)).toBe(x.trim());
      }),
      { numRuns: 500 },
    );
  });

  it("never throws", () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom("\\", "{", "}", "b", "o", "x", "e", "d", "\\boxed", "\\fbox", " ", "$") }), (s) => void extractBoxed(s)));
  });
});

describe("GSM8K helpers", () => {
  it("extracts the final answer after the last ####", () => {
    expect(extractGsm8kFinal("a\n#### 72")).toBe("72");
    expect(extractGsm8kFinal("a\n#### 1,080")).toBe("1080");
    expect(extractGsm8kFinal("#### 1 #### -3,000,000 ")).toBe("-3000000");
    expect(extractGsm8kFinal("no marker")).toBeUndefined();
    expect(extractGsm8kFinal("####   ")).toBeUndefined();
    expect(extractGsm8kFinal("#### a, b")).toBe("a, b");
  });

  it("removes calculator annotations only", () => {
    expect(stripCalculatorAnnotations("48/2 = <<48/2=24>>24 clips; 3<4 and 5>2")).toBe("48/2 = 24 clips; 3<4 and 5>2");
    expect(stripCalculatorAnnotations("$<<9*2=18>>18 and <<1+1=2>>2")).toBe("$18 and 2");
  });
});

describe("normalizeText", () => {
  it("does exactly what its JSDoc says", () => {
    expect(normalizeText("\uFEFFa\r\nb\rc")).toBe("a\nb\nc");
    expect(normalizeText("a  \t\nb")).toBe("a\nb");
    expect(normalizeText("a\n\n\n\n\nb")).toBe("a\n\nb");
    expect(normalizeText("a\n \n\t\nb")).toBe("a\n\nb");
    expect(normalizeText("\tindented\tand\ttabbed")).toBe("indented\tand\ttabbed");
    expect(normalizeText("a\n\tb")).toBe("a\n\tb");
    expect(normalizeText("ze\u200Bro\u200C\u200D\u2060width")).toBe("zerowidth");
    expect(normalizeText("cafe\u0301")).toBe("caf\u00e9");
    expect(normalizeText("e\u200B\u0301")).toBe("\u00e9");
    expect(normalizeText("  $x^2$  inner  spaces  ")).toBe("$x^2$  inner  spaces");
    expect(normalizeText("\n\n")).toBe("");
  });

  it("is idempotent", () => {
    const unit = fc.oneof(fc.string({ maxLength: 1 }), fc.constantFrom(" ", "\t", "\n", "\r", "\r\n", "\u200B", "\uFEFF", "\u0301", "e", "\u2000", "\u00a0", "\u2028"));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit }), fc.string({ unit: "grapheme" })), (s) => {
        const once = normalizeText(s);
        expect(normalizeText(once)).toBe(once);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("splitThink", () => {
  it("handles complete, headless, unterminated and absent think blocks", () => {
    expect(splitThink("<think>\nstep\n</think>\n\nfinal")).toEqual({ reasoning: "step", final: "final" });
    expect(splitThink("step one\n</think>\nfinal")).toEqual({ reasoning: "step one", final: "final" });
    expect(splitThink("<think>cut off")).toEqual({ reasoning: "cut off", final: "" });
    expect(splitThink("just an answer ")).toEqual({ final: "just an answer" });
    expect(splitThink("<think></think>ans")).toEqual({ reasoning: "", final: "ans" });
    expect(splitThink("pre<think>r</think>post")).toEqual({ reasoning: "r", final: "pre\n\npost" });
  });

  it("recovers a and b from <think>a</think>b (modulo trimming)", () => {
    const free = fc.string().filter((s) => !s.includes("<think>") && !s.includes("</think>"));
    fc.assert(
      fc.property(free, free, (a, b) => {
        expect(splitThink(`<think>${a}</think>${b}`)).toEqual({ reasoning: a.trim(), final: b.trim() });
        expect(splitThink(`${a}</think>${b}`)).toEqual({ reasoning: a.trim(), final: b.trim() });
      }),
    );
  });
});

describe("normalizeSample", () => {
  const base = {
    source: "s",
    prompt: " What is 1+1?\r\n",
    response: "<think>\n1+1=2  \n</think>\n\n\n\nSo $\\boxed{2}$.",
    messages: [
      { role: "user" as const, content: " What is 1+1?\r\n" },
      { role: "assistant" as const, content: "<think>\n1+1=2  \n</think>\n\n\n\nSo $\\boxed{2}$." },
    ],
    answer: " 2 ",
    meta: { adapter: "x" },
  };

  it("normalizes every text field and moves the think block into reasoning", () => {
    const out = normalizeSample(base, {});
    expect(out).toEqual({
      source: "s",
      prompt: "What is 1+1?",
      response: "So $\\boxed{2}$.",
      reasoning: "1+1=2",
      messages: [
        { role: "user", content: "What is 1+1?" },
        { role: "assistant", content: "So $\\boxed{2}$." },
      ],
      answer: "2",
      meta: { adapter: "x" },
    });
    expect(base.prompt).toBe(" What is 1+1?\r\n");
  });

  it("keeps the think block with stripThink: false", () => {
    const out = normalizeSample(base, { stripThink: false });
    expect(out.response).toBe("<think>\n1+1=2\n</think>\n\nSo $\\boxed{2}$.");
    expect(out.reasoning).toBeUndefined();
    expect(out.messages?.[1]?.content).toBe(out.response);
  });

  it("keeps an adapter's reasoning and a cut-off response", () => {
    expect(normalizeSample({ source: "s", prompt: "p", response: "<think>a</think>b", reasoning: "given" }, {}).reasoning).toBe("given");
    const cut = normalizeSample({ source: "s", prompt: "p", response: "<think>half a thought" }, {});
    expect(cut).toMatchObject({ response: "<think>half a thought", reasoning: "half a thought" });
    expect(normalizeSample({ source: "s", prompt: "p", response: "<think></think>b" }, {})).toEqual({ source: "s", prompt: "p", response: "b" });
  });
});
