import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeReadme } from "@infialign/test-utils/vitest";
import { expect } from "vitest";

describeReadme(join(dirname(fileURLToPath(import.meta.url)), ".."), {
  after: [
    // The verdicts the quick start shows in its comments.
    { contains: "infialign-verify math", check: ({ stdout }) => expect(stdout).toContain('{"correct":true,"reason":"equal_exact","extracted":"0.5"') },
    { contains: "verifyChoice(", check: ({ stdout }) => expect(stdout).toMatch(/reason: 'equal_exact'[\s\S]*reason: 'extracted'/) },
  ],
});
