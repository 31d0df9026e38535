import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeReadme } from "@infialign/test-utils/vitest";
import { expect } from "vitest";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");

// Small inputs in two public schemas, as the quick start reads them: GSM8K (`question`, `answer` ending "#### n") and
// MATH (`problem`, `solution` with \boxed{}), with one exact duplicate for dedup to find.
function writeFixtures(dir: string) {
  mkdirSync(join(dir, "data"), { recursive: true });
  const gsm8k = Array.from({ length: 12 }, (_, i) => ({
    question: `Ali has ${i + 2} boxes with ${i + 5} pencils in each. How many pencils does he have?`,
    answer: `He has ${i + 2} * ${i + 5} = <<${i + 2}*${i + 5}=${(i + 2) * (i + 5)}>>${(i + 2) * (i + 5)} pencils.\n#### ${(i + 2) * (i + 5)}`,
  }));
  const math = Array.from({ length: 12 }, (_, i) => ({
    problem: `What is the value of $${i + 3}^2 - ${i + 1}^2$?`,
    solution: `By the difference of squares, $(${i + 3} - ${i + 1})(${i + 3} + ${i + 1}) = \\boxed{${(i + 3) ** 2 - (i + 1) ** 2}}$.`,
    level: `Level ${(i % 5) + 1}`,
    type: "Algebra",
  }));
  const lines = (rows: object[]) => `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`;
  writeFileSync(join(dir, "data", "gsm8k.jsonl"), lines([...gsm8k, gsm8k[0] as object]));
  writeFileSync(join(dir, "data", "math.jsonl"), lines(math));
}

describeReadme(pkgDir, {
  setup: writeFixtures,
  // postJsonWithRetry's example calls /v1/embeddings.
  openAIServer: {},
  after: [
    {
      contains: "infialign-data export",
      check: ({ stdout }, dir) => {
        // 25 records in, one exact duplicate removed.
        expect(JSON.parse(readFileSync(join(dir, "runs/pools/dedup/manifest.json"), "utf8")).counts).toMatchObject({ in: 25, out: 24, deduplicated: 1 });
        expect(existsSync(join(dir, "my-dataset/data/train-00000.parquet"))).toBe(true);
        expect(stdout).not.toBe("");
      },
    },
    { contains: "postJsonWithRetry({", check: ({ stdout }) => expect(stdout.trim()).toBe("2 1") },
    { contains: "adapters: [quizAdapter]", check: ({ stdout }) => expect(stdout).toMatch(/in: 2,\s+out: 1,\s+rejected: 1,[\s\S]*wrong_type: 1/) },
    {
      contains: "registerBenchmark({",
      check: ({ stdout }) => {
        expect(stdout).toMatch(/benchmark: 'my-olympiad',\s+id: 'o1',\s+text: 'Find x if 2x = 6.'/);
        expect(stdout).toMatch(/answer: '3'/);
        expect(stdout).toContain('benchmark "gpqa-diamond" needs the path of your GPQA CSV (gated:');
      },
    },
  ],
});
