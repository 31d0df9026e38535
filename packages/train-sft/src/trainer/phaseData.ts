// A phase's training data: selection → tokenization → the samples with something to learn → seeded eval split →
// packing (or one sample per row) → the resumable micro-batch source, with the batching report of run.json.
import { createRng } from "@infialign/kernels";
import type { ModelTokenizer } from "@infialign/model";
import type { CurriculumConfig, PhaseConfig } from "../curriculum.js";
import type { BatchRow } from "../data/batch.js";
import { type PackingReport, packSequences } from "../data/packing.js";
import { selectSamples } from "../data/selectSamples.js";
import { IGNORE_INDEX, type TokenizedSample, tokenizeSamples } from "../data/tokenize.js";
import { SftBatchSource } from "./batches.js";
import type { PhaseDataReport, SftBatchingReport } from "./summary.js";

const PREFIX = "[infialign/train-sft] trainer";

export interface PhaseData extends PhaseDataReport {
  train: TokenizedSample[];
  /** Held-out samples (`evalFraction`), never trained on. */
  evalSet: TokenizedSample[];
  source: SftBatchSource;
}

export interface PhaseDataOptions {
  /** Curriculum phase index (in the data cursor). */
  index: number;
  tokenizer: ModelTokenizer;
  trainOnPrompt: boolean;
  signal?: AbortSignal;
}

/** Builds a phase's data (see the module comment). */
export async function preparePhaseData(config: CurriculumConfig, phase: PhaseConfig, options: PhaseDataOptions): Promise<PhaseData> {
  const { tokenizer } = options;
  // The same seed in every phase: a phase's data order and eval split depend on its data only, not on its position.
  const seed = config.seed;
  const { samples, report: selection } = await selectSamples(phase.data, { seed, ...(options.signal ? { signal: options.signal } : {}) });
  const tokenized = tokenizeSamples(samples, tokenizer, { trainOnPrompt: options.trainOnPrompt, ...(phase.packing === "none" ? { maxLength: phase.maxLength } : {}) });
  // bfd keeps the first maxLength tokens; bfd_split / wrapped keep everything.
  const limit = phase.packing === "bfd" || phase.packing === "none" ? phase.maxLength : Number.POSITIVE_INFINITY;
  const usable = tokenized.filter((s) => scoredTokens(s, limit) > 0);
  const { train, evalSet } = splitEval(usable, config.evalFraction, seed ^ 0x9e3779b9);
  if (train.length === 0) throw new Error(`${PREFIX}: phase "${phase.name}" has no training samples with answer tokens (selected ${selection.kept}, usable ${usable.length}); check data.files and the filters.`);

  const { rows, packing, truncatedTokens } = phaseRows(train, phase, tokenized.reduce((sum, s) => sum + s.truncatedTokens, 0));
  const source = new SftBatchSource({ rows, batchSize: phase.batchSize, epochs: phase.epochs, seed, padTokenId: tokenizer.padTokenId, phase: options.index, paddingFree: phase.paddingFree });
  const batching: SftBatchingReport = { strategy: phase.packing, maxLength: phase.maxLength, rows: rows.length, ...source.paddingEfficiency(), truncatedTokens, ...(packing ? { packing } : {}) };
  // HF Trainer: updates per epoch = ceil(micro-batches / accumulation); max_steps = ceil(epochs × that).
  const maxSteps = Math.ceil(phase.epochs * Math.ceil(source.batchesPerEpoch / phase.gradAccumulation));
  return { selection, trainSamples: train.length, evalSamples: evalSet.length, droppedNoLossTokens: tokenized.length - usable.length, batching, maxSteps, train, evalSet, source };
}

/** Training rows: the phase's packing strategy over the train split, or one sample per row (`none`). */
function phaseRows(train: TokenizedSample[], phase: PhaseConfig, tokenizationTruncated: number): { rows: BatchRow[]; packing?: PackingReport; truncatedTokens: number } {
  if (phase.packing === "none") return { rows: train, truncatedTokens: tokenizationTruncated };
  const packed = packSequences(train, { maxLength: phase.maxLength, strategy: phase.packing });
  return { rows: packed.rows, packing: packed.report, truncatedTokens: tokenizationTruncated + packed.report.truncatedTokens };
}

/** Tokens whose next token carries a label, within the first `limit` tokens. */
function scoredTokens(sample: TokenizedSample, limit: number): number {
  const end = Math.min(limit, sample.labels.length);
  let n = 0;
  for (let t = 1; t < end; t++) if (sample.labels[t] !== IGNORE_INDEX) n++;
  return n;
}

/** Seeded train / eval split: a permutation of the samples, the first `round(n · fraction)` (≥ 1) held out. */
function splitEval<T>(items: readonly T[], fraction: number, seed: number): { train: T[]; evalSet: T[] } {
  if (fraction <= 0 || items.length < 2) return { train: [...items], evalSet: [] };
  const rng = createRng(seed >>> 0);
  const idx = items.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  const nEval = Math.min(items.length - 1, Math.max(1, Math.round(items.length * fraction)));
  const held = new Set(idx.slice(0, nEval));
  // Both splits keep file order, so the packing (and its report) does not depend on the split's permutation.
  return { train: items.filter((_, i) => !held.has(i)), evalSet: items.filter((_, i) => held.has(i)) };
}
