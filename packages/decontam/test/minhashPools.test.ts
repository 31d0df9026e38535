import { readFileSync } from "node:fs";
import { describeWhen, firstMissing, sharedDataFile } from "@infialign/test-utils/vitest";
import { expect, it } from "vitest";
import { findNearDuplicates } from "../src/minhash/index.js";

const { path: mathPath, missing: mathMissing } = sharedDataFile("pools", "math-test.jsonl");
const { path: gsmPath, missing: gsmMissing } = sharedDataFile("pools", "gsm8k-train.jsonl");
const readField = (path: string, field: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as Record<string, string>)[field] as string);

// Shared pools live outside the repository (../shared/data).
describeWhen(firstMissing(mathMissing, gsmMissing))("near-duplicates in the shared pools (defaults)", () => {
  it("MATH test problems: finds the reworded twins and flags under 1% of the pool", async () => {
    const problems = readField(mathPath, "problem");
    const res = await findNearDuplicates(problems);
    // Same problem with different spacing/braces: "4^{a}=5, … a\\cdot b" vs "4^a = 5, … a \\cdot b".
    expect(res.duplicateOf[2348]).toBe(1022);
    expect(res.similarity[2348]).toBe(1);
    // "maximum value of y" vs "minimum value of x" with the same equation.
    expect(res.duplicateOf[841]).toBe(38);
    const flagged = res.duplicateOf.filter((d) => d >= 0).length;
    expect(flagged).toBeGreaterThan(10);
    expect(flagged).toBeLessThan(problems.length / 100);
    for (const cluster of res.clusters) for (const m of cluster.slice(1)) expect(res.duplicateOf[m]).toBe(cluster[0]);
  });

  it("GSM8K train questions: the Josie/Amanda cassette-tape twins are the only cluster", async () => {
    const res = await findNearDuplicates(readField(gsmPath, "question"));
    expect(res.clusters).toEqual([[2483, 6691]]);
  });
});
