import { existsSync, readFileSync } from "node:fs";
import { sharedDataPath } from "@infialign/test-utils";
import { beforeAll, describe, expect, it } from "vitest";
import { loadShippedBenchmarks, NgramIndex } from "../src/index.js";

const mathPath = sharedDataPath("pools", "math-test.jsonl");
const gsmPath = sharedDataPath("pools", "gsm8k-train.jsonl");
const readJsonl = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

// Shared pools live outside the repository; without them these tests skip with a message.
describe.skipIf(!mathPath || !existsSync(mathPath))("MATH test pool vs shipped benchmarks (n = 13)", () => {
  let index: NgramIndex;
  beforeAll(async () => {
    index = await NgramIndex.build(await loadShippedBenchmarks());
  });

  it("flags all 500 MATH500 problems, each against its own MATH500 item, plus the templated siblings", async () => {
    const math500 = new Map((await loadShippedBenchmarks(["math500"])).map((it) => [it.text, it.id]));
    const pool = readJsonl(mathPath as string);
    expect(pool).toHaveLength(5000);
    const own: string[] = [];
    const others: { idx: unknown; match: string }[] = [];
    for (const rec of pool) {
      const problem = rec.problem as string;
      const res = index.check(problem);
      const id = math500.get(problem);
      if (id !== undefined) {
        expect(res.contaminated).toBe(true);
        expect(res.matches).toContainEqual(expect.objectContaining({ benchmark: "math500", id, overlap: 1 }));
        own.push(id);
      } else if (res.contaminated) {
        const m = res.matches[0]!;
        others.push({ idx: rec.idx, match: `${m.benchmark}/${m.id} overlap ${m.overlap.toFixed(2)}: "${m.ngram}"` });
      }
    }
    expect(new Set(own).size).toBe(500);
    // Problems outside MATH500 that share a long verbatim stem (or AIME-style boilerplate) with a benchmark item.
    console.info(`MATH pool: ${own.length} MATH500 problems flagged, ${others.length} others; e.g.\n${others.slice(0, 8).map((o) => `  idx ${o.idx} -> ${o.match}`).join("\n")}`);
    expect(others.length).toBe(98);
  });

  it.skipIf(!gsmPath || !existsSync(gsmPath))("GSM8K train: only a few templated siblings of test questions are flagged", () => {
    const flagged = readJsonl(gsmPath as string).flatMap((rec) => {
      const res = index.check(rec.question as string);
      return res.contaminated ? [`${res.matches[0]!.benchmark}/${res.matches[0]!.id}: "${res.matches[0]!.ngram}"`] : [];
    });
    console.info(`GSM8K train: ${flagged.length} of 7473 flagged\n  ${flagged.join("\n  ")}`);
    expect(flagged).toHaveLength(4);
    expect(flagged.every((f) => f.startsWith("gsm8k-test/"))).toBe(true);
  });
});
