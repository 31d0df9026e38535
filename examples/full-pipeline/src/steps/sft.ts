// Step 3: a small Qwen2 trained from scratch (byte-level tokenizer) in two curriculum phases, easier then harder.
import { existsSync } from "node:fs";
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
  const phase = (name: string, file: string, i: 0 | 1) => ({
    name,
    data: { files: [file] },
    epochs: config.sft.epochs[i],
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
      phases: [phase("phase1-easy", options.easy, 0), phase("phase2-hard", options.hard, 1)],
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
