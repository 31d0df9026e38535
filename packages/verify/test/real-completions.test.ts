// The loader of a labelled set of real completions (the set itself is not shipped, see the README):
// a bad record is named by line and field.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type LabelledCase, loadLabelled, scoreLabelled } from "../bench/labelled.js";

const sample: LabelledCase = { id: "gsm8k/1", source: "example/repo:path.jsonl", gold: "18", prediction: "The answer is 18.", label: true, labelSource: "hand", split: "dev" };

describe("labelled real completions", () => {
  it("scores verdicts against labels per split", () => {
    const cases: LabelledCase[] = [sample, { ...sample, id: "gsm8k/2", label: false }, { ...sample, id: "gsm8k/3", split: "heldout" }];
    expect(scoreLabelled(cases, [true, true, false], (c) => c.split === "dev")).toEqual({ cases: 2, agreed: 1, accuracy: 0.5, falseAccepts: 1, falseRejects: 0 });
    expect(scoreLabelled(cases, [true, false, false], (c) => c.split === "heldout")).toMatchObject({ cases: 1, agreed: 0, falseRejects: 1 });
  });

  it("names the line and field of a bad record", () => {
    const dir = mkdtempSync(join(tmpdir(), "verify-labelled-"));
    try {
      const file = join(dir, "bad.jsonl");
      writeFileSync(file, `${JSON.stringify({ ...sample, split: "test" })}\n`);
      expect(() => loadLabelled(file)).toThrow(/line 1 field "split" must be "dev" or "heldout"/);
      writeFileSync(file, `${JSON.stringify(sample)}\n${JSON.stringify(sample)}\n`);
      expect(() => loadLabelled(file)).toThrow(/line 2 repeats id/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
