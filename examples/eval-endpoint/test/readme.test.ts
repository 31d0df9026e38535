import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeReadme } from "@infialign/test-utils/vitest";

// A private example: its links may point anywhere in the repository, and it has no STYLE.md package sections.
describeReadme(join(dirname(fileURLToPath(import.meta.url)), ".."), { links: "repository", sections: false });
