// Every gold solution of the training pools must be judged equal to its own answer: the MATH test
// pool (answer = the solution's last \boxed{}, MATH's convention) and GSM8K train (answer = the
// text after "####").
import { readFileSync } from "node:fs";
import { extractBoxed, extractGsm8kFinal } from "@infialign/data";
import { describeWhen, sharedDataFile } from "@infialign/test-utils/vitest";
import { expect, it } from "vitest";
import { verifyMath } from "../src/math/index.js";

const mathPool = sharedDataFile("pools", "math-test.jsonl");
const gsmPool = sharedDataFile("pools", "gsm8k-train.jsonl");
const read = <T>(path: string): T[] =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as T);

describeWhen(mathPool.missing)("MATH test pool: each solution states its boxed answer", () => {
  it("judges all 5,000 solutions equal to their last box, or to all boxes closing the solution", () => {
    const records = read<{ idx: number; solution: string }>(mathPool.path);
    expect(records).toHaveLength(5000);
    const failures: string[] = [];
    const together: string[] = [];
    for (const r of records) {
      const gold = extractBoxed(r.solution)!;
      const v = verifyMath(gold, r.solution);
      if (v.correct) continue;
      // "… are $\boxed{-2}$ and $\boxed{1}$": several boxes form the answer, the last one is a part of it.
      if (v.extracted !== gold && v.extracted?.endsWith(`, ${gold}`) && verifyMath(v.extracted, r.solution).correct) together.push(`${r.idx}`);
      else failures.push(`${r.idx}: ${gold} → ${v.reason} ${v.extracted}`);
    }
    expect(failures).toEqual([]);
    // Known: 414, 2703, 2716, 2912, 4860 close with two boxes ("$\boxed{3}$ or $\boxed{\frac{2}{5}}$").
    expect(together.length).toBeLessThan(10);
  });
});

describeWhen(gsmPool.missing)("GSM8K train pool: each solution states its #### answer", () => {
  it("judges all 7,473 solutions equal to their #### answer", () => {
    const records = read<{ answer: string }>(gsmPool.path);
    expect(records).toHaveLength(7473);
    const failures = records
      .map((r, i) => ({ i, gold: extractGsm8kFinal(r.answer)!, v: verifyMath(extractGsm8kFinal(r.answer)!, r.answer) }))
      .filter((x) => !x.v.correct)
      .map((x) => `${x.i}: ${x.gold} → ${x.v.reason} ${x.v.extracted}`);
    expect(failures).toEqual([]);
  });
});
