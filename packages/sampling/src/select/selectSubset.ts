import { seededHash, waterFill } from "./quotas.js";

export interface SelectionItem {
  /** Position of the record in the pool; returned in `selected`. */
  index: number;
  domain: string;
  /** Cluster id within the domain. */
  cluster: number;
  /** Larger = harder (InfiAlign: response length in target-tokenizer tokens). */
  difficulty: number;
  /** Measured pass rate from model rollouts, 0–1; lower = harder. */
  passRate?: number;
  /** Stable key for tie-breaking (the record id); the index when absent. */
  id?: string;
}

export type SelectionDropReason = "over_domain_quota" | "over_cluster_quota";

export interface SelectionConfig {
  /**
   * Target size: an integer ≥ 1 is a record count, a number in (0, 1) a fraction of the pool
   * (rounded to the nearest record). Capped at the pool size.
   */
  budget: number;
  /**
   * Per-domain shares: `"balanced"` (equal shares), `"proportional"` (to the domain's size in
   * the pool: keeps the pool's shape) or proportions by domain (normalized; domains left out
   * get nothing). Either way water-filled: a domain with too few records gives its surplus to
   * the others in proportion to their shares.
   * @default "balanced"
   */
  domainQuotas?: "balanced" | "proportional" | Readonly<Record<string, number>>;
  /**
   * How a domain's quota is spread over its clusters: `"balanced"` (equal shares, water-filled:
   * keeps rare semantic regions) or `"proportional"` (to cluster size: keeps the pool's shape).
   * @default "balanced"
   */
  clusterAllocation?: "balanced" | "proportional";
  /**
   * Which records of a cluster fill its slots: `"hardest"` (lowest pass rate, else largest
   * difficulty; InfiAlign's difficulty sampling) or `"random"` (a seeded random order, the
   * seeded hash of the id: diversity sampling without difficulty sampling).
   * @default "hardest"
   */
  order?: "hardest" | "random";
  /** Seed of the tie-breaking hash (and of the `"random"` order). @default 0 */
  seed?: number;
}

export interface DomainSelectionStats {
  domain: string;
  available: number;
  quota: number;
  selected: number;
  clusters: number;
  /** Clusters with at least one selected record. */
  clustersCovered: number;
}

export interface SelectionResult {
  /** `index` of every selected item, in input order. */
  selected: number[];
  /** Every unselected item with its reason, in input order. */
  dropped: { index: number; reason: SelectionDropReason }[];
  budget: { asked: number; achieved: number; pool: number };
  domains: DomainSelectionStats[];
  dropCounts: Record<SelectionDropReason, number>;
}

/** Budget as a record count for a pool of `pool` records. */
export function resolveBudget(budget: number, pool: number): number {
  if (!Number.isFinite(budget) || budget <= 0)
    throw new Error(`[infialign/sampling] select: budget must be a count ≥ 1 or a fraction in (0, 1), got ${budget}`);
  if (budget < 1) return Math.round(budget * pool);
  if (!Number.isInteger(budget)) throw new Error(`[infialign/sampling] select: budget ${budget} is neither an integer count nor a fraction in (0, 1)`);
  return budget;
}

function validate(config: SelectionConfig): void {
  const problems: string[] = [];
  if (!Number.isFinite(config.budget) || config.budget <= 0 || (config.budget > 1 && !Number.isInteger(config.budget)))
    problems.push(`budget must be an integer count ≥ 1 or a fraction in (0, 1) (got ${config.budget})`);
  const q = config.domainQuotas;
  if (q !== undefined && q !== "balanced" && q !== "proportional") {
    if (typeof q !== "object" || q === null || Array.isArray(q))
      problems.push(`domainQuotas must be "balanced", "proportional" or a map of proportions (got ${describe(q)})`);
    else {
      for (const [k, v] of Object.entries(q)) if (!(Number.isFinite(v) && v >= 0)) problems.push(`domainQuotas.${k} must be a number ≥ 0 (got ${v})`);
      if (!Object.values(q).some((v) => v > 0)) problems.push("domainQuotas needs at least one proportion > 0");
    }
  }
  if (config.clusterAllocation !== undefined && config.clusterAllocation !== "balanced" && config.clusterAllocation !== "proportional")
    problems.push(`clusterAllocation must be "balanced" or "proportional" (got ${describe(config.clusterAllocation)})`);
  if (config.order !== undefined && config.order !== "hardest" && config.order !== "random")
    problems.push(`order must be "hardest" or "random" (got ${describe(config.order)})`);
  if (config.seed !== undefined && !Number.isInteger(config.seed)) problems.push("seed must be an integer");
  if (problems.length) throw new Error(`[infialign/sampling] select: invalid config (${problems.join("; ")})`);
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : Array.isArray(value) ? "an array" : String(value);
}

/**
 * Diversity + difficulty selection under a budget (InfiAlign §3): the budget is split over
 * domains, each domain's quota over its clusters, and each cluster keeps its hardest records:
 * lowest pass rate first when every record of the cluster has one, else longest responses;
 * ties broken by a seeded hash of the id. With `order: "random"` each cluster keeps the first
 * records in the order of that seeded hash instead (no difficulty sampling).
 * Pure, synchronous, deterministic for a seed.
 */
export function selectSubset(items: readonly SelectionItem[], config: SelectionConfig): SelectionResult {
  validate(config);
  const seed = config.seed ?? 0;
  const asked = resolveBudget(config.budget, items.length);
  const byDomain = new Map<string, SelectionItem[]>();
  for (const it of items) {
    const list = byDomain.get(it.domain);
    if (list) list.push(it);
    else byDomain.set(it.domain, [it]);
  }
  const domainNames = [...byDomain.keys()].sort();
  const quotas = config.domainQuotas ?? "balanced";
  const weightOf = (d: string) => (quotas === "balanced" ? 1 : quotas === "proportional" ? byDomain.get(d)!.length : (quotas[d] ?? 0));
  const order = config.order === "random" ? randomOrder : hardestFirst;
  const domainQuota = waterFill(
    domainNames.map((d) => ({ key: d, capacity: byDomain.get(d)!.length, weight: weightOf(d) })),
    asked,
    seed,
  );

  const selectedSet = new Set<number>();
  const clusterGotSlots = new Set<string>();
  const domains: DomainSelectionStats[] = [];
  for (const d of domainNames) {
    const list = byDomain.get(d)!;
    const quota = domainQuota.get(d) ?? 0;
    const byCluster = new Map<number, SelectionItem[]>();
    for (const it of list) {
      const c = byCluster.get(it.cluster);
      if (c) c.push(it);
      else byCluster.set(it.cluster, [it]);
    }
    const clusterKeys = [...byCluster.keys()].sort((a, b) => a - b);
    const alloc = waterFill(
      clusterKeys.map((c) => ({
        key: String(c),
        capacity: byCluster.get(c)!.length,
        weight: config.clusterAllocation === "proportional" ? byCluster.get(c)!.length : 1,
      })),
      quota,
      seed,
    );
    let selected = 0;
    let covered = 0;
    for (const c of clusterKeys) {
      const take = alloc.get(String(c)) ?? 0;
      if (take === 0) continue;
      clusterGotSlots.add(`${d}\u0000${c}`);
      covered++;
      for (const it of order(byCluster.get(c)!, seed).slice(0, take)) {
        selectedSet.add(it.index);
        selected++;
      }
    }
    domains.push({ domain: d, available: list.length, quota, selected, clusters: clusterKeys.length, clustersCovered: covered });
  }

  const selected: number[] = [];
  const dropped: SelectionResult["dropped"] = [];
  const dropCounts: Record<SelectionDropReason, number> = { over_domain_quota: 0, over_cluster_quota: 0 };
  for (const it of items) {
    if (selectedSet.has(it.index)) {
      selected.push(it.index);
      continue;
    }
    // Lost to harder (or, for order "random", earlier) records of its own cluster, or its cluster got no slot of the domain's quota.
    const reason: SelectionDropReason = clusterGotSlots.has(`${it.domain}\u0000${it.cluster}`) ? "over_cluster_quota" : "over_domain_quota";
    dropCounts[reason]++;
    dropped.push({ index: it.index, reason });
  }
  return { selected, dropped, budget: { asked, achieved: selected.length, pool: items.length }, domains, dropCounts };
}

function hardestFirst(list: readonly SelectionItem[], seed: number): SelectionItem[] {
  const byPassRate = list.every((it) => it.passRate !== undefined && Number.isFinite(it.passRate));
  const keyed = list.map((it) => ({ it, tie: seededHash(seed, it.id ?? String(it.index)) }));
  keyed.sort(
    (a, b) =>
      (byPassRate ? a.it.passRate! - b.it.passRate! : 0) || b.it.difficulty - a.it.difficulty || a.tie - b.tie || a.it.index - b.it.index,
  );
  return keyed.map((k) => k.it);
}

/** Seeded random order: by the seeded hash of the id (the tie-break key of `hardestFirst`), then index. */
function randomOrder(list: readonly SelectionItem[], seed: number): SelectionItem[] {
  const keyed = list.map((it) => ({ it, key: seededHash(seed, it.id ?? String(it.index)) }));
  keyed.sort((a, b) => a.key - b.key || a.it.index - b.it.index);
  return keyed.map((k) => k.it);
}
