// The one end-to-end test: a tiny run of the whole step graph (generator → data stages → SFT → DPO → serve + evaluate
// → report), then the resume behaviour on the same directory.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveDemoConfig } from "../src/config.js";
import { checkInvariants } from "../src/invariants.js";
import { runDemo } from "../src/runDemo.js";
import { heldOutResult } from "../src/steps/evaluate.js";
import { MARKER_NAME } from "../src/steps/stepRunner.js";

const outDir = mkdtempSync(join(tmpdir(), "fp-demo-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const STEPS = ["sources", "curate", "sft", "dpo", "evaluate", "report"];

describe("runDemo (tiny)", () => {
  const config = resolveDemoConfig({ outDir, pool: 150, budget: 60, dpo: { prompts: 8 }, evaluation: { items: 6 } }, "smoke");

  it("runs every step, keeps the invariants, and a rerun recomputes nothing", { timeout: 180_000 }, async () => {
    const first = await runDemo(config, { progress: false });
    expect(first.executed).toEqual(STEPS);
    expect(checkInvariants(first)).toEqual([]);
    for (const step of STEPS) expect(existsSync(join(outDir, step, MARKER_NAME))).toBe(true);
    expect(first.curate.counts.selected).toBe(60);
    expect(first.curate.counts.easy + first.curate.counts.hard).toBe(60);
    expect(first.sft.phases.map((p) => p.name)).toEqual(["phase1-easy", "phase2-all"]);
    expect(first.evaluation.results.map((r) => [r.model, heldOutResult(r).items])).toEqual([
      ["base", 6],
      ["sft", 6],
      ["dpo", 6],
    ]);
    expect(readFileSync(first.reportPath, "utf8")).toContain("Data funnel");

    const again = await runDemo(config, { progress: false });
    expect(again.executed).toEqual([]);
    expect(again.evaluation).toEqual(first.evaluation);

    // An interrupted step (no marker) reruns alone; its own caches make it cheap.
    rmSync(join(outDir, "dpo", MARKER_NAME));
    const resumed = await runDemo(config, { progress: false });
    expect(resumed.executed).toEqual(["dpo"]);
    expect(resumed.dpo.pairs).toBe(first.dpo.pairs);

    // A changed evaluation setting reruns the evaluation and the report only.
    const changed = await runDemo({ ...config, evaluation: { ...config.evaluation, items: 4 } }, { progress: false });
    expect(changed.executed).toEqual(["evaluate", "report"]);
    expect(heldOutResult(changed.evaluation.results[0]!).items).toBe(4);
  });

  it("runs ablation arms over two seeds: bootstrap intervals, computed verdicts, the contamination check, resumable", { timeout: 300_000 }, async () => {
    const dir = join(outDir, "ablation");
    const arms = ["full", "curated", "no-qc", "curated+dpo"];
    const ablationConfig = resolveDemoConfig({ outDir: dir, pool: 150, budget: 60, dpo: { prompts: 8 }, ablation: { seeds: 2, arms } }, "smoke");
    const run = await runDemo(ablationConfig, { ablation: true, progress: false });
    const report = run.ablation;
    expect(report?.arms.map((a) => [a.name, a.runs.map((r) => r.seed)])).toEqual(arms.map((a) => [a, [0, 1]]));
    for (const arm of report?.arms ?? []) {
      expect(arm.items).toBe(ablationConfig.evaluation.items);
      expect(arm.low).toBeLessThanOrEqual(arm.mean);
      expect(arm.high).toBeGreaterThanOrEqual(arm.mean);
      expect(arm.tokens).toBeGreaterThan(0);
    }
    // The full raw pool trains on more tokens than the curated subset; no-qc keeps the teacher's records.
    const tokens = Object.fromEntries(report?.arms.map((a) => [a.name, a.tokens]) ?? []);
    expect(tokens.full).toBeGreaterThan(tokens.curated as number);
    expect(report?.verdicts.map((v) => v.arms)).toEqual([
      ["curated", "full"],
      ["curated", "no-qc"],
      ["curated+dpo", "curated"],
    ]);
    for (const v of report?.verdicts ?? []) expect(["supported", "not supported", "inconclusive"]).toContain(v.verdict);
    expect(report?.contamination?.leaked.items).toBe(run.sources.leakedHeldOut?.length);
    expect(readFileSync(run.reportPath, "utf8")).toContain("Verdicts");

    const again = await runDemo(ablationConfig, { ablation: true, progress: false });
    expect(again.executed).toEqual([]);
    expect(again.ablation).toEqual(report);
  });
});
