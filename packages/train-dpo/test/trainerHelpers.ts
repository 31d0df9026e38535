// Shared pieces of the trainer and CLI tests: a tiny Qwen2 policy on the byte tokenizer, seeded preference pairs.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ByteTokenizer, parseQwen2Config, Qwen2Model, saveCheckpoint } from "@infialign/model";
import { type DpoConfig, resolveDpoConfig } from "../src/config.js";
import type { PreferenceRecord } from "../src/pairs/pairStage.js";

/** Byte vocabulary (256 bytes + 4 specials), hidden 32, one layer. */
export const TINY_CONFIG = parseQwen2Config({
  vocab_size: 260,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 1,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 256,
  rope_theta: 10000,
  rms_norm_eps: 1e-6,
  initializer_range: 0.1,
  tie_word_embeddings: false,
});

/** Writes a freshly initialised tiny policy (weights + byte tokenizer files) to `dir`. */
export async function writeTinyModel(dir: string, seed = 1): Promise<void> {
  const model = Qwen2Model.init(TINY_CONFIG, { seed });
  await saveCheckpoint(dir, { config: TINY_CONFIG, weights: model.toWeights(), tokenizer: new ByteTokenizer() });
  model.dispose();
}

/** `n` pairs: a short arithmetic prompt, the right sum as chosen, a wrong one as rejected. */
export function tinyPairs(n: number): PreferenceRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `pair-${i}`,
    source: "test",
    prompt: [{ role: "user" as const, content: `${i}+${i}=?` }],
    chosen: [{ role: "assistant" as const, content: `${2 * i}` }],
    rejected: [{ role: "assistant" as const, content: `${2 * i + 1}x` }],
    meta: { pass_rate: 0.5, k: 8 } as PreferenceRecord["meta"],
  }));
}

export async function writePairs(path: string, records: readonly PreferenceRecord[]): Promise<void> {
  await writeFile(path, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
}

/** A resolved config for the tiny setup; `overrides` are raw config fields. */
export function tinyDpoConfig(dir: string, overrides: Record<string, unknown> = {}): DpoConfig {
  return resolveDpoConfig({
    model: join(dir, "model"),
    pairs: join(dir, "pairs.jsonl"),
    outputDir: join(dir, "run"),
    batchSize: 8,
    epochs: 1,
    loggingSteps: 1,
    saveSteps: 0,
    maxLength: 64,
    maxPromptLength: 32,
    reference: { engine: "tfjs" },
    ...overrides,
  });
}
