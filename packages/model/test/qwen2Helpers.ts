// Shared pieces of the Qwen2 model tests: backends, tiny configs, seeded data.
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
// Gradients of plain tfjs ops (matMul, add, reshape, …); resolves under vitest, not plain Node ESM.
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { selectBackend } from "@infialign/kernels/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import { parseQwen2Config, type Qwen2Config } from "../src/config.js";

export const TEST_BACKENDS = ["cpu", "wasm"] as const;

export async function useBackend(name: (typeof TEST_BACKENDS)[number]): Promise<void> {
  await selectBackend({ prefer: name });
  await tf.ready();
}

/** A tiny Qwen2 config (HF keys); GQA, untied, odd vocab unless overridden. */
export function tinyConfig(overrides: Record<string, unknown> = {}): Qwen2Config {
  return parseQwen2Config({
    vocab_size: 37,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    rope_theta: 10000,
    rms_norm_eps: 1e-6,
    // Larger than HF's 0.02 so the layers change the logits visibly and a wrong op cannot hide under the tolerance.
    initializer_range: 0.3,
    tie_word_embeddings: false,
    ...overrides,
  });
}

/** Seeded ids in [0, vocab) (mulberry32). */
export function randomIds(count: number, vocab: number, seed: number): number[] {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => Math.floor(next() * vocab));
}

/** Max |a − b| / (1 + |b|). */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / (1 + Math.abs(b[i] as number)));
  return worst;
}
