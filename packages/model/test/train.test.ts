// A tiny Qwen2Model trained with Adam on a seeded synthetic corpus learns it: the loss falls from ~ln(vocab) to a small
// fraction of that, on the wasm backend, through the training forward's gradients (fused ops + registered tfjs ones).
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { Qwen2Model } from "../src/qwen2/model.js";
import { randomIds, tinyConfig, useBackend } from "./qwen2Helpers.js";

const VOCAB = 64;

/**
 * Rows of arithmetic progressions mod 64, x_t = (a + k·t) mod 64 with k ∈ {1, 2, 3}: after two tokens every next token
 * is determined, so a model that learns the rule reaches a loss near ln(64)/seq + ln(3)/seq.
 */
function corpus(rows: number, seq: number, seed: number): number[][] {
  const draws = randomIds(2 * rows, 3 * VOCAB, seed);
  return Array.from({ length: rows }, (_, r) => {
    const a = (draws[2 * r] as number) % VOCAB;
    const k = 1 + ((draws[2 * r + 1] as number) % 3);
    return Array.from({ length: seq }, (_, t) => (a + k * t) % VOCAB);
  });
}

describe("training", () => {
  beforeAll(async () => {
    await useBackend("wasm");
  });

  it("Adam on a synthetic corpus drops the loss from ~ln(vocab) to < 30% of it", () => {
    const config = tinyConfig({ vocab_size: VOCAB, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, initializer_range: 0.02, tie_word_embeddings: true });
    const model = Qwen2Model.init(config, { seed: 1 });
    const optimizer = tf.train.adam(1e-2);
    const batch = 8;
    const seq = 16;
    const lossOf = (rows: number[][], train: boolean) =>
      tf.tidy(() => {
        const inputIds = tf.tensor2d(rows.flat(), [rows.length, seq], "int32");
        const { loss } = model.loss({ inputIds, labels: inputIds });
        return train ? loss : (loss.dataSync()[0] as number);
      });
    const heldOut = corpus(32, seq, 999);
    const initial = lossOf(heldOut, false) as number;
    expect(Math.abs(initial - Math.log(VOCAB))).toBeLessThan(0.1);
    const t0 = performance.now();
    const steps = 200;
    let liveAfterFirst = 0;
    for (let step = 0; step < steps; step++) {
      const rows = corpus(batch, seq, step);
      optimizer.minimize(() => lossOf(rows, true) as tf.Scalar, false, model.trainableVariables)?.dispose();
      if (step === 0) liveAfterFirst = tf.memory().numTensors;
    }
    // A step leaves nothing behind once Adam's moments exist.
    expect(tf.memory().numTensors).toBe(liveAfterFirst);
    const seconds = (performance.now() - t0) / 1000;
    const final = lossOf(heldOut, false) as number;
    optimizer.dispose();
    model.dispose();
    console.log(`train: ${steps} steps, loss ${initial.toFixed(3)} → ${final.toFixed(3)} in ${seconds.toFixed(1)} s`);
    expect(final).toBeLessThan(0.3 * initial);
  });
});
