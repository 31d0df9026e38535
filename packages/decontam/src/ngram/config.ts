import { z } from "zod";
import { resolveConfig } from "../config/resolveConfig.js";

/** Configuration of `NgramIndex`. */
export interface NgramIndexConfig {
  /**
   * Words per n-gram. 13 follows lm-evaluation-harness (GPT-3 used 8-13); open-r1 uses 8, datatrove 12.
   * @default 13
   */
  n: number;
  /**
   * Items with fewer normalized words than this are not indexed (too short to tell contamination from chance, e.g. "Compute").
   * Items with at least this many but fewer than `n` words are matched whole: a text is contaminated when it contains the item's full word sequence.
   * @default 3
   */
  minItemWords: number;
  /**
   * An n-gram found in at least this many distinct items is a stock phrase (AIME's "…m+n where m and n are relatively prime
   * positive integers. Find m+n"): it still counts towards `overlap` but is not evidence on its own. A text is flagged for an
   * item only when it shares at least one non-stock n-gram with it, or contains the item whole (overlap 1).
   * Chosen from data: 3 clears the 10 AIME/AMC boilerplate hits on the MATH test pool and keeps all of MATH500 (see test/pools.test.ts).
   * `Infinity` turns it off.
   * @default 3
   */
  stockItemThreshold: number;
  /**
   * Shortest evidence: a text is flagged for an item only when it shares a run of at least this many consecutive words
   * built from non-stock n-grams (at least `n`; an item with fewer words must appear whole). On the MATH test pool, spans
   * of 13-19 words were stock phrases (Asymptote `label(...)` code, "find the minimum value of", AIME answer formats) and
   * spans of 20+ words were shared problem stems; see test/pools.test.ts.
   * @default 20
   */
  minEvidenceWords: number;
  /**
   * Extra stock phrases (any text; normalized like items). An item n-gram more than half of whose words lie inside an
   * occurrence of one of these phrases is stock.
   * @default []
   */
  stopPhrases: readonly string[];
  /**
   * Stock phrases learned from the corpus being cleaned (the `background` texts of `NgramIndex.build`): an item n-gram
   * found in at least this many background documents that are not copies of the item (see `copyOverlap`) is stock.
   * Boilerplate such as "(Reminder: the number n! is the product of the integers from 1 to n …)", "Enter your answer in
   * the form Ax + By + Cz + D = 0, where …" or a shared Asymptote grid recurs across a pool while each benchmark set holds
   * it once or twice. Chosen on the MATH test pool (test/pools.test.ts): 2 clears the boilerplate hits; its MATH-500 items
   * stay flagged. `Infinity` turns it off.
   * @default 2
   */
  backgroundStockDocs: number;
  /**
   * A background document holding at least this share of an item's distinct n-grams is a copy (or a template sibling)
   * of the item, not boilerplate, and does not count towards `backgroundStockDocs`; so a pool that repeats a leaked item
   * does not teach the index that the item is stock. On the MATH test pool, documents sharing only boilerplate with a
   * MATH-500 item held at most 0.58 of its n-grams, template siblings up to 0.8, copies 1.
   * @default 0.7
   */
  copyOverlap: number;
}

export const DEFAULT_NGRAM_INDEX_CONFIG: Readonly<NgramIndexConfig> = Object.freeze({
  n: 13,
  minItemWords: 3,
  stockItemThreshold: 3,
  minEvidenceWords: 20,
  stopPhrases: [],
  backgroundStockDocs: 2,
  copyOverlap: 0.7,
});

export const NgramIndexConfigSchema = z.object({
  n: z.number().int().min(1).max(1000),
  minItemWords: z.number().int().min(1),
  stockItemThreshold: z.union([z.number().int().min(2), z.literal(Number.POSITIVE_INFINITY)]),
  minEvidenceWords: z.number().int().min(1),
  stopPhrases: z.array(z.string()).readonly(),
  backgroundStockDocs: z.union([z.number().int().min(1), z.literal(Number.POSITIVE_INFINITY)]),
  copyOverlap: z.number().gt(0).max(1),
});

/** Merges options over the defaults and validates every field at once. */
export function resolveNgramIndexConfig(opts: Partial<NgramIndexConfig> = {}): NgramIndexConfig {
  const config = resolveConfig("ngram-index", NgramIndexConfigSchema, DEFAULT_NGRAM_INDEX_CONFIG, opts);
  if (config.minEvidenceWords < config.n) {
    throw new Error(`[infialign/decontam] ngram-index: minEvidenceWords (${config.minEvidenceWords}) must be at least n (${config.n})`);
  }
  return config;
}
