// The onnxruntime training engine against the tfjs reference engine: same scores and gradients on the same weights
// and batches (full model, tied and untied heads, packed rows with segments, LoRA), within float32 rounding.
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { attachLora } from "../src/qwen2/lora.js";
import { Qwen2Model } from "../src/qwen2/model.js";
import { TfjsTrainingEngine, type TrainingBatch } from "../src/train/engine.js";
import { OnnxTrainingEngine } from "../src/train/onnx.js";
import { randomIds, tinyConfig, useBackend } from "./qwen2Helpers.js";

function relativeError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += ((a[i] as number) - (b[i] as number)) ** 2;
    den += (b[i] as number) ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

function batchOf(vocab: number, b: number, s: number, seed: number, packed: boolean): TrainingBatch {
  const inputIds = Int32Array.from(randomIds(b * s, vocab, seed));
  const labels = Int32Array.from(inputIds, (id, i) => (i % s < 3 ? -100 : id));
  if (!packed) return { inputIds, labels, batch: b, seq: s };
  // Two documents per row, positions restarting at the boundary.
  const cut = Math.floor(s / 2) - 1;
  const segmentIds = Int32Array.from({ length: b * s }, (_, i) => (i % s < cut ? 0 : 1));
  const positionIds = Int32Array.from({ length: b * s }, (_, i) => (i % s < cut ? i % s : (i % s) - cut));
  return { inputIds, labels, batch: b, seq: s, segmentIds, positionIds };
}

describe("OnnxTrainingEngine = TfjsTrainingEngine", () => {
  for (const [label, overrides, packed, lora] of [
    ["untied, GQA", {}, false, false],
    ["tied, packed", { tie_word_embeddings: true }, true, false],
    ["LoRA on every projection", {}, true, true],
  ] as const) {
    it(`${label}: scores and gradients agree`, async () => {
      await useBackend("cpu");
      const config = tinyConfig(overrides);
      const model = Qwen2Model.init(config, { seed: 3 });
      if (lora) {
        attachLora(model, { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], seed: 1 });
        // B starts at zero (PEFT); give it values so the A gradients are not trivially zero.
        let k = 0;
        for (const adapter of model.adapters.values()) adapter.b.assign(tf.randomNormal(adapter.b.shape, 0, 0.3, "float32", 100 + k++));
      }
      const batch = batchOf(config.vocabSize, 3, 12, 11, packed);
      const weights = Float32Array.from({ length: 36 }, (_, i) => -(1 + (i % 5)) / 40);
      const onnx = await OnnxTrainingEngine.create(model, { threads: 1 });
      const ref = new TfjsTrainingEngine(model);
      const a = await onnx.gradients(batch, weights);
      const b = await ref.gradients(batch, weights);
      expect(Math.abs(a.objective - b.objective)).toBeLessThan(1e-5 * Math.abs(b.objective));
      expect(relativeError(a.scores.logProbs, b.scores.logProbs)).toBeLessThan(1e-5);
      expect(relativeError(a.scores.entropy, b.scores.entropy)).toBeLessThan(1e-5);
      expect(relativeError(a.scores.meanLogits, b.scores.meanLogits)).toBeLessThan(1e-5);
      expect([...a.grads.keys()].sort()).toEqual([...b.grads.keys()].sort());
      for (const [name, g] of b.grads) {
        expect(a.grads.get(name)?.shape, name).toEqual(g.shape);
        expect(relativeError(a.grads.get(name)!.data, g.data), name).toBeLessThan(1e-4);
      }
      await onnx.dispose();
      model.dispose();
    });
  }
});

describe("OnnxTrainingEngine: the logits budget", () => {
  it("runs row chunks with the same scores and gradients, and hands rows that alone exceed it to the tfjs engine", async () => {
    await useBackend("cpu");
    const config = tinyConfig({ tie_word_embeddings: true });
    const model = Qwen2Model.init(config, { seed: 5 });
    const batch = batchOf(config.vocabSize, 4, 10, 21, true);
    const weights = Float32Array.from({ length: 40 }, (_, i) => -(1 + (i % 3)) / 30);
    const rowBytes = 10 * config.vocabSize * 4;
    const whole = await OnnxTrainingEngine.create(model, { threads: 1 });
    const chunked = await OnnxTrainingEngine.create(model, { threads: 1, maxLogitsBytes: rowBytes });
    const tiny = await OnnxTrainingEngine.create(model, { threads: 1, maxLogitsBytes: rowBytes - 1 });
    const reference = await new TfjsTrainingEngine(model).gradients(batch, weights);
    const a = await whole.gradients(batch, weights);
    const b = await chunked.gradients(batch, weights);
    const c = await tiny.gradients(batch, weights);
    expect(relativeError(b.scores.logProbs, a.scores.logProbs)).toBeLessThan(1e-6);
    expect(relativeError((await chunked.score(batch)).logProbs, a.scores.logProbs)).toBeLessThan(1e-6);
    for (const [name, g] of a.grads) expect(relativeError(b.grads.get(name)!.data, g.data), name).toBeLessThan(1e-5);
    // The fallback is the tfjs engine itself: bit-identical to it.
    for (const [name, g] of reference.grads) expect(c.grads.get(name)!.data, name).toEqual(g.data);
    await Promise.all([whole.dispose(), chunked.dispose(), tiny.dispose()]);
    model.dispose();
  });
});
