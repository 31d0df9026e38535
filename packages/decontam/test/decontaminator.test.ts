import { describe, expect, it } from "vitest";
import type { BenchmarkItem } from "../src/benchmarks/loadBenchmark.js";
import { DEFAULT_DECONTAMINATOR_CONFIG, Decontaminator, resolveDecontaminatorConfig } from "../src/decontaminator.js";
import { HashingEmbedder } from "./fixtures/hashingEmbedder.js";

const LONG =
  "Let $x$ and $y$ be real numbers such that $x + y = 10$ and $xy = 21$. Compute the value of $x^2 + y^2$ in simplest form, and then explain why it is unique.";
const FARM = "A farmer has 17 sheep and 23 goats. He sells 9 goats at the market and buys 4 cows. How many animals does the farmer have now?";
const items: BenchmarkItem[] = [
  { benchmark: "alg", id: "1", text: LONG },
  { benchmark: "gsm", id: "2", text: FARM },
  { benchmark: "gsm", id: "3", text: "A baker made 40 loaves of bread and sold 25 of them before noon. How many loaves are left?" },
];

describe("resolveDecontaminatorConfig", () => {
  it("merges sections over the defaults and validates them", () => {
    const c = resolveDecontaminatorConfig({ ngram: { n: 8 }, paraphrase: { enabled: false, threshold: 0.7 }, embedding: { topK: 1 } });
    expect(c.ngram).toMatchObject({ n: 8, minEvidenceWords: 20 });
    expect(c.paraphrase).toMatchObject({ enabled: false, threshold: 0.7, minNumberContainment: 1 });
    expect(c.embedding).toMatchObject({ topK: 1, threshold: 0.9 });
    expect(DEFAULT_DECONTAMINATOR_CONFIG.paraphrase.enabled).toBe(true);
    expect(() => resolveDecontaminatorConfig({ ngram: { n: 0 } })).toThrow(/ngram-index: invalid config/);
    expect(() => resolveDecontaminatorConfig({ paraphrase: { threshold: -1 } })).toThrow(/paraphrase-index: invalid config/);
    expect(resolveDecontaminatorConfig({ paraphrase: { minNumberOrder: 0.8 } }).paraphrase).toMatchObject({ minNumberOrder: 0.8, maxExtraNumbers: 1 });
    expect(() => resolveDecontaminatorConfig({ paraphrase: { maxMissingWordShare: 2, minNumberOrder: -1 } })).toThrow(
      /paraphrase-index: invalid config \(minNumberOrder: .*; maxMissingWordShare: |paraphrase-index: invalid config \(maxMissingWordShare: .*; minNumberOrder: /,
    );
    expect(() => resolveDecontaminatorConfig({ bogus: 1 } as never)).toThrow(/\[infialign\/decontam\] decontaminator: invalid config/);
  });
});

describe("Decontaminator", () => {
  it("reports verbatim copies as ngram matches with the evidence span and overlap", async () => {
    const dec = await Decontaminator.build(items);
    const res = dec.check(`Please solve: ${LONG}`);
    expect(res.contaminated).toBe(true);
    expect(res.matches).toHaveLength(1);
    expect(res.matches[0]).toMatchObject({ benchmark: "alg", id: "1", method: "ngram", overlap: 1 });
    expect(res.matches[0]!.ngram!.split(" ").length).toBeGreaterThanOrEqual(20);
  });

  it("reports paraphrases as paraphrase matches with a score, unless disabled", async () => {
    const text = "How many animals does a farmer own now if he had 17 sheep and 23 goats, sold 9 of the goats at market, and purchased 4 cows?";
    const res = (await Decontaminator.build(items)).check(text);
    expect(res.matches).toEqual([expect.objectContaining({ benchmark: "gsm", id: "2", method: "paraphrase" })]);
    expect(res.matches[0]!.score).toBeGreaterThan(0.35);
    expect((await Decontaminator.build(items, { paraphrase: { enabled: false } })).check(text).contaminated).toBe(false);
    expect((await Decontaminator.build(items)).check("What is the capital of France?")).toEqual({ contaminated: false, matches: [] });
  });

  it("checkBatch adds embedding matches when built with an embedder, without duplicating items", async () => {
    const texts = [FARM, "baker loaves bread sold noon left made", "nothing in common at all"];
    const plain = await Decontaminator.build(items);
    const withEmb = await Decontaminator.build(items, { embedding: { threshold: 0.6 } }, { embedder: new HashingEmbedder() });
    const a = await plain.checkBatch(texts);
    const b = await withEmb.checkBatch(texts);
    expect(a).toEqual(texts.map((t) => plain.check(t)));
    expect(b[0]!.matches.map((m) => `${m.id}:${m.method}`)).toEqual(["2:ngram"]);
    expect(b[1]!.matches).toEqual([expect.objectContaining({ benchmark: "gsm", id: "3", method: "embedding" })]);
    expect(b[1]!.contaminated).toBe(true);
    expect(b[2]).toEqual({ contaminated: false, matches: [] });
  });
});
