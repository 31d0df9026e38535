import { z } from "zod";

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
}

export const DEFAULT_NGRAM_INDEX_CONFIG: Readonly<NgramIndexConfig> = Object.freeze({ n: 13, minItemWords: 3 });

const ConfigSchema = z.object({
  n: z.number().int().min(1).max(1000),
  minItemWords: z.number().int().min(1),
});

/** Merges options over the defaults and validates every field at once. */
export function resolveNgramIndexConfig(opts: Partial<NgramIndexConfig> = {}): NgramIndexConfig {
  const merged = { ...DEFAULT_NGRAM_INDEX_CONFIG, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`[infialign/decontam] ngram-index: invalid config (${issues})`);
  }
  return parsed.data;
}
