import { existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeReadme } from "@infialign/test-utils/vitest";
import { expect } from "vitest";

describeReadme(join(dirname(fileURLToPath(import.meta.url)), ".."), {
  // The local OpenAI-protocol server stands in for vLLM: "base" always answers 42, "sft" answers the GPQA letter A.
  openAIServer: {
    models: ["base", "sft", "my-model"],
    handler: (req) => (req.model === "sft" ? "The answer is (A).\nAnswer: A" : "The answer is \\boxed{42}."),
  },
  setup(dir) {
    const header = '"Question","Correct Answer","Incorrect Answer 1","Incorrect Answer 2","Incorrect Answer 3","Record ID","High-level domain"\n';
    const rows = Array.from({ length: 10 }, (_, i) => `"Which particle has charge ${i}e?","p${i}","q${i}","r${i}","s${i}","rec${i}","Physics"`);
    writeFileSync(join(dir, "gpqa_diamond.csv"), `${header}${rows.join("\n")}\n`);
  },
  after: [
    {
      contains: "compareRuns({ result: base.result }",
      check: ({ stdout }) => {
        const lines = stdout.trim().split("\n");
        expect(lines).toHaveLength(3);
        for (const [i, name] of ["aime24", "math500", "gpqa-diamond"].entries()) expect(lines[i]).toMatch(new RegExp(`^${name}: -?\\d+\\.\\d ± \\d+\\.\\d points, \\d+ wrong → right, \\d+ right → wrong of 10$`));
      },
    },
    {
      contains: "infialign-eval compare",
      check: (_, dir) => {
        for (const f of ["report.html", "table.md", "compare.html"]) expect(existsSync(join(dir, f)), f).toBe(true);
      },
    },
  ],
});
