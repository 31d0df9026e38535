// Teacher-forced log-probs of given completions: DPO reference log-probs, evaluation, reward-free ranking.
import type { DecodeModel } from "../engine.js";
import { ModelError } from "../errors.js";
import { logSoftmaxStats } from "./sampling.js";

const COMPONENT = "score";

/** One prompt and the completion to score after it. */
export interface ScoreItem {
  promptIds: readonly number[];
  completionIds: readonly number[];
}

export interface ScoreOptions {
  /**
   * Items per forward pass. The model returns float32 logits for every position, `batch × longest sequence × vocab`
   * values, so lower it for long sequences over a large vocabulary (8 × 512 × 151,936 floats = 2.5 GB).
   * @default 8
   */
  batchSize?: number;
}

/**
 * log p(completion token | prompt, earlier completion tokens) of every completion token, by one forward per batch with
 * `allLogits` over prompt + completion (left-padded; positions count real tokens only) and a float64 log-softmax, so
 * the values equal what {@link generate} reports for the same tokens. Items are grouped by length to waste little
 * padding; result i belongs to item i.
 */
export async function scoreCompletions(model: DecodeModel, items: readonly ScoreItem[], options: ScoreOptions = {}): Promise<Float64Array[]> {
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ModelError(COMPONENT, `batchSize must be a positive integer, got ${batchSize}`);
  items.forEach((item, i) => {
    const bad = [...item.promptIds, ...item.completionIds].find((t) => !Number.isInteger(t) || t < 0 || t >= model.vocabSize);
    if (bad !== undefined) throw new ModelError(COMPONENT, `item ${i}: token id ${bad} is not an integer in [0, ${model.vocabSize}) (the model's vocabulary)`);
    if (item.promptIds.length === 0) throw new ModelError(COMPONENT, `item ${i}: promptIds is empty; the first completion token needs at least one token of context (e.g. BOS)`);
    const length = item.promptIds.length + item.completionIds.length;
    if (length > model.maxPositions) throw new ModelError(COMPONENT, `item ${i}: prompt + completion has ${length} tokens; the model accepts at most ${model.maxPositions}`);
  });

  const results: Float64Array[] = items.map((item) => new Float64Array(item.completionIds.length));
  // The last completion token predicts nothing, so it is not fed; items without a completion need no forward.
  const order = items
    .map((item, i) => ({ i, ids: [...item.promptIds, ...item.completionIds.slice(0, -1)] }))
    .filter(({ i }) => (items[i] as ScoreItem).completionIds.length > 0)
    .sort((a, b) => a.ids.length - b.ids.length);
  const vocab = model.vocabSize;
  for (let start = 0; start < order.length; start += batchSize) {
    const group = order.slice(start, start + batchSize);
    const length = Math.max(...group.map((g) => g.ids.length));
    const batch = group.length;
    const ids = new Int32Array(batch * length);
    const positionIds = new Int32Array(batch * length);
    const keyMask = new Uint8Array(batch * length);
    group.forEach((g, b) => {
      const pad = length - g.ids.length;
      g.ids.forEach((id, j) => {
        ids[b * length + pad + j] = id;
        positionIds[b * length + pad + j] = j;
        keyMask[b * length + pad + j] = 1;
      });
    });
    const out = await model.step({ ids, positionIds, keyMask, batch, newTokens: length, allLogits: true });
    out.cache.dispose();
    group.forEach((g, b) => {
      const item = items[g.i] as ScoreItem;
      const pad = length - g.ids.length;
      const target = results[g.i] as Float64Array;
      for (let j = 0; j < item.completionIds.length; j++) {
        // The logits at the position before completion token j predict it.
        const at = b * length + pad + item.promptIds.length - 1 + j;
        const row = out.logits.subarray(at * vocab, (at + 1) * vocab);
        const { max, logSum } = logSoftmaxStats(row);
        target[j] = row[item.completionIds[j]!]! - max - logSum;
      }
    });
  }
  return results;
}
