import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeForMatch, tokenizeForMatch } from "../src/index.js";

describe("normalizeForMatch", () => {
  it("lowercases, drops punctuation and folds whitespace", () => {
    expect(normalizeForMatch("  Janet’s ducks   lay 16 eggs,\n per day!  ")).toBe("janet s ducks lay 16 eggs per day");
  });

  it("normalizes LaTeX markup", () => {
    const a = normalizeForMatch("Find $\\left( \\dfrac{1}{2} \\right)^{2}$ and $x\\,y$.");
    const b = normalizeForMatch("find (\\frac12)... no: ( \\frac{1}{2} )^2 and x y");
    expect(a).toBe("find frac 1 2 2 and x y");
    expect(b).toContain("frac 1 2 2 and x y");
    expect(normalizeForMatch("$x^{2}$")).toBe(normalizeForMatch("x^2"));
    expect(normalizeForMatch("\\tbinom{5}{2}")).toBe(normalizeForMatch("\\dbinom{5}{2}"));
    expect(normalizeForMatch("\\binom{5}{2}")).toBe("binom 5 2");
    expect(normalizeForMatch("a\\quad b\\;c~d")).toBe("a b c d");
  });

  it("repairs a form feed left by an under-escaped \\frac", () => {
    expect(normalizeForMatch("\frac{1}{2}")).toBe(normalizeForMatch("\\frac{1}{2}"));
  });

  it("keeps Unicode letters and digits", () => {
    expect(tokenizeForMatch("Ärger 3.5 über π")).toEqual(["ärger", "3", "5", "über", "π"]);
    expect(tokenizeForMatch("")).toEqual([]);
    expect(tokenizeForMatch(" ,.; ")).toEqual([]);
  });

  it("is idempotent and never throws (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        const once = normalizeForMatch(s);
        expect(normalizeForMatch(once)).toBe(once);
      }),
    );
  });
});
