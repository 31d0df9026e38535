import { difficultyBuckets } from "./difficulty.js";
import type { SelectionConfig, SelectionItem, SelectionResult } from "./selectSubset.js";

/** Clustering of one domain, as the report shows it. */
export interface DomainClustering {
  k: number;
  inertia: number;
  /** Records per cluster, by cluster id. */
  sizes: number[];
  iterations?: number;
  converged?: boolean;
}

export interface DomainReport {
  domain: string;
  before: number;
  after: number;
  quota: number;
  clusters: number;
  clustersCovered: number;
  /** clustersCovered / clusters (1 for an empty domain). */
  coverage: number;
  inertia?: number;
  /** Records per cluster before and after selection, by cluster id. */
  clusterSizes: number[];
  clusterSelected: number[];
}

export interface SelectionReport {
  version: 1;
  budget: { requested: number; asked: number; achieved: number; pool: number };
  config: {
    domainQuotas: SelectionConfig["domainQuotas"];
    clusterAllocation: "balanced" | "proportional";
    /** Order within each cluster (`SelectionConfig.order`). */
    order: "hardest" | "random";
    seed: number;
  };
  difficulty: {
    /** What `difficulty` measures, e.g. "response_tokens". */
    metric: string;
    tokenizer?: string;
    /** Quantile bucket edges computed on the pool before selection. */
    edges: number[];
    labels: string[];
    /** Histogram on log1p-spaced bins: `bins` has one more entry than the counts. */
    histogram: { bins: number[]; before: number[]; after: number[] };
    /** Records with a measured pass rate, before and after. */
    withPassRate: { before: number; after: number };
  };
  /** Domain × difficulty-bucket counts. */
  composition: { domains: string[]; before: Record<string, number[]>; after: Record<string, number[]> };
  domains: DomainReport[];
  /** Drops by reason: the selection's own plus any the caller adds (e.g. quality, near-dup). */
  drops: Record<string, number>;
}

export interface BuildSelectionReportInput {
  items: readonly SelectionItem[];
  result: SelectionResult;
  config: SelectionConfig;
  clustering?: Readonly<Record<string, DomainClustering>>;
  difficultyMetric?: string;
  tokenizer?: string;
  /** Quantile buckets in the composition table. @default 4 */
  buckets?: number;
  /** Histogram bins. @default 20 */
  histogramBins?: number;
}

/** Builds the selection report from the items, the selection and (optionally) per-domain clustering. Pure. */
export function buildSelectionReport(input: BuildSelectionReportInput): SelectionReport {
  const { items, result, config } = input;
  const selected = new Set(result.selected);
  const values = items.map((i) => i.difficulty);
  const buckets = difficultyBuckets(values, input.buckets ?? 4);
  const domains = [...new Set(items.map((i) => i.domain))].sort();
  const nb = buckets.labels.length;
  const before: Record<string, number[]> = {};
  const after: Record<string, number[]> = {};
  for (const d of domains) {
    before[d] = new Array<number>(nb).fill(0);
    after[d] = new Array<number>(nb).fill(0);
  }
  for (const it of items) {
    const b = buckets.bucketOf(it.difficulty);
    before[it.domain]![b]!++;
    if (selected.has(it.index)) after[it.domain]![b]!++;
  }

  const bins = logBins(values, input.histogramBins ?? 20);
  const histBefore = new Array<number>(bins.length - 1).fill(0);
  const histAfter = new Array<number>(bins.length - 1).fill(0);
  for (const it of items) {
    const b = binOf(bins, it.difficulty);
    histBefore[b]!++;
    if (selected.has(it.index)) histAfter[b]!++;
  }

  const stats = new Map(result.domains.map((d) => [d.domain, d]));
  const domainReports: DomainReport[] = domains.map((d) => {
    const members = items.filter((i) => i.domain === d);
    const k = Math.max(input.clustering?.[d]?.k ?? 0, 1 + Math.max(-1, ...members.map((m) => m.cluster)));
    const sizes = new Array<number>(k).fill(0);
    const sel = new Array<number>(k).fill(0);
    for (const m of members) {
      sizes[m.cluster]!++;
      if (selected.has(m.index)) sel[m.cluster]!++;
    }
    const nonEmpty = sizes.filter((s) => s > 0).length;
    const covered = sel.filter((s) => s > 0).length;
    const s = stats.get(d);
    return {
      domain: d,
      before: members.length,
      after: s?.selected ?? sel.reduce((a, b) => a + b, 0),
      quota: s?.quota ?? 0,
      clusters: nonEmpty,
      clustersCovered: covered,
      coverage: nonEmpty === 0 ? 1 : covered / nonEmpty,
      ...(input.clustering?.[d] && { inertia: input.clustering[d].inertia }),
      clusterSizes: sizes,
      clusterSelected: sel,
    };
  });

  return {
    version: 1,
    budget: { requested: config.budget, ...result.budget },
    config: {
      domainQuotas: config.domainQuotas ?? "balanced",
      clusterAllocation: config.clusterAllocation ?? "balanced",
      order: config.order ?? "hardest",
      seed: config.seed ?? 0,
    },
    difficulty: {
      metric: input.difficultyMetric ?? "difficulty",
      ...(input.tokenizer && { tokenizer: input.tokenizer }),
      edges: buckets.edges,
      labels: buckets.labels,
      histogram: { bins, before: histBefore, after: histAfter },
      withPassRate: {
        before: items.filter((i) => i.passRate !== undefined).length,
        after: items.filter((i) => i.passRate !== undefined && selected.has(i.index)).length,
      },
    },
    composition: { domains, before, after },
    domains: domainReports,
    drops: { ...result.dropCounts },
  };
}

/** Bin bounds evenly spaced in log1p(value) for non-negative data (token counts are long-tailed), linear otherwise. */
function logBins(values: readonly number[], n: number): number[] {
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi === lo) return [lo, hi + 1];
  const log = lo >= 0;
  const f = log ? Math.log1p : (x: number) => x;
  const g = log ? Math.expm1 : (x: number) => x;
  [lo, hi] = [f(lo), f(hi)];
  return Array.from({ length: n + 1 }, (_, i) => (i === n ? g(hi) : g(lo + ((hi - lo) * i) / n)));
}

function binOf(bins: readonly number[], v: number): number {
  for (let i = 1; i < bins.length - 1; i++) if (v < bins[i]!) return i - 1;
  return bins.length - 2;
}
