import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeSample } from "@infialign/data";
import { loadShippedBenchmarks } from "@infialign/decontam";
import { describeReadme } from "@infialign/test-utils/vitest";
import { expect } from "vitest";

// A small canonical pool for the quick start: three domains, answers that match their gold except every seventh,
// one exact near-duplicate pair.
function writePool(dir: string) {
  mkdirSync(join(dir, "data", "canonical"), { recursive: true });
  const domains = ["algebra", "geometry", "number theory"];
  const samples = Array.from({ length: 60 }, (_, i) => {
    const gold = String(i * 3 + 1);
    const answer = i % 7 === 6 ? String(i * 3 + 2) : gold;
    return makeSample({
      source: "readme",
      domain: domains[i % 3],
      prompt: `Problem ${i}: a ${domains[i % 3]} question whose answer is ${i} times three plus one. Compute it for case ${i * 11}.`,
      response: `${"We work through the steps carefully. ".repeat(1 + (i % 5))}So the answer is $\\boxed{${answer}}$.`,
      gold,
    });
  });
  const lines = samples.map((s) => JSON.stringify(s));
  writeFileSync(join(dir, "data", "canonical", "part-00000.jsonl"), `${lines.join("\n")}\n`);
}

// A raw MATH-style source for the recipe: 48 problems in three subjects, 3 exact copies, one wrong solution (its
// "answer" field disagrees with the boxed answer) and a copy of a MATH-500 problem.
async function writeRawSource(dir: string) {
  mkdirSync(join(dir, "data", "raw"), { recursive: true });
  const subjects = ["Algebra", "Geometry", "Number Theory"];
  const records: Record<string, unknown>[] = Array.from({ length: 48 }, (_, i) => ({
    problem: `Problem ${i} (${subjects[i % 3]}): compute ${i} times ${i + 7} and add the number of the case, ${i * 13}.`,
    solution: `${"We multiply and then add. ".repeat(1 + (i % 4))}The result is $\\boxed{${i * (i + 7) + i * 13}}$.`,
    type: subjects[i % 3],
  }));
  records.push(records[0]!, records[1]!, records[2]!);
  records.push({ problem: "What is 6 times 7?", solution: "Six sevens are $\\boxed{41}$.", answer: "42", type: "Algebra" });
  const leaked = (await loadShippedBenchmarks()).find((b) => b.benchmark === "math500");
  if (!leaked) throw new Error("readme test: no MATH-500 item among the shipped benchmarks");
  records.push({ problem: leaked.text, solution: "Worked out: $\\boxed{1}$.", type: "Precalculus" });
  writeFileSync(join(dir, "data", "raw", "pool.jsonl"), `${records.map((r) => JSON.stringify(r)).join("\n")}\n`);
}

describeReadme(join(dirname(fileURLToPath(import.meta.url)), ".."), {
  setup: async (dir) => {
    writePool(dir);
    await writeRawSource(dir);
  },
  after: [
    {
      contains: "renderSelectionReportHtml(report)",
      check: (_, dir) => {
        for (const f of ["runs/curate/selection-report.json", "runs/curate/selection.html"]) expect(existsSync(join(dir, f)), f).toBe(true);
      },
    },
    {
      contains: "infialignCurationStages({",
      check: ({ stdout }) =>
        expect(stdout.trim().split("\n")).toEqual([
          "normalize: 53 in, 53 out",
          "dedup: 53 in, 50 out",
          "decontam: 50 in, 49 out",
          "quality: 49 in, 48 out",
          "near-dup: 48 in, 48 out",
          "select: 48 in, 12 out",
          "stats: 12 in, 12 out",
        ]),
    },
    { contains: "checkQuality(sample)", check: ({ stdout }) => expect(stdout).toContain("reason: 'answer_mismatch'") },
  ],
});
