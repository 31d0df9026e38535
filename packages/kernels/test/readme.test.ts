import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeReadme } from "@infialign/test-utils/vitest";

describeReadme(join(dirname(fileURLToPath(import.meta.url)), ".."));
