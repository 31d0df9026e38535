import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeSample } from "@infialign/data";
import { describeReadme } from "@infialign/test-utils/vitest";
import { expect } from "vitest";
import { loadCurriculumConfig } from "../src/curriculum.js";

const COLOURS = ["red", "blue", "green", "gold"];

// Two small phases of canonical samples, as the quick start's globs expect them.
function writePhases(dir: string) {
  for (const [phase, offset] of [["foundational", 0], ["advanced", 100]] as const) {
    mkdirSync(join(dir, "data", phase), { recursive: true });
    const samples = Array.from({ length: 12 }, (_, k) =>
      makeSample({ source: phase, prompt: `Colour of item ${k + offset}?`, response: `Item ${k + offset} is ${COLOURS[k % 4]}.` }),
    );
    writeFileSync(join(dir, "data", phase, "part-00000.jsonl"), samples.map((s) => `${JSON.stringify(s)}\n`).join(""));
  }
}

describeReadme(join(dirname(fileURLToPath(import.meta.url)), ".."), {
  setup: writePhases,
  // The run-config block must load through the package's own loader (zod schema, unknown keys rejected).
  config: async (file) => {
    const config = await loadCurriculumConfig(file);
    expect(config.phases.map((p) => p.name)).toEqual(["phase1", "phase2"]);
  },
  after: [
    {
      contains: "infialign-sft export",
      check: (_, dir) => {
        for (const f of ["runs/sft/final/config.json", "runs/sft/report.html", "lf/train.sh", "lf/data/dataset_info.json"]) expect(existsSync(join(dir, f)), f).toBe(true);
      },
    },
  ],
});
