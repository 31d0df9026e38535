import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeSample } from "@infialign/data";
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

describeReadme(join(dirname(fileURLToPath(import.meta.url)), ".."), {
  setup: writePool,
  after: [
    {
      contains: "renderSelectionReportHtml(report)",
      check: (_, dir) => {
        for (const f of ["runs/curate/selection-report.json", "runs/curate/selection.html"]) expect(existsSync(join(dir, f)), f).toBe(true);
      },
    },
    { contains: "checkQuality(sample)", check: ({ stdout }) => expect(stdout).toContain("reason: 'answer_mismatch'") },
  ],
});
