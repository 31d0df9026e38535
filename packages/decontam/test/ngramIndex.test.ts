import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type BenchmarkItem, NgramIndex } from "../src/index.js";

const item = (id: string, text: string, benchmark = "toy"): BenchmarkItem => ({ benchmark, id, text });
const LONG = "Let $x$ and $y$ be real numbers such that $x + y = 10$ and $xy = 21$. Compute the value of $x^2 + y^2$ in simplest form.";

describe("NgramIndex", () => {
  it("flags a text that contains a 13-gram of an item and reports the span", async () => {
    const index = await NgramIndex.build([item("a", LONG)], { minEvidenceWords: 13 });
    const res = index.check(`Solve this: ${LONG.replace("21", "twenty-one")} Show your work.`);
    expect(res.contaminated).toBe(true);
    expect(res.matches).toHaveLength(1);
    expect(res.matches[0]).toMatchObject({ benchmark: "toy", id: "a" });
    expect(res.matches[0]!.ngram).toBe("let x and y be real numbers such that x y 10 and xy");
    expect(res.matches[0]!.overlap).toBeGreaterThan(0);
    expect(res.matches[0]!.overlap).toBeLessThan(1);
    expect(index.check(LONG).matches[0]!.overlap).toBe(1);
  });

  it("does not flag unrelated text or fewer than n shared words", async () => {
    const index = await NgramIndex.build([item("a", LONG)]);
    expect(index.check("A completely different problem about triangles and circles.")).toEqual({ contaminated: false, matches: [] });
    // 12 consecutive shared words, n = 13.
    expect(index.check("compute the value of x 2 y 2 in simplest zzz").contaminated).toBe(false);
    expect(index.check("").contaminated).toBe(false);
  });

  it("n is configurable", async () => {
    const text = "compute the value of x 2 y 2 in simplest zzz";
    expect((await NgramIndex.build([item("a", LONG)], { n: 8, minEvidenceWords: 8 })).check(text).contaminated).toBe(true);
    expect((await NgramIndex.build([item("a", LONG)], { n: 13 })).check(text).contaminated).toBe(false);
    await expect(NgramIndex.build([], { n: 0 })).rejects.toThrow(/\[infialign\/decontam\] ngram-index: invalid config \(n:/);
  });

  it("needs a shared run of minEvidenceWords words unless the item appears whole", async () => {
    const index = await NgramIndex.build([item("a", LONG)]);
    // 13 shared words: enough with the lm-eval rule, too short as evidence with the default 20.
    expect(index.check("let x and y be real numbers such that x y 10 and xy zzz").contaminated).toBe(false);
    const long = "let x and y be real numbers such that x y 10 and xy 21 compute the value of x 2 y 2";
    expect(index.check(`${long} zzz`).matches[0]).toMatchObject({ id: "a", ngram: long });
    await expect(NgramIndex.build([], { n: 13, minEvidenceWords: 12 })).rejects.toThrow(/minEvidenceWords \(12\) must be at least n/);
  });

  it("does not take stock phrases shared by many items, or stop phrases, as evidence", async () => {
    const stock = "where m and n are relatively prime positive integers find m n and report the answer mod 1000 please";
    const items = ["apples cost three dollars", "a frog jumps on lily pads", "ten coins are tossed at random"].map((p, i) =>
      item(String(i), `${p} in a story about many things the probability is m n ${stock}`),
    );
    const text = `Some new problem. The answer is m n ${stock}`;
    expect((await NgramIndex.build(items, { n: 8, minEvidenceWords: 8 })).check(text).contaminated).toBe(false);
    const noStock = await NgramIndex.build(items, { n: 8, minEvidenceWords: 8, stockItemThreshold: Number.POSITIVE_INFINITY });
    expect(noStock.check(text).matches).toHaveLength(3);
    // Each item whole still matches itself, stock phrase and all.
    const index = await NgramIndex.build(items, { n: 8, minEvidenceWords: 8 });
    expect(index.stockCount).toBeGreaterThan(0);
    expect(index.check(items[1]!.text).matches.map((m) => m.id)).toEqual(["1"]);
    const one = await NgramIndex.build([item("x", `a frog jumps ${stock}`)], { n: 8, minEvidenceWords: 8, stopPhrases: [stock] });
    expect(one.check(`the answer is m n ${stock}`).contaminated).toBe(false);
    expect(one.check(`a frog jumps ${stock}`).contaminated).toBe(true);
  });

  it("catches items shorter than n words when the text contains the whole item", async () => {
    const index = await NgramIndex.build([item("short", "Compute $\\dbinom{31}{28}$."), item("tiny", "Compute.")]);
    expect(index.skipped.map((s) => s.id)).toEqual(["tiny"]);
    const hit = index.check("Here is a question. Compute \\binom{31}{28}. Answer briefly.");
    expect(hit.contaminated).toBe(true);
    expect(hit.matches[0]).toMatchObject({ id: "short", ngram: "compute binom 31 28", overlap: 1 });
    expect(index.check("Compute \\binom{31}{27}.").contaminated).toBe(false);
    expect(index.check("Compute something.").contaminated).toBe(false);
  });

  it("reports every item that shares an n-gram", async () => {
    const index = await NgramIndex.build([item("a", LONG, "b1"), item("b", LONG, "b2")]);
    const res = index.check(LONG);
    expect(res.matches.map((m) => `${m.benchmark}/${m.id}`).sort()).toEqual(["b1/a", "b2/b"]);
  });

  it("grows its table past the initial capacity", async () => {
    const items = Array.from({ length: 300 }, (_, i) => item(String(i), Array.from({ length: 40 }, (_, j) => `w${i}x${j}`).join(" ")));
    const index = await NgramIndex.build(items.slice(0, 1).concat(items.slice(1)));
    expect(index.size).toBe(300 * 28);
    expect(index.check(items[299]!.text).matches[0]!.id).toBe("299");
  });

  it("never throws, and an item always matches itself after whitespace/case changes (property)", async () => {
    const word = fc.stringMatching(/^[A-Za-z0-9]{1,8}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.array(word, { minLength: 3, maxLength: 40 }),
        fc.array(fc.constantFrom(" ", "  ", "\n", "\t", " \n "), { minLength: 40, maxLength: 40 }),
        fc.boolean(),
        fc.string({ unit: "binary" }),
        fc.integer({ min: 1, max: 20 }),
        async (words, seps, upper, noise, n) => {
          const text = words.join(" ");
          const index = await NgramIndex.build([item("x", text)], { n });
          expect(() => index.check(noise)).not.toThrow();
          const variant = words.map((w, i) => (upper ? w.toUpperCase() : w.toLowerCase()) + (seps[i] ?? " ")).join("");
          const res = index.check(`${noise} ${variant} ${noise}`);
          expect(res.contaminated).toBe(true);
          expect(res.matches.some((m) => m.id === "x")).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  describe("drawing code", () => {
    const GRID = "[asy] unitsize(0.4 cm); int i, n; for (i = -8; i <= 8; ++i) { draw((i,-8)--(i,8),gray(0.7)); draw((-8,i)--(8,i),gray(0.7)); } draw((-8,0)--(8,0),Arrows(6)); draw((0,-8)--(0,8),Arrows(6)); [/asy]";
    const PROSE = "The following line is parameterized, so that its direction vector is of the form $(-7, b)$. Find $b$ from the picture drawn below on the usual integer grid.";

    it("is no evidence alone: another problem with the same figure code is not flagged; the same problem text is", async () => {
      const index = await NgramIndex.build([item("line", `${PROSE} ${GRID}`)]);
      expect(index.check(`The graph of $y = f(x)$ is shown below. ${GRID}`)).toEqual({ contaminated: false, matches: [] });
      const withProse = index.check(`${PROSE.replace("picture", "figure")} ${GRID}`);
      // 13+ shared prose words: the code joins the evidence run.
      expect(withProse.matches[0]!.ngram).toMatch(/^drawn below on the usual integer grid asy unitsize 0 4 cm .* arrows 6 asy$/);
      expect(index.check(`Solve: ${PROSE} ${GRID}`).matches[0]!.overlap).toBe(1);
    });

    it("counts when the item itself is mostly figure code only for a whole copy", async () => {
      const index = await NgramIndex.build([item("fig", `Find the area of the shaded region. ${GRID}`)]);
      expect(index.check(`Find the perimeter of the polygon. ${GRID}`).contaminated).toBe(false);
      expect(index.check(`Find the area of the shaded region. ${GRID}`).contaminated).toBe(true);
    });
  });

  describe("stock phrases learned from the background (the corpus being cleaned)", () => {
    const FORM = "Enter your answer in the form Ax + By + Cz + D = 0, where A, B, C, D are integers such that A > 0 and gcd(|A|,|B|,|C|,|D|) = 1.";
    const ITEM = `Find the equation of the plane containing the points (0,-1,-1), (-4,4,4), and (4,5,1). ${FORM}`;
    const pool = [
      `Find the equation of the plane that bisects the angle between two given planes through the point (-5,-1,-5). ${FORM}`,
      `Let line L be the intersection of the planes x + y + z = 6 and 2x + 3y + 4z = -5; find the plane containing L and (1,1,1). ${FORM}`,
      "A farmer has 17 sheep and 23 goats. How many animals does the farmer have?",
    ];

    it("an item n-gram in backgroundStockDocs documents is stock; the documents sharing only it are no longer flagged", async () => {
      const plain = await NgramIndex.build([item("plane", ITEM)]);
      const learned = await NgramIndex.build([item("plane", ITEM)], {}, { background: pool });
      expect(pool.slice(0, 2).map((t) => plain.check(t).contaminated)).toEqual([true, true]);
      expect(pool.map((t) => learned.check(t).contaminated)).toEqual([false, false, false]);
      expect(learned.backgroundDocs).toBe(3);
      expect(learned.backgroundStockCount).toBeGreaterThan(0);
      expect(learned.check(`Please solve. ${ITEM}`).matches[0]).toMatchObject({ id: "plane", overlap: 1 });
      // One document is not enough (backgroundStockDocs 2), and Infinity turns learning off.
      expect((await NgramIndex.build([item("plane", ITEM)], {}, { background: pool.slice(1) })).check(pool[0]!).contaminated).toBe(true);
      expect((await NgramIndex.build([item("plane", ITEM)], { backgroundStockDocs: Number.POSITIVE_INFINITY }, { background: pool })).check(pool[0]!).contaminated).toBe(true);
    });

    it("copies of the item in the background do not make it stock (copyOverlap)", async () => {
      const copies = [ITEM, `Problem 7. ${ITEM}`, ITEM.replace("(4,5,1)", "(4, 5, 1)"), `${ITEM} Show your work.`];
      const learned = await NgramIndex.build([item("plane", ITEM)], {}, { background: copies });
      expect(learned.backgroundStockCount).toBe(0);
      // An edited copy (last point changed) keeps its evidence: the repeated copies were not counted.
      const edited = ITEM.replace("(4,5,1)", "(3,3,3)");
      expect(learned.check(edited).contaminated).toBe(true);
    });
  });
});
