import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { shippedBenchmarkDir } from "@infialign/data";
import { describeReadme } from "@infialign/test-utils/vitest";
import { expect } from "vitest";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");

describeReadme(pkgDir, {
  setup(dir) {
    // The quick start's pool: 4 MATH-500 problems copied verbatim among 20 clean ones, all MATH-style records.
    const leaked = readFileSync(join(shippedBenchmarkDir(), "math500.jsonl"), "utf8").split("\n").slice(0, 4);
    const clean = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({
        problem: `A gardener plants ${i + 7} rows of tulips with ${2 * i + 5} bulbs in each row and then gives away ${i + 3} bulbs. How many bulbs are planted in the garden now?`,
        solution: `There are $${i + 7} \\cdot ${2 * i + 5} - ${i + 3} = \\boxed{${(i + 7) * (2 * i + 5) - (i + 3)}}$ bulbs.`,
      }),
    );
    writeFileSync(join(dir, "pool.jsonl"), `${[...clean.slice(0, 10), ...leaked, ...clean.slice(10)].join("\n")}\n`);
    copyFileSync(join(pkgDir, "test", "fixtures", "loaders", "gpqa_diamond.csv"), join(dir, "gpqa_diamond.csv"));
  },
  after: [
    { contains: "infialign-decontam check", check: ({ stdout }) => expect(JSON.parse(stdout.split("\n")[0] ?? "")).toMatchObject({ contaminated: true }) },
    { contains: "findNearDuplicates(texts)", check: ({ stdout }) => expect(stdout).toMatch(/^true [\s\S]*Int32Array\(3\) \[ -1, 0, -1 \] \[ \[ 0, 1 \] \]/) },
    {
      contains: "infialign-decontam run",
      check: ({ stdout }) => expect(stdout).toMatch(/decontam: in 24 +out 20 +rejected 4 \(contaminated 4\)/),
    },
  ],
});
