// --ablation: InfiAlign's claims at small scale, each arm trained over several seeds and evaluated on the same held-out
// items, with bootstrap intervals and computed verdicts (ablationStats.ts). Every (arm, seed) is a step with its own
// marker, so an interrupted ablation resumes; the curated arm's first seed is the main run itself.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Sample } from "@infialign/data";
import { writeJsonl } from "@infialign/train-sft";
import type { DemoConfig } from "../config.js";
import { type AblationReport, type ArmRun, type ArmSummary, type ClaimVerdict, contaminationCheck, DEFAULT_NON_INFERIORITY_MARGIN, judgeClaim, summarizeArm } from "./ablationStats.js";
import { type CurateResult, randomSubset, runSelectVariant, type SelectVariant, splitByDifficulty } from "./curate.js";
import { type DpoResult, runDpoStep } from "./dpo.js";
import { EVALUATION_FORMAT, type EvaluateResult, type HeldOutItem, heldOutResult, type ModelEvaluation, runEvaluateStep } from "./evaluate.js";
import { runSftStep, type SftResult } from "./sft.js";
import type { StepRunner } from "./stepRunner.js";

/** What each arm trains on and how; shown in the report. */
export const ARM_DESCRIPTIONS: Readonly<Record<string, string>> = {
  full: "every parseable record of the raw pool, no curation (duplicates, flawed teacher, held-out copies included)",
  curated: "the full curation: dedup, decontamination, verification, near-dup removal, balanced diversity + difficulty selection",
  random: "a seeded random subset of the raw pool, as many records as the curated subset",
  "no-qc": "the curation without verification-based quality control (the flawed teacher's solutions stay)",
  "no-difficulty": "the curation with random instead of hardest-first order within clusters (no difficulty sampling)",
  proportional: "the curation with domain quotas proportional to the pool (addition stays 60%) instead of balanced",
  "one-phase": "the curated subset in one phase at the two-phase run's token count (no curriculum)",
  "curated+dpo": "the curated SFT model, then DPO on pairs of its own errors against verified solutions",
};

export interface AblationMain {
  sft: SftResult;
  dpo: DpoResult;
  evaluation: EvaluateResult;
}

export interface AblationOptions {
  config: DemoConfig;
  runner: StepRunner;
  curate: CurateResult;
  items: readonly HeldOutItem[];
  /** Held-out ids the generator copied into the pool (the contamination check). */
  leakedHeldOut?: readonly string[];
  /** The main run: the curated arm (and curated+dpo) at seed `config.seed`. */
  main?: AblationMain;
  progress?: boolean;
  log?: (line: string) => void;
}

async function readSamples(path: string): Promise<Sample[]> {
  return (await readFile(path, "utf8"))
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Sample);
}

const SELECT_VARIANTS: Readonly<Record<string, { input: "unverified" | "pool"; nearDup: boolean; variant: SelectVariant }>> = {
  "no-qc": { input: "unverified", nearDup: true, variant: {} },
  "no-difficulty": { input: "pool", nearDup: false, variant: { order: "random" } },
  proportional: { input: "pool", nearDup: false, variant: { domainQuotas: "proportional" } },
};

const sftTokens = (sft: SftResult) => sft.phases.reduce((n, p) => n + p.tokens, 0);
const sftSeconds = (sft: SftResult) => sft.phases.reduce((n, p) => n + p.seconds, 0);

function armRun(seed: number, evaluation: ModelEvaluation, tokens: number, seconds: number): ArmRun {
  const held = heldOutResult(evaluation);
  return { seed, accuracy: held.avgAtN, perItem: held.perItem, tokens, seconds };
}

export async function runAblation(options: AblationOptions): Promise<AblationReport> {
  const { config, runner, curate } = options;
  const arms = config.ablation.arms;
  const seeds = Array.from({ length: config.ablation.seeds }, (_, i) => config.seed + i);
  const protocol = { ...config.evaluation, seed: config.seed };
  const progress = options.progress === undefined ? {} : { progress: options.progress };
  const runs: Record<string, ArmRun[]> = Object.fromEntries(arms.map((a) => [a, []]));

  /** The arm's phase files (seed-independent except `random`). */
  const dataOf = async (arm: string, seed: number): Promise<{ easy: string; hard: string }> => {
    if (arm === "curated" || arm === "one-phase" || arm === "curated+dpo") return { easy: curate.files.easy, hard: curate.files.hard };
    const name = arm === "random" ? `ablation-data-random-seed${seed}` : `ablation-data-${arm}`;
    return runner.run({
      name,
      after: ["curate"],
      params: { arm, seed: arm === "random" ? seed : config.seed, budget: config.budget, easyMaxDifficulty: config.sft.easyMaxDifficulty },
      run: async (dir, resume) => {
        let samples: Sample[];
        if (arm === "full") samples = await readSamples(curate.files.raw);
        else if (arm === "random") samples = randomSubset(await readSamples(curate.files.raw), curate.counts.selected, seed);
        else {
          const v = SELECT_VARIANTS[arm];
          if (!v) throw new Error(`[infialign/example-full-pipeline] ablation: unknown arm "${arm}"`);
          const { file } = await runSelectVariant(dir, { input: curate.files[v.input], budget: config.budget, seed: config.seed, variant: v.variant, nearDup: v.nearDup, force: !resume, ...progress });
          samples = await readSamples(file);
        }
        const { easy, hard } = splitByDifficulty(samples, config.sft.easyMaxDifficulty);
        const files = { easy: join(dir, "phase1-easy.jsonl"), hard: join(dir, "phase2-hard.jsonl") };
        await writeJsonl(files.easy, easy);
        await writeJsonl(files.hard, hard);
        return files;
      },
    });
  };

  for (const seed of seeds) {
    const reuseMain = options.main !== undefined && seed === config.seed;
    // The curated SFT model is shared by "curated" and "curated+dpo".
    let curatedSft: { result: SftResult; key: string } | undefined;
    const curatedModel = async () => {
      if (curatedSft) return curatedSft;
      if (reuseMain && options.main) curatedSft = { result: options.main.sft, key: runner.keyOf("sft") };
      else {
        const name = `ablation-curated-seed${seed}-sft`;
        const data = await dataOf("curated", seed);
        const result = await runner.run({ name, after: ["curate"], params: { arm: "curated", seed, model: config.model, sft: config.sft }, run: (dir, resume) => runSftStep(dir, { config, ...data, resume, seed, ...progress }) });
        curatedSft = { result, key: runner.keyOf(name) };
      }
      return curatedSft;
    };

    for (const arm of arms) {
      const slug = `ablation-${arm.replace(/\W+/g, "-")}-seed${seed}`;
      options.log?.(`ablation: ${arm}, seed ${seed}`);
      if (arm === "curated" || arm === "curated+dpo") {
        const sft = await curatedModel();
        if (arm === "curated") {
          const evaluation = reuseMain && options.main ? options.main.evaluation.results.find((r) => r.model === "sft") : undefined;
          const result = evaluation ?? (await evaluateOne(runner, slug, sft.result.finalDir, arm, options, protocol));
          runs[arm]?.push(armRun(seed, result, sftTokens(sft.result), sftSeconds(sft.result)));
          continue;
        }
        const dpo =
          reuseMain && options.main
            ? options.main.dpo
            : await runner.run({
                name: `${slug}-dpo`,
                after: [],
                params: { seed, dpo: config.dpo, sft: sft.key },
                run: (dir, resume) => runDpoStep(dir, { config, sftDir: sft.result.finalDir, sftId: sft.key, samples: curate.files.unselected, resume, seed, ...progress }),
              });
        const evaluation = reuseMain && options.main ? options.main.evaluation.results.find((r) => r.model === "dpo") : undefined;
        const result = evaluation ?? (await evaluateOne(runner, slug, dpo.finalDir, arm, options, protocol));
        runs[arm]?.push(armRun(seed, result, sftTokens(sft.result) + dpo.trainTokens, sftSeconds(sft.result) + dpo.samplingSeconds + dpo.trainSeconds));
        continue;
      }
      const data = await dataOf(arm, seed);
      const sft = await runner.run({
        name: `${slug}-sft`,
        after: ["curate"],
        params: { arm, seed, model: config.model, sft: config.sft, data },
        run: (dir, resume) => runSftStep(dir, { config, ...data, resume, seed, onePhase: arm === "one-phase", ...progress }),
      });
      const result = await evaluateOne(runner, slug, sft.finalDir, arm, options, protocol);
      runs[arm]?.push(armRun(seed, result, sftTokens(sft), sftSeconds(sft)));
    }
  }

  const summaries: Record<string, ArmSummary> = {};
  for (const arm of arms) summaries[arm] = summarizeArm(arm, ARM_DESCRIPTIONS[arm] ?? arm, runs[arm] ?? []);
  const verdicts = claimVerdicts(summaries);
  const leaked = new Set((options.leakedHeldOut ?? []).filter((id) => options.items.some((i) => i.id === id)));
  const full = runs.full;
  const contamination = full?.length && leaked.size > 0 && leaked.size < options.items.length ? contaminationCheck("full", full, leaked) : undefined;
  const m = config.model;
  return {
    seeds,
    items: options.items.length,
    arms: arms.map((a) => summaries[a] as ArmSummary),
    verdicts,
    ...(contamination ? { contamination } : {}),
    scale: `Qwen2 ${m.layers}×${m.hiddenSize} from scratch; SFT epochs ${config.sft.epochs.join(" + ")} (phase 1: ≤ ${config.sft.easyMaxDifficulty} digits; phase 2: all), batch ${config.sft.batchSize}×${config.sft.maxLength} packed; curated budget ${config.budget} records; greedy decoding, ${options.items.length} held-out items`,
    devSplit: "dev.jsonl (balanced over families × difficulties, disjoint from the held-out split; pnpm tune:dpo)",
  };
}

async function evaluateOne(runner: StepRunner, slug: string, dir: string, name: string, options: AblationOptions, protocol: DemoConfig["evaluation"] & { seed: number }): Promise<ModelEvaluation> {
  const evaluated = await runner.run({
    name: `${slug}-eval`,
    after: [],
    params: { protocol, items: options.items.map((i) => i.id), model: dir, format: EVALUATION_FORMAT },
    run: (d) => runEvaluateStep(d, { models: [{ name, dir }], items: options.items, protocol, cacheTag: runner.keyOf(`${slug}-eval`) }),
  });
  const result = evaluated.results[0];
  if (!result) throw new Error(`[infialign/example-full-pipeline] ablation: evaluation of ${name} returned no result`);
  return result;
}

/** InfiAlign's claims, each judged from the arms' intervals (only claims whose arms ran). */
export function claimVerdicts(arms: Readonly<Record<string, ArmSummary>>): ClaimVerdict[] {
  const out: ClaimVerdict[] = [];
  const both = (a: string, b: string) => arms[a] !== undefined && arms[b] !== undefined && (arms[a]?.runs.length ?? 0) > 0 && (arms[b]?.runs.length ?? 0) > 0;
  if (both("curated", "full")) {
    const c = arms.curated as ArmSummary;
    const f = arms.full as ArmSummary;
    const ratio = f.tokens > 0 ? c.tokens / f.tokens : Number.NaN;
    const margin = DEFAULT_NON_INFERIORITY_MARGIN;
    const verdict = judgeClaim(`Curated data reaches the full raw pool's accuracy (within ${100 * margin} points) with ≤ 35% of its training tokens (here ${(100 * ratio).toFixed(0)}%)`, c, f, "non-inferior", margin);
    out.push(ratio > 0.35 && verdict.verdict === "supported" ? { ...verdict, verdict: "not supported", detail: `${verdict.detail} But it used ${(100 * ratio).toFixed(0)}% of the full pool's tokens (> 35%).` } : verdict);
  }
  const greater: Array<[string, string, string]> = [
    ["curated", "random", "Curated selection beats a random subset of the same size"],
    ["curated", "no-qc", "Verification-based quality control adds accuracy"],
    ["curated", "no-difficulty", "Difficulty sampling adds accuracy"],
    ["curated", "proportional", "Balanced domain quotas beat the pool's proportions"],
    ["curated", "one-phase", "The two-phase curriculum beats one phase at equal tokens"],
    ["curated+dpo", "curated", "DPO on the SFT model's own errors adds accuracy"],
  ];
  for (const [a, b, claim] of greater) if (both(a, b)) out.push(judgeClaim(claim, arms[a] as ArmSummary, arms[b] as ArmSummary, "greater"));
  return out;
}
