import type { Stage } from "../runtime/types.js";
import type { Sample } from "../schema/sample.js";

/** Summary of one numeric field: exact count/min/max/mean, quantiles from log-spaced buckets (±3%). */
export interface DistributionSummary {
  count: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  /** Bucket upper bounds and counts, for histograms in reports. */
  histogram: Array<{ le: number; count: number }>;
}

export interface DatasetStats {
  records: number;
  bySource: Record<string, number>;
  byDomain: Record<string, number>;
  byAdapter: Record<string, number>;
  byLevel: Record<string, number>;
  withReasoning: number;
  withAnswer: number;
  withGold: number;
  /** Character lengths. */
  promptChars: DistributionSummary;
  responseChars: DistributionSummary;
  /** Token counts, when `meta.tokens` is present (normalize with a tokenizer). */
  promptTokens?: DistributionSummary;
  responseTokens?: DistributionSummary;
}

/** Streaming distribution with constant memory: log-spaced buckets, growth factor 1.06. */
export class Distribution {
  private static readonly GROWTH = 1.06;
  private readonly buckets = new Map<number, number>();
  private n = 0;
  private sum = 0;
  private lo = Number.POSITIVE_INFINITY;
  private hi = Number.NEGATIVE_INFINITY;

  add(value: number): void {
    this.n++;
    this.sum += value;
    if (value < this.lo) this.lo = value;
    if (value > this.hi) this.hi = value;
    const bucket = value <= 0 ? -1 : Math.floor(Math.log(value) / Math.log(Distribution.GROWTH));
    this.buckets.set(bucket, (this.buckets.get(bucket) ?? 0) + 1);
  }

  get count(): number {
    return this.n;
  }

  private upper(bucket: number): number {
    return bucket < 0 ? 0 : Distribution.GROWTH ** (bucket + 1);
  }

  quantile(q: number): number {
    if (this.n === 0) return 0;
    const target = q * this.n;
    let seen = 0;
    for (const bucket of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(bucket)!;
      if (seen >= target) return Math.min(this.hi, Math.max(this.lo, Math.round(this.upper(bucket))));
    }
    return this.hi;
  }

  summary(): DistributionSummary {
    const sorted = [...this.buckets.entries()].sort((a, b) => a[0] - b[0]);
    return {
      count: this.n,
      min: this.n ? this.lo : 0,
      max: this.n ? this.hi : 0,
      mean: this.n ? this.sum / this.n : 0,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      histogram: sorted.map(([bucket, count]) => ({ le: Math.round(this.upper(bucket)), count })),
    };
  }
}

/** Accumulates `DatasetStats` over a stream of samples. */
export class StatsCollector {
  private records = 0;
  private readonly bySource: Record<string, number> = {};
  private readonly byDomain: Record<string, number> = {};
  private readonly byAdapter: Record<string, number> = {};
  private readonly byLevel: Record<string, number> = {};
  private withReasoning = 0;
  private withAnswer = 0;
  private withGold = 0;
  private readonly promptChars = new Distribution();
  private readonly responseChars = new Distribution();
  private readonly promptTokens = new Distribution();
  private readonly responseTokens = new Distribution();

  add(s: Sample): void {
    this.records++;
    bump(this.bySource, s.source);
    bump(this.byDomain, s.domain ?? "(none)");
    bump(this.byAdapter, typeof s.meta.adapter === "string" ? s.meta.adapter : "(none)");
    bump(this.byLevel, s.meta.level !== undefined ? String(s.meta.level) : "(none)");
    if (s.reasoning) this.withReasoning++;
    if (s.answer) this.withAnswer++;
    if (s.gold) this.withGold++;
    this.promptChars.add(s.prompt.length);
    this.responseChars.add(s.response?.length ?? 0);
    const tokens = s.meta.tokens;
    if (tokens) {
      this.promptTokens.add(tokens.prompt);
      this.responseTokens.add(tokens.response ?? 0);
    }
  }

  stats(): DatasetStats {
    return {
      records: this.records,
      bySource: this.bySource,
      byDomain: this.byDomain,
      byAdapter: this.byAdapter,
      byLevel: this.byLevel,
      withReasoning: this.withReasoning,
      withAnswer: this.withAnswer,
      withGold: this.withGold,
      promptChars: this.promptChars.summary(),
      responseChars: this.responseChars.summary(),
      ...(this.promptTokens.count ? { promptTokens: this.promptTokens.summary(), responseTokens: this.responseTokens.summary() } : {}),
    };
  }
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Pass-through stage that records `DatasetStats` in its manifest. */
export function statsStage(): Stage<Sample, Sample, Record<string, never>> {
  let collector = new StatsCollector();
  return {
    name: "stats",
    version: "1",
    params: {},
    // Stats of the kept output are rebuilt from it after a crash.
    async restore(kept) {
      collector = new StatsCollector();
      for await (const s of kept) collector.add(s);
    },
    async *run(records) {
      for await (const sample of records) {
        collector.add(sample);
        yield sample;
      }
    },
    finish: () => ({ ...collector.stats() }),
  };
}
