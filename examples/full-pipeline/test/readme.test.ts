import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeReadme } from "@infialign/test-utils/vitest";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");

// Private pages: their links may point anywhere in the repository, and they have no STYLE.md package sections.
// This example's README; the repository's front page, which describes this example as the main job; and the curate
// example's README, since that example has no test runner of its own.
for (const dir of [join(here, ".."), repo, join(repo, "examples", "curate")]) describeReadme(dir, { links: "repository", sections: false });
