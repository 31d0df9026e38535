// The SFT objective handed to trainLoop (TRL SFTTrainer): token-summed NLL over the step's scored tokens
// (transformers `num_items_in_batch`), with `mean_token_accuracy` and `entropy` normalised the same way.
import type { TrainingEngine } from "@infialign/model";
import type { GradientOutput, LossContext } from "../core/loop.js";
import type { TrainingBatch } from "../data/batch.js";
import { IGNORE_INDEX } from "../data/tokenize.js";
import { toEngineBatch } from "./batches.js";

/** Gradients of one micro-batch of curriculum phase `phase` (0-based) through the training engine. */
export function sftGradients(engine: TrainingEngine, phase: number): (batch: TrainingBatch, context: LossContext) => Promise<GradientOutput> {
  return async (batch, { numItemsInBatch, step, micro }) => {
    // Accumulating micro-batches gives exactly the big-batch mean: ∂loss/∂log p = −1 / num_items on every scored token
    // (the engine ignores unscored ones).
    const input = toEngineBatch(batch);
    // Dropout masks seeded by (phase, step, micro-batch): a resumed run draws the uninterrupted run's masks.
    const out = await engine.gradients(input, new Float32Array(input.inputIds.length).fill(-1 / numItemsInBatch), { dropoutSeed: dropoutSeedOf(phase, step, micro) });
    let correct = 0;
    let entropy = 0;
    for (let i = 0; i < out.scores.labels.length; i++) {
      if (out.scores.labels[i] === IGNORE_INDEX) continue;
      correct += out.scores.correct[i] as number;
      entropy += out.scores.entropy[i] as number;
    }
    return { loss: out.objective, metrics: { mean_token_accuracy: correct / numItemsInBatch, entropy: entropy / numItemsInBatch }, numTokens: batch.numTokens, grads: out.grads };
  };
}

/** A 32-bit seed for one micro-batch's LoRA dropout masks. */
function dropoutSeedOf(phase: number, step: number, micro: number): number {
  return (Math.imul(phase + 1, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35) ^ Math.imul(micro + 1, 0x27d4eb2f)) >>> 0;
}
