/**
 * Patterns tried in order; the first that matches anywhere wins, and within it the LAST
 * occurrence counts, because judges reason first and state their verdict at the end
 * ("a 3 would be too harsh … Rating: [[7]]").
 */
const SCORE_PATTERNS: readonly RegExp[] = [
  /\[\[\s*(\d+(?:\.\d+)?)\s*(?:\/\s*10\s*)?\]\]/g, // MT-Bench: [[7]]
  /\b(?:rating|score|grade)\s*(?:is|of)?\s*[:=]?\s*\**\s*(\d+(?:\.\d+)?)\s*\**\s*(?:\/\s*10|out of 10)?/gi, // Rating: 7, Score: 7/10
  /\b(\d+(?:\.\d+)?)\s*(?:\/\s*10|out of 10)\b/gi, // 7/10, 7 out of 10
  /\*\*\s*(\d+(?:\.\d+)?)\s*\*\*/g, // **8**
];

/** Range a score must fall in. */
export interface ScoreRange {
  /** @default 1 */
  min?: number;
  /** @default 10 */
  max?: number;
}

/**
 * Reads a judge's score from its reply (see SCORE_PATTERNS for the formats and the
 * first-pattern / last-occurrence rule). Returns undefined when no pattern matches or the
 * score falls outside `[min, max]`: an out-of-range number means the judge misread the scale,
 * so it is a parse failure rather than a clamped score.
 */
export function parseScore(text: string, range: ScoreRange = {}): number | undefined {
  const min = range.min ?? 1;
  const max = range.max ?? 10;
  for (const pattern of SCORE_PATTERNS) {
    const matches = [...text.matchAll(pattern)];
    const last = matches.at(-1);
    if (!last) continue;
    const score = Number(last[1]);
    return Number.isFinite(score) && score >= min && score <= max ? score : undefined;
  }
  return undefined;
}

/** A pairwise verdict: `[[A]]`, `[[B]]` or `[[C]]` (tie), MT-Bench style; the last one counts. */
export function parsePairVerdict(text: string): "A" | "B" | "tie" | undefined {
  const last = [...text.matchAll(/\[\[\s*([ABC])\s*\]\]/g)].at(-1)?.[1];
  return last === "A" ? "A" : last === "B" ? "B" : last === "C" ? "tie" : undefined;
}
