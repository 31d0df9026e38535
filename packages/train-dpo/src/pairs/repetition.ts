/**
 * Degenerate-repetition measure: the fraction of word n-gram occurrences that repeat an earlier occurrence,
 * (total − distinct) / total, over whitespace-separated words. A text made of one passage repeated r times scores
 * about 1 − 1/r (0.5 for twice, 0.9 for ten times); ordinary prose and worked solutions score near 0 for n ≥ 6.
 * Same family as Gopher's duplicate n-gram filters (Rae et al. 2021, Table A1), computed on occurrences rather than
 * characters so it needs no tokenizer. Texts shorter than 2n words score 0 (too short to loop).
 */
export function ngramRepetition(text: string, n = 8): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`[infialign/train-dpo] repetition: n must be a positive integer, got ${n}`);
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  const total = words.length - n + 1;
  if (words.length < 2 * n) return 0;
  const seen = new Set<string>();
  for (let i = 0; i < total; i++) seen.add(words.slice(i, i + n).join("\u0001"));
  return (total - seen.size) / total;
}
