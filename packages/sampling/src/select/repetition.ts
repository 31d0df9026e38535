/**
 * Repetition measures of Gopher (Rae et al. 2021, "Scaling Language Models", Appendix A,
 * Table A1), computed as datatrove's `GopherRepetitionFilter` does. Degenerate model
 * outputs (a sentence looping until the length limit) score near 1 on all of them.
 */
export interface RepetitionStats {
  /** Lines (non-empty, trimmed) equal to an earlier line / all non-empty lines. */
  duplicateLineFraction: number;
  /** Characters in duplicate lines / characters in all lines. */
  duplicateLineCharFraction: number;
  /** n = 2..4: characters of words covered by the most frequent n-gram's occurrences / all word characters. */
  topNgramCharFraction: Record<number, number>;
  /** n = 5..10: characters of words inside a repeated n-gram occurrence (each counted once) / all word characters. */
  duplicateNgramCharFraction: Record<number, number>;
  words: number;
}

/** Thresholds: a text whose measure exceeds its threshold is degenerate. */
export interface RepetitionThresholds {
  /** Duplicate-line fraction. @default 0.6 (Gopher: 0.3) */
  duplicateLineFraction: number;
  /** Duplicate-line character fraction. @default 0.5 (Gopher: 0.2) */
  duplicateLineCharFraction: number;
  /** Top n-gram character fraction by n. @default { 2: 0.5, 3: 0.5, 4: 0.5 } (Gopher: 0.2, 0.18, 0.16) */
  topNgramCharFraction: Record<number, number>;
  /** Duplicate n-gram character fraction by n. @default { 5: 0.6, 6: 0.58, 7: 0.56, 8: 0.54, 9: 0.52, 10: 0.5 } (Gopher: 0.15 … 0.10) */
  duplicateNgramCharFraction: Record<number, number>;
  /** Texts with fewer words are not checked (the fractions are noise on a few words). @default 50 */
  minWords: number;
}

/** The thresholds of Gopher (Rae et al. 2021, Table A1), meant for web documents. */
export const GOPHER_REPETITION_THRESHOLDS: Readonly<RepetitionThresholds> = Object.freeze({
  duplicateLineFraction: 0.3,
  duplicateLineCharFraction: 0.2,
  topNgramCharFraction: { 2: 0.2, 3: 0.18, 4: 0.16 },
  duplicateNgramCharFraction: { 5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.1 },
  minWords: 50,
});

/**
 * Defaults for chains of thought. Worked solutions restate expressions, so Gopher's values flag
 * 9% of the MATH test solutions and 11% of GSM8K train solutions; these flag none of those
 * 12,473 human-written solutions (largest measures seen: duplicate 10-gram 0.43, duplicate
 * lines 0.57) yet catch a loop that covers half of the text.
 */
export const DEFAULT_REPETITION_THRESHOLDS: Readonly<RepetitionThresholds> = Object.freeze({
  duplicateLineFraction: 0.6,
  duplicateLineCharFraction: 0.5,
  topNgramCharFraction: { 2: 0.5, 3: 0.5, 4: 0.5 },
  duplicateNgramCharFraction: { 5: 0.6, 6: 0.58, 7: 0.56, 8: 0.54, 9: 0.52, 10: 0.5 },
  minWords: 50,
});

const TOP_NS = [2, 3, 4] as const;
const DUP_NS = [5, 6, 7, 8, 9, 10] as const;

/** All Gopher repetition measures of `text` (words split on whitespace). */
export function repetitionStats(text: string): RepetitionStats {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const seenLines = new Set<string>();
  let dupLines = 0;
  let dupLineChars = 0;
  let lineChars = 0;
  for (const line of lines) {
    lineChars += line.length;
    if (seenLines.has(line)) {
      dupLines++;
      dupLineChars += line.length;
    } else seenLines.add(line);
  }
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  const wordChars = words.reduce((a, w) => a + w.length, 0);
  const topNgramCharFraction: Record<number, number> = {};
  for (const n of TOP_NS) topNgramCharFraction[n] = wordChars === 0 ? 0 : topNgramChars(words, n) / wordChars;
  const duplicateNgramCharFraction: Record<number, number> = {};
  for (const n of DUP_NS) duplicateNgramCharFraction[n] = wordChars === 0 ? 0 : duplicateNgramChars(words, n) / wordChars;
  return {
    duplicateLineFraction: lines.length === 0 ? 0 : dupLines / lines.length,
    duplicateLineCharFraction: lineChars === 0 ? 0 : dupLineChars / lineChars,
    topNgramCharFraction,
    duplicateNgramCharFraction,
    words: words.length,
  };
}

// "\u0001" cannot occur inside a whitespace-split word, so joined keys never collide.
const key = (words: readonly string[], i: number, n: number) => words.slice(i, i + n).join("\u0001");

function topNgramChars(words: readonly string[], n: number): number {
  const counts = new Map<string, number>();
  let best = 0;
  let bestKey = "";
  for (let i = 0; i + n <= words.length; i++) {
    const k = key(words, i, n);
    const c = (counts.get(k) ?? 0) + 1;
    counts.set(k, c);
    if (c > best) {
      best = c;
      bestKey = k;
    }
  }
  // A top n-gram that occurs once is no repetition.
  if (best < 2) return 0;
  // Characters covered by its occurrences, each word once (overlapping occurrences such as
  // "a a a" would otherwise count a word twice and push the fraction above 1).
  const covered = new Uint8Array(words.length);
  for (let i = 0; i + n <= words.length; i++) if (key(words, i, n) === bestKey) covered.fill(1, i, i + n);
  let chars = 0;
  for (let i = 0; i < words.length; i++) if (covered[i]) chars += words[i]!.length;
  return chars;
}

function duplicateNgramChars(words: readonly string[], n: number): number {
  const seen = new Set<string>();
  const dup = new Uint8Array(words.length);
  for (let i = 0; i + n <= words.length; i++) {
    const k = key(words, i, n);
    if (seen.has(k)) dup.fill(1, i, i + n);
    else seen.add(k);
  }
  let chars = 0;
  for (let i = 0; i < words.length; i++) if (dup[i]) chars += words[i]!.length;
  return chars;
}

/** The first measure above its threshold, as `"name=value > threshold"`, or undefined when none is. */
export function repetitionViolation(stats: RepetitionStats, thresholds: RepetitionThresholds = DEFAULT_REPETITION_THRESHOLDS): string | undefined {
  if (stats.words < thresholds.minWords) return undefined;
  const fmt = (name: string, v: number, t: number) => `${name}=${v.toFixed(3)} > ${t}`;
  if (stats.duplicateLineFraction > thresholds.duplicateLineFraction)
    return fmt("duplicate_line_fraction", stats.duplicateLineFraction, thresholds.duplicateLineFraction);
  if (stats.duplicateLineCharFraction > thresholds.duplicateLineCharFraction)
    return fmt("duplicate_line_char_fraction", stats.duplicateLineCharFraction, thresholds.duplicateLineCharFraction);
  for (const [n, t] of Object.entries(thresholds.topNgramCharFraction)) {
    const v = stats.topNgramCharFraction[Number(n)];
    if (v !== undefined && v > t) return fmt(`top_${n}gram_char_fraction`, v, t);
  }
  for (const [n, t] of Object.entries(thresholds.duplicateNgramCharFraction)) {
    const v = stats.duplicateNgramCharFraction[Number(n)];
    if (v !== undefined && v > t) return fmt(`duplicate_${n}gram_char_fraction`, v, t);
  }
  return undefined;
}
