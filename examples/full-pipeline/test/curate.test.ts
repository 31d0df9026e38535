import type { Sample } from "@infialign/data";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compositionFromSelectStats, difficultyOf, splitByDifficulty } from "../src/steps/curate.js";

const sample = (id: number, level: number | undefined, response: string, domain = "d"): Sample =>
  ({ id: id.toString(16).padStart(32, "0"), source: "s", domain, prompt: `p${id}`, response, meta: level === undefined ? {} : { level }, lineage: [] }) as Sample;

describe("curriculum split", () => {
  it("sends rated records by difficulty and unrated ones by response length (shorter half easy)", () => {
    const samples = [sample(1, 1, "x"), sample(2, 3, "x"), sample(3, undefined, "long long"), sample(4, undefined, "s"), sample(5, 2, "x")];
    const { easy, hard } = splitByDifficulty(samples, 2);
    expect(easy.map((s) => s.prompt)).toEqual(["p1", "p5", "p4"]);
    expect(hard.map((s) => s.prompt)).toEqual(["p2", "p3"]);
  });

  it("keeps every record exactly once", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }), fc.string()), { maxLength: 40 }), fc.integer({ min: 0, max: 6 }), (rows, cut) => {
        const samples = rows.map(([level, response], i) => sample(i, level, response));
        const { easy, hard } = splitByDifficulty(samples, cut);
        expect([...easy, ...hard].map((s) => s.id).sort()).toEqual(samples.map((s) => s.id).sort());
        for (const s of easy) if (difficultyOf(s) !== undefined) expect(difficultyOf(s)).toBeLessThanOrEqual(cut);
      }),
    );
  });

  it("reads the selection report's composition and names what is missing", () => {
    const stats = { difficulty: { metric: "response_tokens", labels: ["Q1", "Q2"] }, composition: { before: { a: [2, 1] }, after: { a: [1, 0] } } };
    expect(compositionFromSelectStats(stats)).toEqual({ difficultyLabels: ["Q1", "Q2"], metric: "response_tokens", before: { a: [2, 1] }, after: { a: [1, 0] } });
    expect(() => compositionFromSelectStats({ budget: 1 })).toThrow(/no composition\/difficulty report \(fields seen: budget\)/);
  });
});
