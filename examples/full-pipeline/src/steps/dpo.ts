// Step 4: DPO pairs from the SFT model's own sampled errors (rejected) against verified solutions (chosen), then DPO
// with the reference log-probs cached on disk.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { resolveInputs, runPipeline, type Sample } from "@infialign/data";
import { selectBackend } from "@infialign/kernels/tfjs";
import { generate } from "@infialign/model";
import { localSampler, pairConstructionStage, resolveDpoConfig, trainDpo } from "@infialign/train-dpo";
import { writeJsonl } from "@infialign/train-sft";
import type { DemoConfig } from "../config.js";
import { randomSubset } from "./curate.js";
import { loadEngine } from "./engine.js";

export interface DpoResult extends Omit<DpoPairs, "pairsDir"> {
  finalDir: string;
  trainSeconds: number;
  /** Real (non-padding) tokens processed by DPO training. */
  trainTokens: number;
  steps: number;
  /** `[step, value]` of the logged loss and reward margin / accuracy. */
  loss: Array<[number, number]>;
  margins: Array<[number, number]>;
  accuracies: Array<[number, number]>;
}

export interface DpoStepOptions {
  config: DemoConfig;
  /** SFT final checkpoint (policy and reference). */
  sftDir: string;
  /** Identifies the SFT weights in the sample cache (the SFT step's key). */
  sftId: string;
  /** Verified samples to draw prompts from (the pool's records SFT did not train on). */
  samples: string;
  resume: boolean;
  seed?: number;
  progress?: boolean;
  log?: (line: string) => void;
}

/** Pair construction's outcome: the pairs stage's directory and what it kept and dropped. */
export interface DpoPairs {
  pairsDir: string;
  prompts: number;
  /** Challenge selection: SFT samples per prompt and the pass-rate band of the prompts kept. */
  k: number;
  passRateBand: [number, number];
  pairs: number;
  /** Prompts dropped by pair construction, per reason code. */
  rejectedByReason: Record<string, number>;
  /** Engine the SFT model was sampled with. */
  samplingEngine: string;
  samplingSeconds: number;
}

/** Samples the SFT model on `config.dpo.prompts` verified prompts and pairs its wrong answers with the solutions. */
export async function buildDpoPairs(dir: string, options: DpoStepOptions): Promise<DpoPairs> {
  const { config } = options;
  const seed = options.seed ?? config.seed;
  const all = (await readFile(options.samples, "utf8"))
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Sample);
  // Verified solutions only: the chosen side must be right. A seeded sample, so every family and difficulty shows up;
  // pair construction then keeps the prompts the SFT model gets wrong (challenge selection).
  const prompts = randomSubset(
    all.filter((s) => s.gold && s.response),
    config.dpo.prompts,
    seed,
  );
  const promptsFile = join(dir, "prompts.jsonl");
  await writeJsonl(promptsFile, prompts);

  const started = Date.now();
  const engine = await loadEngine(options.sftDir);
  try {
    const sampler = localSampler({ generate, model: engine.model, tokenizer: engine.tokenizer, modelId: options.sftId, temperature: 0.8, topP: 0.95, maxTokens: config.dpo.maxTokens, seed });
    const result = await runPipeline({
      name: "pairs",
      runsDir: dir,
      source: { files: await resolveInputs(promptsFile), decode: "samples" },
      // Challenge selection on `config.dpo.passRateBand` (InfiAlign's band by default); a truncated error is still a
      // wrong answer to move away from.
      stages: [pairConstructionStage({ k: config.dpo.k, passRateBand: config.dpo.passRateBand, dropTruncated: false, answerSources: ["boxed", "final_answer", "answer_line", "last_number"] }, { sampler })],
      force: !options.resume,
      seed,
      ...(options.progress === undefined ? {} : { progress: options.progress }),
    });
    const counts = result.stages[0]?.manifest.counts;
    const built: DpoPairs = {
      pairsDir: result.stages[0]?.dir ?? join(dir, "pairs", "dpo-pairs"),
      prompts: prompts.length,
      k: config.dpo.k,
      passRateBand: config.dpo.passRateBand,
      pairs: counts?.out ?? 0,
      rejectedByReason: counts?.rejectedByReason ?? {},
      samplingEngine: engine.engine,
      samplingSeconds: (Date.now() - started) / 1000,
    };
    if (built.pairs === 0) {
      throw new Error(
        `[infialign/example-full-pipeline] dpo: pair construction kept 0 of ${prompts.length} prompts (dropped: ${JSON.stringify(built.rejectedByReason)}); see ${join(dir, "pairs", "rejects.jsonl")}. Raise dpo.prompts or dpo.maxTokens.`,
      );
    }
    return built;
  } finally {
    engine.dispose();
  }
}

/** DPO from the SFT model on built pairs (β, learning rate, epochs from `config.dpo`), into `<dir>/train`. */
export async function trainDpoOnPairs(dir: string, pairs: DpoPairs, options: DpoStepOptions): Promise<DpoResult> {
  const { config } = options;
  // trainDpo builds tfjs tensors and, unlike trainSft, leaves the backend choice to its caller.
  await selectBackend();
  const outputDir = join(dir, "train");
  const dpoConfig = resolveDpoConfig(
    {
      model: options.sftDir,
      pairs: pairs.pairsDir,
      outputDir,
      seed: options.seed ?? config.seed,
      learningRate: config.dpo.learningRate,
      epochs: config.dpo.epochs,
      batchSize: config.dpo.batchSize,
      maxLength: 64 + config.dpo.maxTokens,
      maxPromptLength: 64,
      loss: { beta: config.dpo.beta },
      loggingSteps: 1,
      saveSteps: 0,
    },
    "full-pipeline DPO",
  );
  const train = await trainDpo(dpoConfig, { resume: options.resume && existsSync(outputDir), ...(options.progress === false ? { progress: false } : {}), ...(options.log ? { log: options.log } : {}) });
  if (!train.finalDir) throw new Error("[infialign/example-full-pipeline] dpo: training stopped before the end; rerun to resume.");
  const metrics = train.train.logHistory;
  const series = (name: string) => metrics.filter((r) => typeof r[name] === "number").map((r) => [r.step, r[name] as number] as [number, number]);
  const { pairsDir: _pairsDir, ...built } = pairs;
  return {
    finalDir: train.finalDir,
    ...built,
    trainSeconds: train.trainSeconds,
    trainTokens: Math.round(train.tokensPerSecond * train.trainSeconds),
    steps: train.train.globalStep,
    loss: series("loss"),
    margins: series("rewards/margins"),
    accuracies: series("rewards/accuracies"),
  };
}

export async function runDpoStep(dir: string, options: DpoStepOptions): Promise<DpoResult> {
  return trainDpoOnPairs(dir, await buildDpoPairs(dir, options), options);
}
