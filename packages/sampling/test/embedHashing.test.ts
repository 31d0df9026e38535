import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HashingEmbedder, tokenize } from "../src/embed/index.js";

function cosine(v: Float32Array, dim: number, a: number, b: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += (v[a * dim + j] as number) * (v[b * dim + j] as number);
  return s;
}

function norm(v: Float32Array, dim: number, row: number): number {
  return Math.sqrt(cosine(v, dim, row, row));
}

const VOCAB = ["triangle", "prime", "integer", "circle", "probability", "derivative", "matrix", "apples", "dollars", "velocity", "molecule", "enzyme", "angle", "remainder", "vector", "coin", "radius", "polynomial", "function", "limit"];
const sentence = fc.array(fc.constantFrom(...VOCAB), { minLength: 8, maxLength: 20 }).map((w) => w.join(" "));

describe("tokenize", () => {
  it("lowercases, keeps numbers and LaTeX commands, splits Unicode words", () => {
    expect(tokenize("Find $\\frac{3}{4}$ of Ünïcode 2.5 ÉTÉ x^2=9")).toEqual(["find", "\\frac", "3", "4", "of", "ünïcode", "2.5", "été", "x", "^", "2", "=", "9"]);
  });

  it("never yields empty or upper-case tokens", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), (text) => {
        for (const t of tokenize(text)) {
          expect(t.length).toBeGreaterThan(0);
          expect(t).toBe(t.toLowerCase());
        }
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});

describe("HashingEmbedder", () => {
  it("returns unit rows, and zero rows for empty text", () => {
    const e = new HashingEmbedder({ dim: 64 });
    const v = e.embedSync(["The radius of a circle is 3.", "", "   ", "Compute 2+2."]);
    expect(v.length).toBe(4 * 64);
    expect(norm(v, 64, 0)).toBeCloseTo(1, 5);
    expect(norm(v, 64, 1)).toBe(0);
    expect(norm(v, 64, 2)).toBe(0);
    expect(norm(v, 64, 3)).toBeCloseTo(1, 5);
  });

  it("is deterministic for a seed and changes with the seed", async () => {
    const texts = ["Let $f(x) = x^2$. Find $f(3)$.", "A coin is flipped twice."];
    const a = new HashingEmbedder({ seed: 1 }).embedSync(texts);
    const b = await new HashingEmbedder({ seed: 1 }).embed(texts);
    const c = new HashingEmbedder({ seed: 2 }).embedSync(texts);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(c)).not.toEqual(Array.from(a));
  });

  it("puts a text closer to an edited copy of itself than to an unrelated text", () => {
    const e = new HashingEmbedder({ dim: 256, seed: 3 });
    fc.assert(
      fc.property(sentence, sentence, fc.nat(), (base, other, pick) => {
        fc.pre(new Set(base.split(" ")).size >= 5 && base !== other);
        const words = base.split(" ");
        // Edited copy: one word replaced; the unrelated text shares no word order with base.
        words[pick % words.length] = "banana";
        const v = e.embedSync([base, words.join(" "), `${other} ${other}`.split(" ").reverse().join(" ")]);
        const near = cosine(v, 256, 0, 1);
        const far = cosine(v, 256, 0, 2);
        expect(near).toBeGreaterThan(far);
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it("ranks a paraphrase above texts on other topics", () => {
    const e = new HashingEmbedder({ dim: 256 });
    const v = e.embedSync([
      "What is the probability that two fair dice show a sum of 7?",
      "Two fair dice are rolled. Find the probability their sum is 7.",
      "Find the area of a triangle with sides 3, 4 and 5.",
      "Write a Python function that reverses a linked list.",
    ]);
    expect(cosine(v, 256, 0, 1)).toBeGreaterThan(cosine(v, 256, 0, 2) + 0.2);
    expect(cosine(v, 256, 0, 1)).toBeGreaterThan(cosine(v, 256, 0, 3) + 0.2);
  });

  it("weighs a word found in every document less once fitted (IDF)", () => {
    const corpus = Array.from({ length: 50 }, (_, i) => `common filler word${i} token${i % 7}`);
    const query = ["common rare"];
    const onlyCommon = ["common"];
    const onlyRare = ["rare"];
    const unfitted = new HashingEmbedder({ dim: 256, wordNgrams: [1, 1], charNgrams: [3, 3] });
    const fitted = new HashingEmbedder({ dim: 256, wordNgrams: [1, 1], charNgrams: [3, 3] }).fit(corpus);
    const share = (e: HashingEmbedder) => {
      const v = e.embedSync([...query, ...onlyCommon, ...onlyRare]);
      return { common: cosine(v, 256, 0, 1), rare: cosine(v, 256, 0, 2) };
    };
    const before = share(unfitted);
    const after = share(fitted);
    expect(after.common).toBeLessThan(before.common - 0.1);
    expect(after.rare).toBeGreaterThan(before.rare + 0.1);
    expect(fitted.id).not.toBe(unfitted.id);
    expect(fitted.fittedDocuments).toBe(50);
  });

  it("round-trips its IDF table through JSON", () => {
    const corpus = ["a prime number", "a circle and a triangle", "prime factors of 84"];
    const e = new HashingEmbedder({ dim: 32, seed: 5 }).fit(corpus);
    const copy = HashingEmbedder.fromJSON(JSON.parse(JSON.stringify(e)));
    expect(copy.id).toBe(e.id);
    expect(Array.from(copy.embedSync(corpus))).toEqual(Array.from(e.embedSync(corpus)));
    expect(() => HashingEmbedder.fromJSON({ format: "other" })).toThrow(/\[infialign\/sampling\] hashing-embedder: not a serialized HashingEmbedder/);
  });

  it("reports every invalid option at once", () => {
    expect(() => new HashingEmbedder({ dim: 0, charNgrams: [5, 3] })).toThrow(/dim.*charNgrams|charNgrams.*dim/s);
  });
});
