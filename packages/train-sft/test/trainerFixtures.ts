// Tiny models, synthetic chat data and run configs for the trainer, report and CLI tests.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { makeSample, type Sample } from "@infialign/data";
import { ByteTokenizer, parseQwen2Config, type Qwen2Config, Qwen2Model, saveCheckpoint } from "@infialign/model";
import { type CurriculumConfig, type CurriculumConfigInput, resolveCurriculumConfig } from "../src/curriculum.js";

/** Byte vocabulary (260), hidden 32, one layer, GQA 4/2. */
export function tinyQwen2Config(overrides: Record<string, unknown> = {}): Qwen2Config {
  return parseQwen2Config({
    vocab_size: 260,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 1,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 256,
    initializer_range: 0.05,
    tie_word_embeddings: false,
    ...overrides,
  });
}

/** Writes a freshly initialised tiny model with the byte tokenizer as a Hugging Face directory. */
export async function writeTinyModel(dir: string, seed = 0, overrides: Record<string, unknown> = {}): Promise<string> {
  const model = Qwen2Model.init(tinyQwen2Config(overrides), { seed });
  try {
    await saveCheckpoint(dir, { config: model.config, weights: model.toWeights(), tokenizer: new ByteTokenizer() });
  } finally {
    model.dispose();
  }
  return dir;
}

const COLOURS = ["red", "blue", "green", "gold"];

/** `n` chat samples of one pattern: "Colour of item i?" → "Item i is <colour>." (colour = i mod 4). */
export function patternSamples(n: number, offset = 0): Sample[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    return makeSample({ source: "synthetic", prompt: `Colour of item ${i}?`, response: `Item ${i} is ${COLOURS[i % 4]}.` });
  });
}

export async function writeSamples(path: string, samples: readonly Sample[]): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, samples.map((s) => `${JSON.stringify(s)}\n`).join(""));
  return path;
}

/** A run config over a model and data files under `root`; phases default to one phase "p1" over `root/data.jsonl`. */
export function runConfig(root: string, overrides: Partial<CurriculumConfigInput> = {}): CurriculumConfig {
  return resolveCurriculumConfig({
    model: join(root, "model"),
    outputDir: join(root, "run"),
    seed: 7,
    loggingSteps: 1,
    saveSteps: 1000,
    optimizer: { beta1: 0.9, beta2: 0.95, weightDecay: 0 },
    phases: [{ name: "p1", data: { files: [join(root, "data.jsonl")] }, epochs: 2, learningRate: 3e-3, batchSize: 4, maxLength: 64, packing: "bfd", scheduler: "constant" }],
    ...overrides,
  });
}
