import { createRng } from "@infialign/kernels";

/** TRL's `packing_strategy` values (`trl/trainer/sft_config.py`, `trl/data_utils.py` `pack_dataset`). */
export type PackingStrategy = "bfd" | "bfd_split" | "wrapped";

export const PACKING_STRATEGIES: readonly PackingStrategy[] = ["bfd", "bfd_split", "wrapped"];

/** A tokenized sequence to pack (a {@link TokenizedSample} fits). */
export interface PackableSequence {
  inputIds: Int32Array;
  /** Same length as `inputIds`. */
  labels: Int32Array;
}

/** Where a (piece of a) document lies in a packed row. */
export interface PackedDocument {
  /** Index of the sequence in the input array. */
  sampleIndex: number;
  /** First position of the document in the row. */
  start: number;
  /** Tokens of the document in the row. */
  length: number;
  /** Offset of the first token within the original sequence (0 unless the sequence was split or wrapped). */
  sourceStart: number;
}

/** One packed row: documents side by side, no padding; each document attends only to itself. */
export interface PackedRow {
  inputIds: Int32Array;
  labels: Int32Array;
  /** Restart at 0 at every document (transformers' padding-free `position_ids`). */
  positionIds: Int32Array;
  /** 0, 1, 2, … per document within the row: the `segmentIds` of `@infialign/kernels/tfjs` attention. */
  segmentIds: Int32Array;
  documents: PackedDocument[];
}

export interface PackingReport {
  strategy: PackingStrategy;
  maxLength: number;
  rows: number;
  /** Non-empty input sequences. */
  sequences: number;
  /** Documents placed in rows (a split or wrapped sequence counts once per piece). */
  pieces: number;
  /** Tokens placed in rows. */
  realTokens: number;
  /** Tokens dropped: `bfd` truncates sequences longer than `maxLength` (TRL: "overflow truncated"). */
  truncatedTokens: number;
  /** realTokens / (rows × maxLength); 1 = no slack. */
  efficiency: number;
}

export interface PackOptions {
  /** Tokens per row (TRL `max_length`). */
  maxLength: number;
  /** @default "bfd" (TRL's default) */
  strategy?: PackingStrategy;
  /** Shuffle the rows with this seed (`createRng`); BFD otherwise yields the rows of the longest documents first. @default undefined (no shuffle) */
  shuffleSeed?: number;
}

export interface PackResult {
  rows: PackedRow[];
  report: PackingReport;
}

/** A run of tokens of one input sequence, the unit BFD places. */
export interface PackPiece {
  sampleIndex: number;
  sourceStart: number;
  length: number;
}

/**
 * Packs tokenized sequences into rows of at most `maxLength` tokens, TRL's three strategies:
 * - `bfd`: best-fit decreasing; a sequence longer than `maxLength` keeps its first `maxLength` tokens;
 * - `bfd_split`: longer sequences are cut into `maxLength` chunks first, then BFD (Ding et al. 2024, "Fewer
 *   Truncations Improve Language Modeling"): nothing is dropped;
 * - `wrapped`: all sequences concatenated in order and cut every `maxLength` tokens; a document cut at a row boundary
 *   continues as a new document of the next row (its first token there is not predicted: no context).
 * Unlike TRL's `wrapped` (one long causal row), every strategy here emits per-document positions and segment ids, so
 * documents never attend to each other.
 */
export function packSequences(sequences: readonly PackableSequence[], options: PackOptions): PackResult {
  const { maxLength, strategy = "bfd", shuffleSeed } = options;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`[infialign/train-sft] packing: option maxLength must be a positive integer; got ${maxLength}.`);
  if (!PACKING_STRATEGIES.includes(strategy)) throw new Error(`[infialign/train-sft] packing: option strategy must be one of ${PACKING_STRATEGIES.join(", ")}; got ${JSON.stringify(strategy)}.`);
  let truncatedTokens = 0;
  let nonEmpty = 0;
  const pieces: PackPiece[] = [];
  sequences.forEach((seq, sampleIndex) => {
    if (seq.labels.length !== seq.inputIds.length) {
      throw new Error(`[infialign/train-sft] packing: sequence ${sampleIndex} has ${seq.inputIds.length} input ids but ${seq.labels.length} labels; they must match.`);
    }
    const n = seq.inputIds.length;
    if (n === 0) return;
    nonEmpty++;
    if (strategy === "bfd") {
      if (n > maxLength) truncatedTokens += n - maxLength;
      pieces.push({ sampleIndex, sourceStart: 0, length: Math.min(n, maxLength) });
    } else if (strategy === "bfd_split") {
      for (let s = 0; s < n; s += maxLength) pieces.push({ sampleIndex, sourceStart: s, length: Math.min(maxLength, n - s) });
    } else {
      pieces.push({ sampleIndex, sourceStart: 0, length: n });
    }
  });
  const bins = strategy === "wrapped" ? wrap(pieces, maxLength) : bestFitDecreasing(pieces, maxLength);
  const rows = bins.map((bin) => buildRow(bin, sequences));
  if (shuffleSeed !== undefined) {
    const rng = createRng(shuffleSeed);
    for (let i = rows.length - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      [rows[i], rows[j]] = [rows[j] as PackedRow, rows[i] as PackedRow];
    }
  }
  const realTokens = rows.reduce((sum, r) => sum + r.inputIds.length, 0);
  return {
    rows,
    report: {
      strategy,
      maxLength,
      rows: rows.length,
      sequences: nonEmpty,
      pieces: rows.reduce((sum, r) => sum + r.documents.length, 0),
      realTokens,
      truncatedTokens,
      efficiency: rows.length === 0 ? 0 : realTokens / (rows.length * maxLength),
    },
  };
}

/**
 * Best-fit decreasing: pieces sorted longest first (stable, so ties keep input order), each put into the open bin whose
 * remaining capacity is the smallest that still fits, else into a new bin. Finding that bin naively scans every bin:
 * O(n²). Here bins are bucketed by remaining capacity (0…maxLength) and a segment tree over the buckets counts open bins
 * per capacity range, so "smallest capacity ≥ length with a bin" is one root-to-leaf descent: O(log maxLength) per
 * piece, O(n log n) overall with the sort (the same structure TRL's `_pack_bfd` uses, `trl/data_utils.py`).
 */
export function bestFitDecreasing(pieces: readonly PackPiece[], maxLength: number): PackPiece[][] {
  const order = pieces.map((_, i) => i).sort((a, b) => (pieces[b] as PackPiece).length - (pieces[a] as PackPiece).length || a - b);
  let size = 1;
  while (size < maxLength + 1) size *= 2;
  // tree[size + c] = open bins with remaining capacity c; tree[node] = sum over its range.
  const tree = new Int32Array(2 * size);
  const buckets: number[][] = Array.from({ length: maxLength + 1 }, () => []);
  const bins: PackPiece[][] = [];
  const remaining: number[] = [];
  const add = (capacity: number, delta: number) => {
    for (let node = size + capacity; node >= 1; node >>= 1) tree[node] = (tree[node] as number) + delta;
  };
  const smallestFitting = (need: number): number => {
    // Descend to the leftmost non-empty leaf with index ≥ need; -1 when none.
    const find = (node: number, lo: number, hi: number): number => {
      if (hi < need || tree[node] === 0) return -1;
      if (lo === hi) return lo;
      const mid = (lo + hi) >> 1;
      const left = find(2 * node, lo, mid);
      return left !== -1 ? left : find(2 * node + 1, mid + 1, hi);
    };
    return find(1, 0, size - 1);
  };
  for (const index of order) {
    const piece = pieces[index] as PackPiece;
    const capacity = smallestFitting(piece.length);
    let bin: number;
    if (capacity === -1) {
      bin = bins.length;
      bins.push([]);
      remaining.push(maxLength);
    } else {
      bin = (buckets[capacity] as number[]).pop() as number;
      add(capacity, -1);
    }
    (bins[bin] as PackPiece[]).push(piece);
    const left = (remaining[bin] as number) - piece.length;
    remaining[bin] = left;
    // A full bin takes no more pieces (every piece has length ≥ 1), so it is not tracked.
    if (left > 0) {
      (buckets[left] as number[]).push(bin);
      add(left, 1);
    }
  }
  return bins;
}

function wrap(pieces: readonly PackPiece[], maxLength: number): PackPiece[][] {
  const bins: PackPiece[][] = [];
  let current: PackPiece[] = [];
  let used = 0;
  for (const piece of pieces) {
    let offset = 0;
    while (offset < piece.length) {
      const take = Math.min(maxLength - used, piece.length - offset);
      current.push({ sampleIndex: piece.sampleIndex, sourceStart: piece.sourceStart + offset, length: take });
      offset += take;
      used += take;
      if (used === maxLength) {
        bins.push(current);
        current = [];
        used = 0;
      }
    }
  }
  if (current.length) bins.push(current);
  return bins;
}

function buildRow(bin: readonly PackPiece[], sequences: readonly PackableSequence[]): PackedRow {
  const total = bin.reduce((sum, p) => sum + p.length, 0);
  const row: PackedRow = {
    inputIds: new Int32Array(total),
    labels: new Int32Array(total),
    positionIds: new Int32Array(total),
    segmentIds: new Int32Array(total),
    documents: [],
  };
  let start = 0;
  bin.forEach((piece, segment) => {
    const seq = sequences[piece.sampleIndex] as PackableSequence;
    const end = piece.sourceStart + piece.length;
    row.inputIds.set(seq.inputIds.subarray(piece.sourceStart, end), start);
    row.labels.set(seq.labels.subarray(piece.sourceStart, end), start);
    for (let i = 0; i < piece.length; i++) row.positionIds[start + i] = i;
    row.segmentIds.fill(segment, start, start + piece.length);
    row.documents.push({ sampleIndex: piece.sampleIndex, start, length: piece.length, sourceStart: piece.sourceStart });
    start += piece.length;
  });
  return row;
}
