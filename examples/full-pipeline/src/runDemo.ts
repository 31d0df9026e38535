// The demo's step graph: sources → curate → sft → dpo → evaluate → report (→ ablation). Each step is a StepRunner
// step with a completion marker; the data, SFT and DPO steps also resume inside themselves.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "@infialign/data";
import type { DemoConfig } from "./config.js";
import { renderDemoReport } from "./report/renderReport.js";
import { runAblation } from "./steps/ablation.js";
import type { AblationReport } from "./steps/ablationStats.js";
import { CURATION_RECIPE, type CurateResult, type ExecutorChoice, runCurateStep } from "./steps/curate.js";
import { type DpoResult, runDpoStep } from "./steps/dpo.js";
import { EVALUATION_FORMAT, type EvaluateResult, readHeldOut, runEvaluateStep } from "./steps/evaluate.js";
import { runSftStep, type SftResult } from "./steps/sft.js";
import { defaultSourceWriter, type SourcesResult, type SourceWriter } from "./steps/sources.js";
import { StepRunner } from "./steps/stepRunner.js";

export interface RunDemoOptions {
  /** Also run the ablation. @default false */
  ablation?: boolean;
  /** Writes the source files (the example's generator). @default defaultSourceWriter */
  writeSources?: SourceWriter;
  /** Status lines. @default none */
  log?: (line: string) => void;
  /** Progress bars (TTY only, off under CI). @default true */
  progress?: boolean;
  /** Who runs the data stages (`--executor`); not part of any step's key, as outputs do not depend on it. @default local */
  executor?: ExecutorChoice;
}

export interface DemoRunResult {
  outDir: string;
  reportPath: string;
  /** Steps that did work in this call, and steps skipped by their marker. */
  executed: string[];
  skipped: string[];
  /** Seconds per step when it did its work. */
  seconds: Record<string, number>;
  sources: SourcesResult;
  curate: CurateResult;
  sft: SftResult;
  dpo: DpoResult;
  evaluation: EvaluateResult;
  ablation?: AblationReport;
}

/** The real pools of the project's shared data (examples/curate uses the same files). */
export const POOLS_DIR = resolve(import.meta.dirname, "../../../../shared/data/pools");

export async function runDemo(config: DemoConfig, options: RunDemoOptions = {}): Promise<DemoRunResult> {
  const log = options.log ?? (() => {});
  const progress = options.progress ?? true;
  const runner = new StepRunner(config.outDir, { force: config.force, log });
  const writeSources = options.writeSources ?? defaultSourceWriter;

  const sources = await runner.run({
    name: "sources",
    after: [],
    params: { world: "procedural-arithmetic-v1", seed: config.seed, pool: config.pool, heldOut: config.heldOut },
    run: (dir) => writeSources({ seed: config.seed, outDir: dir, pool: config.pool, heldOut: config.heldOut }),
  });

  const poolFiles = config.pools ? [join(POOLS_DIR, "gsm8k-train.jsonl"), join(POOLS_DIR, "math-test.jsonl")] : [];
  if (config.pools) {
    for (const f of poolFiles) if (!existsSync(f)) throw new Error(`[infialign/example-full-pipeline] --pools needs ${f} (the project's shared data); it is absent on this machine.`);
  }
  const curate = await runner.run({
    name: "curate",
    after: ["sources"],
    params: { budget: config.budget, seed: config.seed, easyMaxDifficulty: config.sft.easyMaxDifficulty, pools: config.pools, recipe: CURATION_RECIPE },
    run: (dir, resume) =>
      runCurateStep(dir, { files: [...sources.files, ...poolFiles], heldOut: sources.heldOut, budget: config.budget, seed: config.seed, easyMaxDifficulty: config.sft.easyMaxDifficulty, force: !resume, progress, ...(options.executor ? { executor: options.executor } : {}) }),
  });

  const sft = await runner.run({
    name: "sft",
    after: ["curate"],
    params: { seed: config.seed, model: config.model, sft: config.sft },
    run: (dir, resume) => runSftStep(dir, { config, easy: curate.files.easy, hard: curate.files.hard, resume, progress, log }),
  });

  const dpo = await runner.run({
    name: "dpo",
    after: ["sft"],
    params: { seed: config.seed, dpo: config.dpo },
    run: (dir, resume) => runDpoStep(dir, { config, sftDir: sft.finalDir, sftId: runner.keyOf("sft"), samples: curate.files.unselected, resume, progress, log }),
  });

  const items = await readHeldOut(sources.heldOut, config.evaluation.items);
  const protocol = { ...config.evaluation, seed: config.seed };
  const evaluation = await runner.run({
    name: "evaluate",
    after: ["sft", "dpo"],
    params: { protocol, items: items.map((i) => i.id), format: EVALUATION_FORMAT },
    run: (dir) =>
      runEvaluateStep(dir, {
        models: [
          { name: "base", dir: sft.initDir },
          { name: "sft", dir: sft.finalDir },
          { name: "dpo", dir: dpo.finalDir },
        ],
        items,
        protocol,
        cacheTag: runner.keyOf("evaluate"),
        log,
      }),
  });

  const ablation = options.ablation
    ? await runAblation({
        config,
        runner,
        curate,
        items,
        main: { sft, dpo, evaluation },
        progress,
        log,
        ...(sources.leakedHeldOut ? { leakedHeldOut: sources.leakedHeldOut } : {}),
      })
    : undefined;

  const reportPath = join(config.outDir, "report.html");
  const timingSteps = ["sources", "curate", "sft", "dpo", "evaluate"];
  await runner.run({
    name: "report",
    after: ["sources", "curate", "sft", "dpo", "evaluate"],
    params: { ablation: ablation ?? null },
    run: async () => {
      const html = renderDemoReport({
        title: "InfiAlign-TS full pipeline",
        defects: sources.defects,
        sources,
        curate,
        sft,
        dpo,
        evaluation,
        timings: Object.fromEntries(timingSteps.map((s) => [s, runner.seconds[s] ?? 0])),
        ...(ablation ? { ablation } : {}),
      });
      await writeFileAtomic(reportPath, html);
      return { path: reportPath, bytes: Buffer.byteLength(html) };
    },
  });
  if (!existsSync(reportPath)) throw new Error(`[infialign/example-full-pipeline] report: ${reportPath} is missing although its step is marked complete; rerun with --force.`);

  return {
    outDir: config.outDir,
    reportPath,
    executed: [...runner.executed],
    skipped: [...runner.skipped],
    seconds: { ...runner.seconds },
    sources,
    curate,
    sft,
    dpo,
    evaluation,
    ...(ablation ? { ablation } : {}),
  };
}

/** Reads a finished run's report back (tests). */
export async function readReport(outDir: string): Promise<string> {
  return readFile(join(outDir, "report.html"), "utf8");
}
