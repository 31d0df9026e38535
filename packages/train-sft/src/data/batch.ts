import type { PackableSequence } from "./packing.js";
import { IGNORE_INDEX } from "./tokenize.js";

/** A sequence to batch: a tokenized sample, or a packed row that brings its own positions and segments. */
export interface BatchRow extends PackableSequence {
  /** @default 0, 1, 2, … (one document) */
  positionIds?: Int32Array;
  /** @default all 0 (one document) */
  segmentIds?: Int32Array;
}

/** A rectangular batch, row-major `[batchSize, seqLength]`, ready for `tf.tensor2d`. */
export interface TrainingBatch {
  batchSize: number;
  seqLength: number;
  inputIds: Int32Array;
  /** -100 on padding. */
  labels: Int32Array;
  positionIds: Int32Array;
  /** Document of every token; padding gets -1, a segment of its own, so no real token attends to it. */
  segmentIds: Int32Array;
  /** 1 = real token, 0 = padding. */
  attentionMask: Uint8Array;
  /** Real (non-padding) tokens. */
  numTokens: number;
}

export interface PadBatchOptions {
  /** Id written into padding slots (its labels are -100, so any valid id works). */
  padTokenId: number;
  /** Round the row length up to a multiple of this (TRL `pad_to_multiple_of`). @default 1 */
  padToMultipleOf?: number;
}

/**
 * Right-pads rows to the longest one (transformers' `DataCollatorForLanguageModeling` / TRL's default collator):
 * padding slots get `padTokenId`, label -100, position 0, segment -1 and mask 0.
 */
export function padBatch(rows: readonly BatchRow[], options: PadBatchOptions): TrainingBatch {
  const multiple = options.padToMultipleOf ?? 1;
  if (!Number.isInteger(multiple) || multiple < 1) throw new Error(`[infialign/train-sft] batch: option padToMultipleOf must be a positive integer; got ${multiple}.`);
  if (rows.length === 0) throw new Error("[infialign/train-sft] batch: no rows to batch; pass at least one sequence.");
  const longest = Math.max(...rows.map((r) => r.inputIds.length));
  const seqLength = Math.max(multiple, Math.ceil(longest / multiple) * multiple);
  const n = rows.length * seqLength;
  const batch: TrainingBatch = {
    batchSize: rows.length,
    seqLength,
    inputIds: new Int32Array(n).fill(options.padTokenId),
    labels: new Int32Array(n).fill(IGNORE_INDEX),
    positionIds: new Int32Array(n),
    segmentIds: new Int32Array(n).fill(-1),
    attentionMask: new Uint8Array(n),
    numTokens: 0,
  };
  rows.forEach((row, r) => {
    checkRow(row, r);
    const at = r * seqLength;
    const len = row.inputIds.length;
    batch.inputIds.set(row.inputIds, at);
    batch.labels.set(row.labels, at);
    if (row.positionIds) batch.positionIds.set(row.positionIds, at);
    else for (let i = 0; i < len; i++) batch.positionIds[at + i] = i;
    if (row.segmentIds) batch.segmentIds.set(row.segmentIds, at);
    else batch.segmentIds.fill(0, at, at + len);
    batch.attentionMask.fill(1, at, at + len);
    batch.numTokens += len;
  });
  return batch;
}

/**
 * Padding-free batching (TRL `padding_free=True`, transformers' `DataCollatorWithFlattening`): the sequences of a batch
 * concatenated into one row of exactly their total length, positions restarting at 0 and a distinct segment id per
 * sequence, so attention stays within each sequence and no compute goes to padding. Packed rows passed in keep their own
 * documents (segments are renumbered to stay distinct).
 */
export function padFreeBatch(rows: readonly BatchRow[]): TrainingBatch {
  if (rows.length === 0) throw new Error("[infialign/train-sft] batch: no rows to batch; pass at least one sequence.");
  const total = rows.reduce((sum, r) => sum + r.inputIds.length, 0);
  const batch: TrainingBatch = {
    batchSize: 1,
    seqLength: total,
    inputIds: new Int32Array(total),
    labels: new Int32Array(total),
    positionIds: new Int32Array(total),
    segmentIds: new Int32Array(total),
    attentionMask: new Uint8Array(total).fill(1),
    numTokens: total,
  };
  let at = 0;
  let nextSegment = 0;
  rows.forEach((row, r) => {
    checkRow(row, r);
    const len = row.inputIds.length;
    batch.inputIds.set(row.inputIds, at);
    batch.labels.set(row.labels, at);
    if (row.positionIds) batch.positionIds.set(row.positionIds, at);
    else for (let i = 0; i < len; i++) batch.positionIds[at + i] = i;
    if (row.segmentIds && len > 0) {
      // Renumber this row's segments in order of appearance, after the previous rows' ones.
      let previous = row.segmentIds[0] as number;
      let segment = nextSegment;
      for (let i = 0; i < len; i++) {
        const s = row.segmentIds[i] as number;
        if (s !== previous) {
          segment++;
          previous = s;
        }
        batch.segmentIds[at + i] = segment;
      }
      nextSegment = segment + 1;
    } else if (len > 0) {
      batch.segmentIds.fill(nextSegment++, at, at + len);
    }
    at += len;
  });
  return batch;
}

function checkRow(row: BatchRow, index: number): void {
  const n = row.inputIds.length;
  for (const [name, arr] of [
    ["labels", row.labels],
    ["positionIds", row.positionIds],
    ["segmentIds", row.segmentIds],
  ] as const) {
    if (arr !== undefined && arr.length !== n) throw new Error(`[infialign/train-sft] batch: row ${index} has ${n} input ids but ${arr.length} ${name}; they must match.`);
  }
}
