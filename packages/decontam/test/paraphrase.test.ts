import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { BenchmarkItem } from "../src/benchmarks/loadBenchmark.js";
import { loadShippedBenchmarks } from "../src/benchmarks/loadBenchmark.js";
import { Decontaminator } from "../src/decontaminator.js";
import { canonicalTokens, ParaphraseIndex } from "../src/fuzzy/index.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
const readJsonl = (file: string) =>
  readFileSync(join(fixtures, file), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { benchmark?: string; id?: string; text: string });
const item = (id: string, text: string): BenchmarkItem => ({ benchmark: "toy", id, text });

// Seeded split (FNV-1a of the text): defaults were chosen on the dev half only; the held-out half checks they generalize.
const fnv = (s: string) => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
};
const half = (s: string) => ((fnv(s) & 1) === 0 ? "dev" : "heldOut");

describe("canonicalTokens", () => {
  it("reads reformatted LaTeX, renamed variables and number words alike", () => {
    const a = canonicalTokens("Find $\\dfrac{3}{4}$ of $x^{2}$ when x is two.");
    expect(canonicalTokens("Determine \\(3/4\\) of \\(t^2\\) when t is 2.")).toEqual(a);
    expect(a).toEqual(["3", "4", "_v", "2", "_v", "2"]);
    expect(canonicalTokens("The smallest positive integers cost 1,000 dollars")).toEqual(["min", "positive", "integer", "cost", "1000", "dollar"]);    expect(canonicalTokens("What is the eighth term? One third of it.")).toEqual(["8", "term", "1", "3"]);
    expect(canonicalTokens("Twenty-seven apples, 20% of forty five")).toEqual(canonicalTokens("27 apples, 20 percent of 45"));
  });

  it("never throws (property)", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (s) => Array.isArray(canonicalTokens(s))));
  });
});

describe("ParaphraseIndex", () => {
  const stem = "A farmer has 17 sheep and 23 goats. He sells 9 goats at the market and buys 4 cows. How many animals does the farmer have now?";
  const others = [
    "A baker made 40 loaves of bread and sold 25 of them before noon. How many loaves are left?",
    "Jenny reads 12 pages of her book every day for 5 days. How many pages has she read?",
    "A train travels 60 miles per hour for 3 hours. How far does it go?",
  ];
  const items = [item("farm", stem), ...others.map((t, i) => item(`o${i}`, t))];

  it("finds a reworded, reordered copy with a prepended sentence, and reports the evidence", () => {
    const index = ParaphraseIndex.build(items);
    const res = index.check("Solve the following problem. How many animals does a farmer now own if he had 17 sheep and 23 goats, sold 9 of the goats at market, and purchased 4 cows?");
    expect(res[0]).toMatchObject({ benchmark: "toy", id: "farm", numberContainment: 1, itemNumbers: 4 });
    expect(res[0]!.score).toBeGreaterThan(0.35);
    expect(res[0]!.features).toContain("goat");
  });

  it("does not flag the same words with other numbers, or an unrelated problem", () => {
    const index = ParaphraseIndex.build(items);
    expect(index.check(stem.replace("17", "18").replace("23", "31").replace("9", "5"))).toEqual([]);
    expect(index.check("A farmer grows corn on a field. How many bushels does he harvest?")).toEqual([]);
    expect(index.check(stem).map((m) => m.id)).toEqual(["farm"]);
  });

  describe("precision gates (each rejects a sibling problem that the same config without that gate accepts)", () => {
    const POLY = "Suppose that $f$ is a polynomial such that \\[(x-1)\\cdot f(x)=3x^4+x^3 - 25x^2 +38x -17.\\]What is the degree of $f$?";
    const SMALL = "Convert $\\frac{3}{20}$ to a decimal.";
    const gated = [...items, item("poly", POLY), item("small", SMALL)];
    const ids = (text: string, config = {}) => ParaphraseIndex.build(gated, config).check(text).map((m) => m.id);

    it("extra numbers: the item's text plus other numbers is another problem", () => {
      const text = `${stem} She also keeps 12 hens and 30 ducks.`;
      expect(ids(text)).toEqual([]);
      expect(ids(text, { maxExtraNumbers: 5, extraNumbersPerItemNumber: 1 })).toEqual(["farm"]);
      // One extra number is tolerated (four item numbers x 0.34 >= 1).
      expect(ParaphraseIndex.build(gated).check(`${stem} She also keeps 12 hens.`)[0]).toMatchObject({ id: "farm", extraNumbers: 1 });
    });

    it("number order: the same numbers in another order are another polynomial; a reformatted copy keeps the order", () => {
      const shuffled = POLY.replace("3x^4+x^3 - 25x^2 +38x -17", "38x^4+25x^3 - 17x^2 +3x -1");
      expect(ids(shuffled)).toEqual([]);
      expect(ids(shuffled, { minNumberOrder: 0 })).toEqual(["poly"]);
      const copy = "If $f$ is a polynomial with \\[(t - 1) f(t) = 3t^{4} + t^{3} - 25t^{2} + 38t - 17,\\] what is the degree of $f$?";
      expect(ParaphraseIndex.build(gated).check(copy)[0]).toMatchObject({ id: "poly", numberOrder: 1 });
    });

    it("never throws on any string, and every match it reports passes the gates (property)", () => {
      const index = ParaphraseIndex.build(gated);
      const pieces = fc.constantFrom(stem, POLY, SMALL, "12", "3/20", "$x^2$", "eighth", "goats", " ", "\\frac{1}{2}");
      const text = fc.oneof(fc.string({ unit: "binary" }), fc.array(pieces, { maxLength: 12 }).map((p) => p.join(" ")));
      fc.assert(
        fc.property(text, (t) =>
          index.check(t).every((m) => m.lengthRatio >= 0.75 && m.missingWordShare <= 0.08 && m.numberOrder >= 0.5 && m.numberContainment === 1),
        ),
        { seed: 20261124, numRuns: 300 },
      );
    });

    it("formula items (no word feature): numbers and variables alone match only a near-exact copy", async () => {
      const math500 = await loadShippedBenchmarks(["math500"]);
      const index = ParaphraseIndex.build(math500);
      const id = "test/algebra/2157.json"; // Solve for $x$: $2^{2x} = 256^\frac{1}{2}$.
      const polynomial = "There is a polynomial $P$ such that for every real number $x$, \\[ x^{512} + x^{256} + 1 = (x^2 + x + 1) P(x). \\] When $P$ is written in standard polynomial form, how many of its coefficients are nonzero?";
      expect(index.check(polynomial).map((m) => m.id)).not.toContain(id);
      expect(index.check("Solve for x: 2^(2x) = 256^(1/2).").map((m) => m.id)).toContain(id);
    });

    it("small items: only a near-exact copy matches", () => {
      expect(ids("Write $3/20$ as a decimal number.")).toEqual([]);
      expect(ids("Write $3/20$ as a decimal number.", { smallItemWeight: 0 })).toEqual(["small"]);
      expect(ids("Convert \\(\\dfrac{3}{20}\\) to a decimal.")).toEqual(["small"]);
    });
  });

  it("skips items too short to judge, and validates its config", () => {
    const index = ParaphraseIndex.build([item("short", "Compute $x$."), ...items]);
    expect(index.skipped.map((s) => s.id)).toEqual(["short"]);
    expect(() => ParaphraseIndex.build(items, { threshold: 2 })).toThrow(/\[infialign\/decontam\] paraphrase-index: invalid config \(threshold:/);
  });
});

describe("paraphrase evaluation set (test/fixtures)", () => {
  const leaks = [...readJsonl("leaks-generated.jsonl"), ...readJsonl("leaks-handwritten.jsonl")];
  const clean = readJsonl("clean.jsonl");
  let dec: Decontaminator;
  beforeAll(async () => {
    dec = await Decontaminator.build(await loadShippedBenchmarks());
  });

  it("does not flag real MATH test siblings of MATH500 items, but flags faithful rewordings of those items", () => {
    const flagged = (text: string) => dec.check(text).matches.map((m) => m.id);
    // From ../shared/data/pools/math-test.jsonl: same template, another distinctive word, other or reordered numbers.
    for (const sibling of [
      "Determine the number of ways to arrange the letters of the word PARABOLA.",
      "Let $a$ and $b$ be the solutions of the equation $2x^2-10x+5=0$. What is the value of $(2a-3)(4b-6)$?",
      "Suppose that $f$ is a polynomial such that \\[(x^2-1)\\cdot f(x)=5x^6-x^5+3x^4+x^3 - 25x^2 +38x -17.\\]What is the degree of $f$?",
      "Simplify and rationalize the denominator: $$\\frac{8}{3\\sqrt{3}+ 7\\sqrt{27}}.$$",
      "What is the sixth term in the geometric sequence $\\frac{27}{125}, \\frac{9}{25}, \\frac{3}{5},\\ldots$? Express your answer as a common fraction.",
    ]) {
      expect(flagged(sibling), sibling).toEqual([]);
    }
    expect(flagged("Find the number of ways to arrange the letters of the word ELLIPSE.")).toEqual(["test/counting_and_probability/1060.json"]);
    expect(flagged("If $f$ is a polynomial with \\((t - 1) f(t) = 3t^4 + t^3 - 25t^2 + 38t - 17\\), what is the degree of $f$?")).toEqual(["test/algebra/187.json"]);
    expect(flagged("Simplify: $$3/\\sqrt{27}$$")).toEqual(["test/algebra/1519.json"]);
    expect(flagged("Consider the geometric sequence $\\frac{125}{9}, \\frac{25}{3}, 5, 3, \\ldots$. Find its eighth term as a common fraction.")).toEqual(["test/algebra/1072.json"]);
  });

  it("has the documented size", () => {
    expect(leaks.length).toBeGreaterThanOrEqual(230);
    expect(readJsonl("leaks-handwritten.jsonl").length).toBeGreaterThanOrEqual(30);
    expect(clean.length).toBeGreaterThanOrEqual(300);
  });

  it("combined detector: recall >= 0.95 on leaks, <= 2% false positives on look-alikes, on both halves", () => {
    const stats: Record<string, { leaks: number; caught: number; clean: number; fp: number; byLayer: Record<string, number> }> = {};
    for (const h of ["dev", "heldOut"]) stats[h] = { leaks: 0, caught: 0, clean: 0, fp: 0, byLayer: { ngram: 0, paraphrase: 0 } };
    const missed: string[] = [];
    for (const l of leaks) {
      const s = stats[half(l.text)]!;
      s.leaks++;
      // The fixtures name GSM8K by its former name.
      const own = dec.check(l.text).matches.find((m) => (m.benchmark === l.benchmark || (l.benchmark === "gsm8k-test" && m.benchmark === "gsm8k")) && m.id === l.id);
      if (own) {
        s.caught++;
        s.byLayer[own.method] = (s.byLayer[own.method] ?? 0) + 1;
      } else missed.push(`${l.benchmark}/${l.id}: ${l.text.slice(0, 80)}`);
    }
    const fps: string[] = [];
    for (const c of clean) {
      const s = stats[half(c.text)]!;
      s.clean++;
      const res = dec.check(c.text);
      if (res.contaminated) {
        s.fp++;
        fps.push(`${c.text.slice(0, 60)} -> ${res.matches[0]!.benchmark}/${res.matches[0]!.id} ${res.matches[0]!.method} ${res.matches[0]!.score?.toFixed(2)}`);
      }
    }
    const table = Object.entries(stats).map(
      ([h, s]) => `${h}: recall ${(s.caught / s.leaks).toFixed(3)} (${s.caught}/${s.leaks}; ngram ${s.byLayer.ngram}, paraphrase ${s.byLayer.paraphrase}), false positives ${(s.fp / s.clean).toFixed(3)} (${s.fp}/${s.clean})`,
    );
    console.info(`paraphrase eval\n  ${table.join("\n  ")}\n  missed:\n    ${missed.join("\n    ")}\n  false positives:\n    ${fps.join("\n    ")}`);
    for (const s of Object.values(stats)) {
      expect(s.caught / s.leaks).toBeGreaterThanOrEqual(0.95);
      expect(s.fp / s.clean).toBeLessThanOrEqual(0.02);
    }
  });
});
