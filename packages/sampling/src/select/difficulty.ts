import type { Sample, TextTokenizer } from "@infialign/data";

/**
 * Response length in tokens of the target tokenizer, InfiAlign's difficulty proxy (longer
 * chains of thought = harder problems). Reuses `meta.tokens.response` when it was counted
 * with a tokenizer of the same name; adds `reasoning` when the response does not contain it.
 */
export function responseTokens(sample: Pick<Sample, "response" | "reasoning" | "meta">, tokenizer: Pick<TextTokenizer, "name" | "count">): number {
  const counted = sample.meta.tokens;
  if (counted && counted.tokenizer === tokenizer.name && counted.response !== undefined) return counted.response;
  const response = sample.response ?? "";
  let n = tokenizer.count(response);
  if (sample.reasoning && !response.includes(sample.reasoning)) n += tokenizer.count(sample.reasoning);
  return n;
}

/** `meta.passRate` when it is a number in [0, 1] (fraction of model rollouts that solved the item), else undefined. */
export function passRateOf(sample: Pick<Sample, "meta">): number | undefined {
  const p = sample.meta.passRate;
  return typeof p === "number" && p >= 0 && p <= 1 ? p : undefined;
}

export interface DifficultyBuckets {
  /** Upper bounds (inclusive) of every bucket but the last; `buckets - 1` values, non-decreasing. */
  edges: number[];
  /** "Q1 ≤ 120", "Q2 121–340", …, "Q4 > 900". */
  labels: string[];
  /** Bucket (0-based) of a difficulty value. */
  bucketOf(value: number): number;
}

/**
 * Quantile buckets over difficulty values: edges at the i/k quantiles (nearest rank) of
 * `values`, so each bucket holds ~1/k of the pool they were computed on. Compute them on
 * the pool before selection and use the same edges after, so the report shows the shift.
 */
export function difficultyBuckets(values: readonly number[], buckets = 4): DifficultyBuckets {
  if (!Number.isInteger(buckets) || buckets < 1) throw new Error(`[infialign/sampling] difficulty: buckets must be an integer ≥ 1, got ${buckets}`);
  const sorted = [...values].sort((a, b) => a - b);
  const edges: number[] = [];
  for (let i = 1; i < buckets; i++) edges.push(sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((i / buckets) * sorted.length) - 1)]! : 0);
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));
  const labels = Array.from({ length: buckets }, (_, i) => {
    if (buckets === 1) return "all";
    if (i === 0) return `Q1 ≤ ${fmt(edges[0]!)}`;
    if (i === buckets - 1) return `Q${i + 1} > ${fmt(edges[i - 1]!)}`;
    return `Q${i + 1} ${fmt(edges[i - 1]!)}–${fmt(edges[i]!)}`;
  });
  const bucketOf = (v: number) => {
    let b = 0;
    while (b < edges.length && v > edges[b]!) b++;
    return b;
  };
  return { edges, labels, bucketOf };
}
