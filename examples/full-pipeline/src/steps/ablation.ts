// --ablation: InfiAlign's claims at small scale. (a) SFT on the curated subset vs the whole deduplicated pool vs a
// random subset of the curated size; (b) SFT vs SFT + DPO. Every arm runs over several seeds; each (arm, seed) is a
// step with its own marker, so an interrupted ablation resumes.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Sample } from "@infialign/data";
import { createRng } from "@infialign/kernels";
import type { DemoConfig } from "../config.js";
import { splitByDifficulty, writeJsonl } from "./curate.js";
import { runDpoStep } from "./dpo.js";
import { type Evaluator, type HeldOutItem, runEvaluateStep } from "./evaluate.js";
import { runSftStep } from "./sft.js";
import type { StepRunner } from "./stepRunner.js";

export interface AblationArm {
  name: string;
  /** SFT training samples of the arm. */
  samples: number;
  perSeed: number[];
  mean: number;
  /** Half the min–max range over seeds. */
  spread: number;
}

export interface AblationResult {
  seeds: number[];
  arms: AblationArm[];
}

export interface AblationOptions {
  config: DemoConfig;
  runner: StepRunner;
  /** Curated subset and whole pool (canonical samples), from the curate step. */
  selected: string;
  pool: string;
  items: readonly HeldOutItem[];
  /** @default [0, 1, 2] offsets added to config.seed */
  seeds?: number[];
  evaluator?: Evaluator;
  progress?: boolean;
  log?: (line: string) => void;
}

async function readSamples(path: string): Promise<Sample[]> {
  return (await readFile(path, "utf8"))
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Sample);
}

/** A seeded subset of `k` records (partial Fisher–Yates), in pool order. */
export function randomSubset<T>(pool: readonly T[], k: number, seed: number): T[] {
  const rng = createRng(seed);
  const index = pool.map((_, i) => i);
  const n = Math.min(k, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + rng.nextInt(index.length - i);
    [index[i], index[j]] = [index[j] as number, index[i] as number];
  }
  return index
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => pool[i] as T);
}

export function summarizeArm(name: string, samples: number, perSeed: number[]): AblationArm {
  const mean = perSeed.reduce((a, b) => a + b, 0) / Math.max(1, perSeed.length);
  const spread = perSeed.length > 1 ? (Math.max(...perSeed) - Math.min(...perSeed)) / 2 : 0;
  return { name, samples, perSeed, mean, spread };
}

export async function runAblation(options: AblationOptions): Promise<AblationResult> {
  const { config, runner } = options;
  const seeds = (options.seeds ?? [0, 1, 2]).map((s) => config.seed + s);
  const selected = await readSamples(options.selected);
  const pool = await readSamples(options.pool);
  const protocol = { ...config.evaluation, seed: config.seed };
  const data: Record<string, Sample[]> = { curated: selected, "full pool": pool };
  const scores: Record<string, number[]> = { curated: [], "full pool": [], random: [], "curated + DPO": [] };
  const sizes: Record<string, number> = { curated: selected.length, "full pool": pool.length, random: selected.length, "curated + DPO": selected.length };
  for (const seed of seeds) {
    data.random = randomSubset(pool, selected.length, seed);
    for (const arm of ["curated", "full pool", "random"]) {
      const slug = `ablation-${arm.replace(/\W+/g, "-")}-seed${seed}`;
      const sft = await runner.run({
        name: `${slug}-sft`,
        after: ["curate"],
        params: { arm, seed, model: config.model, sft: config.sft },
        run: async (dir, resume) => {
          const { easy, hard } = splitByDifficulty(data[arm] as Sample[], config.sft.easyMaxDifficulty);
          await writeJsonl(join(dir, "easy.jsonl"), easy);
          await writeJsonl(join(dir, "hard.jsonl"), hard);
          return runSftStep(dir, { config, easy: join(dir, "easy.jsonl"), hard: join(dir, "hard.jsonl"), resume, seed, ...(options.progress === undefined ? {} : { progress: options.progress }), ...(options.log ? { log: options.log } : {}) });
        },
      });
      const models = [{ name: arm, dir: sft.finalDir }];
      if (arm === "curated") {
        const dpo = await runner.run({
          name: `${slug}-dpo`,
          after: [`${slug}-sft`],
          params: { seed, dpo: config.dpo },
          run: (dir, resume) => runDpoStep(dir, { config, sftDir: sft.finalDir, sftId: runner.keyOf(`${slug}-sft`), samples: options.selected, resume, seed, ...(options.progress === undefined ? {} : { progress: options.progress }) }),
        });
        models.push({ name: "curated + DPO", dir: dpo.finalDir });
      }
      const evaluated = await runner.run({
        name: `${slug}-eval`,
        after: arm === "curated" ? [`${slug}-sft`, `${slug}-dpo`] : [`${slug}-sft`],
        params: { protocol, items: options.items.map((i) => i.id) },
        run: (dir) => runEvaluateStep(dir, { models, items: options.items, protocol, cacheTag: runner.keyOf(`${slug}-eval`), ...(options.evaluator ? { evaluator: options.evaluator } : {}) }),
      });
      for (const r of evaluated.results) scores[r.model]?.push(r.avgAtN);
    }
  }
  return { seeds, arms: Object.entries(scores).map(([name, perSeed]) => summarizeArm(name, sizes[name] ?? 0, perSeed)) };
}
