/**
 * Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", Eq. 1):
 * 1 − C(n−c, k) / C(n, k) for n samples of which c are correct, in the product form
 * 1 − ∏_{i=n−c+1}^{n} (1 − k/i), which never forms the (overflowing) binomials.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k) || n < 1 || k < 1 || c < 0 || c > n || k > n) {
    throw new RangeError(`[infialign/eval] metrics: passAtK needs integers 0 ≤ c ≤ n and 1 ≤ k ≤ n, got n=${n}, c=${c}, k=${k}`);
  }
  if (n - c < k) return 1;
  let miss = 1;
  for (let i = n - c + 1; i <= n; i++) miss *= 1 - k / i;
  return 1 - miss;
}

/** Mean of a list (NaN when empty). */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/**
 * Standard error of the mean of per-problem scores: sample standard deviation (n − 1 denominator) over
 * sqrt(number of problems); 0 with fewer than two problems.
 */
export function standardError(perProblem: readonly number[]): number {
  const n = perProblem.length;
  if (n < 2) return 0;
  const m = mean(perProblem);
  let ss = 0;
  for (const v of perProblem) ss += (v - m) ** 2;
  return Math.sqrt(ss / (n - 1)) / Math.sqrt(n);
}
