// Step 3: a small Qwen2 trained from scratch (byte-level tokenizer) in two curriculum phases, easier then harder.
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { selectBackend } from "@infialign/kernels/tfjs";
import { ByteTokenizer, countParameters, parseQwen2Config, type Qwen2Config, Qwen2Model, saveCheckpoint } from "@infialign/model";
import { readMetrics, resolveCurriculumConfig, trainSft } from "@infialign/train-sft";
import type { DemoConfig } from "../config.js";

export interface SftPhaseResult {
  name: string;
  trainSamples: number;
  steps: number;
  tokens: number;
  tokensPerSecond: number;
  seconds: number;
  finalTrainLoss?: number;
  /** `[step, loss]` of every logged step (global steps: phase 2 continues phase 1's count). */
  loss: Array<[number, number]>;
}

export interface SftResult {
  /** The from-scratch initial checkpoint (the "base" model of the evaluation). */
  initDir: string;
  finalDir: string;
  parameters: number;
  backend: string;
  phases: SftPhaseResult[];
}

export interface SftStepOptions {
  config: DemoConfig;
  /** Phase data files (canonical samples). */
  easy: string;
  hard: string;
  resume: boolean;
  /** Seed of the init and data order (the ablation varies it). @default config.seed */
  seed?: number;
  /**
   * Train in one phase over both files, at the epochs that give the two-phase run's token count (the curriculum
   * ablation). @default false
   */
  onePhase?: boolean;
  progress?: boolean;
  log?: (line: string) => void;
}

export function modelConfigOf(config: DemoConfig, tokenizer: ByteTokenizer): Qwen2Config {
  const m = config.model;
  return parseQwen2Config({
    vocab_size: tokenizer.vocabSize,
    hidden_size: m.hiddenSize,
    intermediate_size: m.intermediateSize,
    num_hidden_layers: m.layers,
    num_attention_heads: m.heads,
    num_key_value_heads: m.kvHeads,
    max_position_embeddings: m.maxPositions,
    tie_word_embeddings: true,
  });
}

/**
 * Epochs of one phase over easy + hard that trains as many tokens as the curriculum: `epochs[0]` over easy, then
 * `epochs[1]` over easy + hard (file bytes stand in for tokens: both are proportional to the text).
 */
export async function equalTokenEpochs(easy: string, hard: string, epochs: readonly [number, number]): Promise<number> {
  const [e, h] = (await Promise.all([easy, hard].map(async (f) => (await stat(f)).size))) as [number, number];
  if (!e || !h) throw new Error(`[infialign/example-full-pipeline] sft: one-phase training needs both phase files non-empty (${easy}: ${e} bytes, ${hard}: ${h} bytes)`);
  return (epochs[0] * e + epochs[1] * (e + h)) / (e + h);
}

export async function runSftStep(dir: string, options: SftStepOptions): Promise<SftResult> {
  const { config } = options;
  const seed = options.seed ?? config.seed;
  const backend = await selectBackend();
  const tokenizer = new ByteTokenizer();
  const modelConfig = modelConfigOf(config, tokenizer);
  const initDir = join(dir, "init");
  // The init is a pure function of (config, seed), so a resumed run may keep the one on disk.
  if (!options.resume || !existsSync(join(initDir, "config.json"))) {
    const model = Qwen2Model.init(modelConfig, { seed });
    try {
      await saveCheckpoint(initDir, { config: modelConfig, weights: model.toWeights(), tokenizer });
    } finally {
      model.dispose();
    }
  }
  const phase = (name: string, files: string[], i: 0 | 1, epochs = config.sft.epochs[i]) => ({
    name,
    data: { files },
    epochs,
    learningRate: config.sft.learningRate[i],
    warmupRatio: 0.05,
    scheduler: "cosine" as const,
    batchSize: config.sft.batchSize,
    maxLength: config.sft.maxLength,
    packing: "bfd" as const,
  });
  const curriculum = resolveCurriculumConfig(
    {
      model: initDir,
      outputDir: join(dir, "train"),
      seed,
      loggingSteps: 2,
      saveSteps: 25,
      saveTotalLimit: 1,
      phases: options.onePhase
        ? [phase("one-phase", [options.easy, options.hard], 0, await equalTokenEpochs(options.easy, options.hard, config.sft.epochs))]
        : // Phase 2 replays the easy records beside the hard ones: on hard records alone the model forgets the short
          // procedures (measured: 0% on 2-digit items after a hard-only phase 2).
          [phase("phase1-easy", [options.easy], 0), phase("phase2-all", [options.easy, options.hard], 1)],
    },
    "full-pipeline SFT curriculum",
  );
  const summary = await trainSft(curriculum, { tokenizer, resume: options.resume, progress: options.progress ?? true, ...(options.log ? { log: options.log } : {}) });
  if (summary.interrupted || !summary.finalDir) throw new Error("[infialign/example-full-pipeline] sft: training stopped before the last phase finished; rerun to resume.");
  const phases: SftPhaseResult[] = [];
  // trainSft counts steps per phase; the curves continue across phases.
  let offset = 0;
  for (const p of summary.phases) {
    const metrics = await readMetrics(join(p.dir, "metrics.jsonl"), { tolerateTornLastLine: true });
    phases.push({
      name: p.name,
      trainSamples: p.trainSamples,
      steps: p.steps,
      tokens: p.tokens,
      tokensPerSecond: p.tokensPerSecond,
      seconds: p.seconds,
      ...(p.finalTrainLoss === undefined ? {} : { finalTrainLoss: p.finalTrainLoss }),
      loss: metrics.filter((r) => typeof r.loss === "number").map((r) => [offset + r.step, r.loss as number]),
    });
    offset += p.steps;
  }
  return { initDir, finalDir: summary.finalDir, parameters: countParameters(modelConfig), backend: `${summary.engine} training engine (tfjs ${backend.name} holds the weights)`, phases };
}
