// Micro-batches of an SFT phase: packed rows or tokenized samples, reshuffled every epoch with a seed, batched by
// padBatch, and the host → tfjs conversion of a batch for Qwen2Model.tokenLogProbs.
import { createRng } from "@infialign/kernels";
import type { CausalLmBatch, TrainingBatch as EngineBatch } from "@infialign/model";
import * as tf from "@tensorflow/tfjs-core";
import type { DataCursor } from "../core/checkpoint.js";
import type { MicroBatchSource } from "../core/loop.js";
import { type BatchRow, padBatch, padFreeBatch, type TrainingBatch } from "../data/batch.js";
import { IGNORE_INDEX } from "../data/tokenize.js";

export interface SftBatchSourceOptions {
  /** Rows (packed rows, or one tokenized sample each) of the phase's training split. */
  rows: readonly BatchRow[];
  /** Rows per micro-batch. */
  batchSize: number;
  /** Passes over the rows; the source ends after ceil(epochs) passes. */
  epochs: number;
  /** Seed of the per-epoch shuffle: epoch e uses `createRng(seed + e)`. */
  seed: number;
  padTokenId: number;
  /** Curriculum phase index, stored in the cursor. @default 0 */
  phase?: number;
  /** One unpadded row per micro-batch (padFreeBatch) instead of right-padded rows (padBatch). @default false */
  paddingFree?: boolean;
}

/**
 * A resumable stream of padded micro-batches: every epoch visits the rows in a fresh seeded permutation (transformers'
 * `RandomSampler` reseeds per epoch too), the last micro-batch of an epoch may be smaller (`drop_last=False`). The
 * cursor is (epoch, micro-batches consumed in it), and the permutation is a function of (seed, epoch), so seeking
 * reproduces the exact batches an uninterrupted run would have seen.
 */
export class SftBatchSource implements MicroBatchSource<TrainingBatch> {
  readonly batchesPerEpoch: number;
  private epochIndex = 0;
  private position = 0;
  private order: number[] | undefined;

  constructor(private readonly options: SftBatchSourceOptions) {
    if (options.rows.length === 0) throw new Error("[infialign/train-sft] trainer: the phase has no training rows; check the data selection (and evalFraction).");
    this.batchesPerEpoch = Math.ceil(options.rows.length / options.batchSize);
  }

  /** Row indices of epoch `epoch` in visiting order. */
  permutation(epoch: number): number[] {
    const rng = createRng((this.options.seed + epoch) >>> 0);
    const idx = this.options.rows.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
    }
    return idx;
  }

  next(): TrainingBatch | undefined {
    if (this.position >= this.batchesPerEpoch) {
      this.epochIndex += 1;
      this.position = 0;
      this.order = undefined;
    }
    if (this.epochIndex >= Math.ceil(this.options.epochs)) return undefined;
    this.order ??= this.permutation(this.epochIndex);
    const { batchSize, rows, padTokenId } = this.options;
    const picked = this.order.slice(this.position * batchSize, (this.position + 1) * batchSize).map((i) => rows[i] as BatchRow);
    this.position += 1;
    return this.options.paddingFree ? padFreeBatch(picked) : padBatch(picked, { padTokenId });
  }

  cursor(): DataCursor {
    return { phase: this.options.phase ?? 0, epoch: this.epochIndex, position: this.position, seed: this.options.seed };
  }

  seek(cursor: DataCursor): void {
    if (cursor.seed !== undefined && cursor.seed !== this.options.seed) {
      throw new Error(`[infialign/train-sft] trainer: the checkpoint's data cursor has seed ${String(cursor.seed)} but the run uses seed ${this.options.seed}; resume with the config the run started with.`);
    }
    this.epochIndex = cursor.epoch;
    this.position = cursor.position;
    this.order = undefined;
  }

  epoch(): number {
    return this.epochIndex + this.position / this.batchesPerEpoch;
  }

  /** Real tokens over padded slots (rows × padded length) of one epoch's micro-batches. */
  paddingEfficiency(): { realTokens: number; paddedTokens: number; efficiency: number } {
    const order = this.permutation(0);
    const { batchSize, rows } = this.options;
    let real = 0;
    let padded = 0;
    for (let at = 0; at < order.length; at += batchSize) {
      const lengths = order.slice(at, at + batchSize).map((i) => (rows[i] as BatchRow).inputIds.length);
      real += lengths.reduce((a, b) => a + b, 0);
      padded += lengths.length * Math.max(...lengths);
    }
    return { realTokens: real, paddedTokens: padded, efficiency: padded === 0 ? 0 : real / padded };
  }
}

/**
 * Positions whose next token is scored, as Qwen2Model shifts labels: t predicts labels[t + 1] within a row and, with
 * segments, within one document. This is the loss denominator (TRL / transformers `num_items_in_batch`).
 */
export function countLossTokens(batch: Pick<TrainingBatch, "batchSize" | "seqLength" | "labels" | "segmentIds">): number {
  const { batchSize, seqLength, labels, segmentIds } = batch;
  let n = 0;
  for (let r = 0; r < batchSize; r++) {
    for (let t = 0; t + 1 < seqLength; t++) {
      const i = r * seqLength + t;
      if (segmentIds[i] === segmentIds[i + 1] && labels[i + 1] !== IGNORE_INDEX) n++;
    }
  }
  return n;
}

/** Tensors of a host batch (caller disposes, or creates them inside a tidy scope). */
export function toCausalLmBatch(batch: TrainingBatch): CausalLmBatch {
  const shape: [number, number] = [batch.batchSize, batch.seqLength];
  return {
    inputIds: tf.tensor2d(batch.inputIds, shape, "int32"),
    labels: tf.tensor2d(batch.labels, shape, "int32"),
    positionIds: tf.tensor2d(batch.positionIds, shape, "int32"),
    segmentIds: tf.tensor2d(batch.segmentIds, shape, "int32"),
  };
}

/** A host batch in the training engine's layout (@infialign/model TrainingBatch). */
export function toEngineBatch(batch: TrainingBatch): EngineBatch {
  return { inputIds: batch.inputIds, labels: batch.labels, batch: batch.batchSize, seq: batch.seqLength, positionIds: batch.positionIds, segmentIds: batch.segmentIds };
}
