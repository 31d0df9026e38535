import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeReadme } from "@infialign/test-utils/vitest";
import { expect } from "vitest";

describeReadme(join(dirname(fileURLToPath(import.meta.url)), ".."), {
  ports: [8000],
  after: [
    {
      contains: "infialign-serve --model",
      // The server prints its address on stdout too; the reply is the last line.
      check: ({ stdout }) => expect(JSON.parse(stdout.trim().split("\n").at(-1) ?? "").choices[0].message.role).toBe("assistant"),
    },
  ],
});
