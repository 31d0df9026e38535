/** One vote: the sample's answer key (undefined when nothing was extracted) and its grade. */
export interface Vote {
  key: string | undefined;
  correct: boolean;
}

/**
 * Majority vote (cons@k / maj@k) over votes in sample order: the most frequent key wins, ties go to the key seen
 * first, samples without an answer do not vote. Correct when the winner's first sample was graded correct; false
 * when nobody voted.
 */
export function majorityCorrect(votes: readonly Vote[]): boolean {
  const groups = new Map<string, { count: number; correct: boolean }>();
  for (const v of votes) {
    if (v.key === undefined) continue;
    const g = groups.get(v.key);
    if (g) g.count++;
    else groups.set(v.key, { count: 1, correct: v.correct });
  }
  let best: { count: number; correct: boolean } | undefined;
  // Map iteration follows insertion order, so a strict ">" keeps the first-seen key on ties.
  for (const g of groups.values()) if (!best || g.count > best.count) best = g;
  return best?.correct ?? false;
}
