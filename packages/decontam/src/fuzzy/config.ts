import { z } from "zod";
import { resolveConfig } from "../config/resolveConfig.js";

/** Configuration of `ParaphraseIndex`. */
export interface ParaphraseIndexConfig {
  /**
   * Flag when the IDF-weighted share of an item's features found in the text is at least this (0-1).
   * Chosen, with the other weights, by a grid search on the seeded dev half of test/fixtures (see test/paraphrase.test.ts).
   * @default 0.6
   */
  threshold: number;
  /**
   * Share of the item's distinct numbers that must appear in the text (two problems with the same words but other
   * numbers are different problems). Items without numbers skip this gate.
   * @default 1
   */
  minNumberContainment: number;
  /**
   * Share of the item's word-only features (neither number nor variable) the text must hold: formula-shaped problems
   * share numbers and `x`/`y` shapes with many others, so their words must match too.
   * @default 0.3
   */
  minWordScore: number;
  /**
   * Lower score threshold for number-rich items: when an item has at least 3 distinct non-stock numbers (not among the
   * `maxDocFrequency` most common) and the text holds all of them, the same numbers in a text that shares this much of the
   * item's wording are strong evidence of a reworded copy.
   * @default 0.35
   */
  numberRichThreshold: number;
  /**
   * Weight multiplier of number features (unigrams and bigrams holding a number) over their IDF weight.
   * @default 3
   */
  numberWeight: number;
  /**
   * Weight multiplier of word bigrams relative to unigrams (bigrams keep some word order; reworded text breaks many,
   * but they separate look-alikes sharing vocabulary).
   * @default 1
   */
  bigramWeight: number;
  /**
   * Weight multiplier of features holding the variable placeholder (`x^2+y` shapes are shared by many unrelated problems).
   * @default 0.5
   */
  variableWeight: number;
  /**
   * Features found in more than this share of items (and of the background texts, when given), and in at least 3, are
   * stock and ignored.
   * @default 0.05
   */
  maxDocFrequency: number;
  /**
   * Items with fewer distinct non-stock features than this are not indexed (too short to tell a paraphrase from chance).
   * @default 4
   */
  minItemFeatures: number;
  /**
   * A text with fewer canonical tokens than this share of the item's cannot hold a paraphrase of all of it.
   * This and the precision gates below were set against the false positives on the MATH test and GSM8K train pools,
   * checked to drop no leak of test/fixtures that the detector caught before (both halves).
   * @default 0.75
   */
  minLengthRatio: number;
  /**
   * For items with 4+ variable placeholders: the text must hold at least this share as many (a formula-shaped problem
   * with a shorter formula is another problem).
   * @default 0.6
   */
  minVariableRatio: number;
  /**
   * Extra distinct numbers (in the text, not in the item) allowed per distinct number of the item: a leak keeps the
   * item's numbers and adds few ("one" read as 1); a problem with other numbers is another problem.
   * @default 0.34
   */
  extraNumbersPerItemNumber: number;
  /**
   * Cap on the extra numbers allowed by `extraNumbersPerItemNumber`.
   * @default 1
   */
  maxExtraNumbers: number;
  /**
   * For items with at least `numberOrderMinPairs` distinct adjacent number pairs (numbers in reading order, e.g. the
   * coefficients of a polynomial), this share of the pairs must be adjacent in the text too: a leak keeps the order of
   * its numbers within each formula or sentence; a sibling problem reuses them in another order.
   * @default 0.5
   */
  minNumberOrder: number;
  /**
   * See `minNumberOrder`.
   * @default 4
   */
  numberOrderMinPairs: number;
  /**
   * Extra distinct numbers allowed per canonical token the text has beyond the item's length (room for a longer text,
   * e.g. a worked solution after the problem).
   * @default 0.03
   */
  extraNumbersPerToken: number;
  /**
   * The item's heaviest word (4+ letters) missing from the text may weigh at most this share of the item's total weight:
   * "arrange the letters of the word NINE" is not a copy of the same question about ELLIPSE.
   * @default 0.08
   */
  maxMissingWordShare: number;
  /**
   * Items whose non-stock features weigh less than this in total (short formula problems such as
   * "Find the minimum of (a+b+c+d)(1/a+1/b+1/c+1/d)") match only with `smallItemThreshold` and no extra number.
   * @default 50
   */
  smallItemWeight: number;

  /**
   * Score needed for items lighter than `smallItemWeight`.
   * @default 0.99
   */
  smallItemThreshold: number;
  /**
   * Matches reported per text, best first.
   * @default 5
   */
  topK: number;
}

export const DEFAULT_PARAPHRASE_INDEX_CONFIG: Readonly<ParaphraseIndexConfig> = Object.freeze({
  threshold: 0.6,
  minNumberContainment: 1,
  minWordScore: 0.3,
  numberRichThreshold: 0.35,
  numberWeight: 3,
  bigramWeight: 1,
  variableWeight: 0.5,
  maxDocFrequency: 0.05,
  minItemFeatures: 4,
  minLengthRatio: 0.75,
  minVariableRatio: 0.6,
  extraNumbersPerItemNumber: 0.34,
  maxExtraNumbers: 1,
  minNumberOrder: 0.5,
  numberOrderMinPairs: 4,
  extraNumbersPerToken: 0.03,
  maxMissingWordShare: 0.08,
  smallItemWeight: 50,
  smallItemThreshold: 0.99,
  topK: 5,
});

export const ParaphraseIndexConfigSchema = z.object({
  threshold: z.number().min(0).max(1),
  minNumberContainment: z.number().min(0).max(1),
  minWordScore: z.number().min(0).max(1),
  numberRichThreshold: z.number().min(0).max(1),
  numberWeight: z.number().positive(),
  bigramWeight: z.number().min(0),
  variableWeight: z.number().min(0),
  maxDocFrequency: z.number().gt(0).max(1),
  minItemFeatures: z.number().int().min(1),
  minLengthRatio: z.number().min(0),
  minVariableRatio: z.number().min(0),
  extraNumbersPerItemNumber: z.number().min(0),
  maxExtraNumbers: z.number().min(0),
  minNumberOrder: z.number().min(0).max(1),
  numberOrderMinPairs: z.number().int().min(1),
  extraNumbersPerToken: z.number().min(0),
  maxMissingWordShare: z.number().min(0).max(1),
  smallItemWeight: z.number().min(0),
  smallItemThreshold: z.number().min(0).max(1),
  topK: z.number().int().min(1),
});

/** Merges options over the defaults and validates every field at once. */
export function resolveParaphraseIndexConfig(opts: Partial<ParaphraseIndexConfig> = {}): ParaphraseIndexConfig {
  return resolveConfig("paraphrase-index", ParaphraseIndexConfigSchema, DEFAULT_PARAPHRASE_INDEX_CONFIG, opts);
}
