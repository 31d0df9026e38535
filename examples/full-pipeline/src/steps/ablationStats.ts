// Intervals and computed verdicts for the --ablation arms.
//
// Method: 95% percentile intervals from a seeded two-level bootstrap (default 2000 resamples, seed 0). Each resample
// draws the runs (seeds) of an arm with replacement AND the held-out items with replacement — one item draw shared by
// every run and, in `compareArms`, by both arms (the items are paired; runs of different arms are independent) — and
// takes the mean correctness over the drawn runs × drawn items. `mean` is the plain mean over runs of each run's
// accuracy over all items (from `perItem`, which equals the run's avg@n when every item has the same sample count).
//
// Honesty with few seeds: with 3 seeds the seed level has only 10 distinct resamples and the bootstrap shrinks their
// spread by (n − 1)/n, so the seed-to-seed part of the interval is coarse and, if anything, too narrow; with one seed
// it is absent and the interval reflects item sampling only (the verdict's detail says so). Read the intervals as
// approximate: "supported" means the whole interval clears the threshold, not a formal test at 5%.
import { createRng } from "@infialign/kernels";

/** One training run of an arm (one seed), evaluated on the same held-out items as every other run. */
export interface ArmRun {
  seed: number;
  accuracy: number;
  /** item id → mean correctness over its samples (0..1) */
  perItem: Record<string, number>;
  /** SFT (+DPO) training tokens */
  tokens: number;
  /** wall seconds of the arm's training */
  seconds: number;
}

export interface Interval {
  mean: number;
  low: number;
  high: number;
}

export interface ArmSummary extends Interval {
  name: string;
  description: string;
  runs: ArmRun[];
  seeds: number;
  items: number;
  /** mean over runs */
  tokens: number;
  seconds: number;
}

export type Verdict = "supported" | "not supported" | "inconclusive";

export interface ClaimVerdict {
  claim: string;
  arms: [string, string];
  kind: "greater" | "non-inferior";
  /** margin in accuracy units for non-inferior, e.g. 0.02 */
  margin: number;
  difference: Interval;
  verdict: Verdict;
  detail: string;
}

export interface ContaminationCheck {
  arm: string;
  leaked: { items: number; accuracy: number };
  unseen: { items: number; accuracy: number };
  difference: Interval;
}

export interface AblationReport {
  seeds: number[];
  items: number;
  arms: ArmSummary[];
  verdicts: ClaimVerdict[];
  contamination?: ContaminationCheck;
  /** one line on what the arms trained (scale, epochs, model) */
  scale: string;
  /** name of the split the hyper-parameters were tuned on, never the held-out split */
  devSplit?: string;
}

export interface BootstrapOptions {
  /** @default 2000 */
  resamples?: number;
  /** Seed of the resampling stream. @default 0 */
  seed?: number;
}

/** Default margin of a non-inferiority claim, in accuracy units (2 points). */
export const DEFAULT_NON_INFERIORITY_MARGIN = 0.02;

const bootstrapSettings = (options: BootstrapOptions | undefined) => {
  const resamples = options?.resamples ?? 2000;
  if (!Number.isInteger(resamples) || resamples < 1) throw new Error(`ablationStats: resamples must be a positive integer, got ${resamples}`);
  return { resamples, seed: options?.seed ?? 0 };
};

/** The sorted item ids of every run involved (their union: a run missing one of them is an error). */
function itemIds(groups: ReadonlyArray<{ arm: string; runs: readonly ArmRun[] }>): string[] {
  const ids = new Set<string>();
  for (const { arm, runs } of groups) {
    if (runs.length === 0) throw new Error(`ablationStats: arm "${arm}" has no runs`);
    for (const run of runs) for (const id of Object.keys(run.perItem)) ids.add(id);
  }
  if (ids.size === 0) throw new Error(`ablationStats: no held-out items in the runs of ${groups.map((g) => `"${g.arm}"`).join(", ")}`);
  return [...ids].sort();
}

/** runs × items matrix of per-item correctness, in `ids` order; throws naming the arm, seed and item when one is missing. */
function correctness(arm: string, runs: readonly ArmRun[], ids: readonly string[]): Float64Array[] {
  return runs.map((run) => {
    const row = new Float64Array(ids.length);
    ids.forEach((id, i) => {
      const v = run.perItem[id];
      if (v === undefined) throw new Error(`ablationStats: arm "${arm}", seed ${run.seed} has no result for held-out item "${id}" (every run must be evaluated on the same items)`);
      if (!Number.isFinite(v)) throw new Error(`ablationStats: arm "${arm}", seed ${run.seed}, item "${id}": correctness ${v} is not a finite number`);
      row[i] = v;
    });
    return row;
  });
}

const rowMean = (row: Float64Array) => row.reduce((a, b) => a + b, 0) / row.length;
const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Linear-interpolated quantile of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

function percentileInterval(center: number, stats: Float64Array): Interval {
  stats.sort();
  return { mean: center, low: quantile(stats, 0.025), high: quantile(stats, 0.975) };
}

/** Item multiplicities of one draw of `n` items with replacement. */
function drawItems(rng: ReturnType<typeof createRng>, n: number, counts: Float64Array): void {
  counts.fill(0);
  for (let k = 0; k < n; k++) counts[rng.nextInt(n)]! += 1;
}

/** Mean over `runs.length` runs drawn with replacement of each run's item-weighted sum / items. */
function drawRunsMean(rng: ReturnType<typeof createRng>, rows: readonly Float64Array[], counts: Float64Array): number {
  const sums = rows.map((row) => {
    let s = 0;
    for (let i = 0; i < row.length; i++) s += counts[i]! * row[i]!;
    return s / row.length;
  });
  let total = 0;
  for (let r = 0; r < rows.length; r++) total += sums[rng.nextInt(rows.length)]!;
  return total / rows.length;
}

/** Accuracy interval of one arm over its runs (seeds) and the held-out items. */
export function summarizeArm(name: string, description: string, runs: ArmRun[], options?: BootstrapOptions): ArmSummary {
  const { resamples, seed } = bootstrapSettings(options);
  const ids = itemIds([{ arm: name, runs }]);
  const rows = correctness(name, runs, ids);
  const rng = createRng(seed);
  const counts = new Float64Array(ids.length);
  const stats = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    drawItems(rng, ids.length, counts);
    stats[b] = drawRunsMean(rng, rows, counts);
  }
  const interval = percentileInterval(mean(rows.map(rowMean)), stats);
  return {
    name,
    description,
    runs,
    seeds: runs.length,
    items: ids.length,
    tokens: mean(runs.map((r) => r.tokens)),
    seconds: mean(runs.map((r) => r.seconds)),
    ...interval,
  };
}

/** Interval of accuracy(a) − accuracy(b): items paired (one draw for both arms), runs of the two arms drawn independently. */
export function compareArms(a: ArmSummary, b: ArmSummary, options?: BootstrapOptions): Interval {
  const { resamples, seed } = bootstrapSettings(options);
  const ids = itemIds([
    { arm: a.name, runs: a.runs },
    { arm: b.name, runs: b.runs },
  ]);
  const rowsA = correctness(a.name, a.runs, ids);
  const rowsB = correctness(b.name, b.runs, ids);
  const rng = createRng(seed);
  const counts = new Float64Array(ids.length);
  const stats = new Float64Array(resamples);
  for (let k = 0; k < resamples; k++) {
    drawItems(rng, ids.length, counts);
    const ma = drawRunsMean(rng, rowsA, counts);
    const mb = drawRunsMean(rng, rowsB, counts);
    stats[k] = ma - mb;
  }
  return percentileInterval(mean(rowsA.map(rowMean)) - mean(rowsB.map(rowMean)), stats);
}

/** Signed percentage points with one decimal and a real minus sign: +1.2, −0.8, 0.0. */
export function formatPoints(v: number): string {
  const s = (100 * v).toFixed(1);
  if (Number(s) === 0) return "0.0";
  return v > 0 ? `+${s}` : `−${s.slice(1)}`;
}

function seedNote(a: ArmSummary, b: ArmSummary): string {
  const single = [a, b].filter((arm) => arm.runs.length === 1);
  if (single.length === 2) return "; one seed per arm, so the interval reflects item sampling only";
  if (single.length === 1) return `; ${single[0]!.name} has one seed, so its seed-to-seed variance is not in the interval`;
  return `; ${a.runs.length} vs ${b.runs.length} seeds`;
}

/**
 * A claim about two arms, judged from the interval of a − b (never hand-written):
 * - "greater" (a > b): supported if low > 0; not supported if high ≤ 0; else inconclusive.
 * - "non-inferior" (a ≥ b − margin): supported if low > −margin; not supported if high < −margin; else inconclusive.
 */
export function judgeClaim(claim: string, a: ArmSummary, b: ArmSummary, kind: "greater" | "non-inferior", margin?: number, options?: BootstrapOptions): ClaimVerdict {
  const m = margin ?? (kind === "non-inferior" ? DEFAULT_NON_INFERIORITY_MARGIN : 0);
  if (!Number.isFinite(m) || m < 0) throw new Error(`ablationStats: margin must be a finite number ≥ 0, got ${m}`);
  const difference = compareArms(a, b, options);
  const verdict: Verdict =
    kind === "greater"
      ? difference.low > 0
        ? "supported"
        : difference.high <= 0
          ? "not supported"
          : "inconclusive"
      : difference.low > -m
        ? "supported"
        : difference.high < -m
          ? "not supported"
          : "inconclusive";
  const marginText = kind === "non-inferior" || m > 0 ? `, margin ${Number((100 * m).toFixed(2))} pts` : "";
  const detail = `${a.name} − ${b.name} = ${formatPoints(difference.mean)} pts (95% CI ${formatPoints(difference.low)} … ${formatPoints(difference.high)})${marginText}${seedNote(a, b)}, ${a.items} held-out items.`;
  return { claim, arms: [a.name, b.name], kind, margin: m, difference, verdict, detail };
}

/**
 * Accuracy of one arm's runs on the held-out items in `leakedIds` vs the rest (mean over runs), with an interval of
 * leaked − unseen: each resample draws the runs with replacement (shared by both groups) and, within each group, the
 * items with replacement. Throws when either group is empty.
 */
export function contaminationCheck(arm: string, runs: ArmRun[], leakedIds: ReadonlySet<string>, options?: BootstrapOptions): ContaminationCheck {
  const { resamples, seed } = bootstrapSettings(options);
  const ids = itemIds([{ arm, runs }]);
  const leaked = ids.filter((id) => leakedIds.has(id));
  const unseen = ids.filter((id) => !leakedIds.has(id));
  if (leaked.length === 0) throw new Error(`ablationStats: contamination check of arm "${arm}": none of its ${ids.length} held-out items is in the leaked set`);
  if (unseen.length === 0) throw new Error(`ablationStats: contamination check of arm "${arm}": every held-out item is in the leaked set`);
  const rowsLeaked = correctness(arm, runs, leaked);
  const rowsUnseen = correctness(arm, runs, unseen);
  const rng = createRng(seed);
  const countsLeaked = new Float64Array(leaked.length);
  const countsUnseen = new Float64Array(unseen.length);
  const stats = new Float64Array(resamples);
  for (let k = 0; k < resamples; k++) {
    drawItems(rng, leaked.length, countsLeaked);
    drawItems(rng, unseen.length, countsUnseen);
    let total = 0;
    for (let r = 0; r < runs.length; r++) {
      const pick = rng.nextInt(runs.length);
      let sl = 0;
      let su = 0;
      const rl = rowsLeaked[pick]!;
      const ru = rowsUnseen[pick]!;
      for (let i = 0; i < rl.length; i++) sl += countsLeaked[i]! * rl[i]!;
      for (let i = 0; i < ru.length; i++) su += countsUnseen[i]! * ru[i]!;
      total += sl / leaked.length - su / unseen.length;
    }
    stats[k] = total / runs.length;
  }
  const leakedAccuracy = mean(rowsLeaked.map(rowMean));
  const unseenAccuracy = mean(rowsUnseen.map(rowMean));
  return {
    arm,
    leaked: { items: leaked.length, accuracy: leakedAccuracy },
    unseen: { items: unseen.length, accuracy: unseenAccuracy },
    difference: percentileInterval(leakedAccuracy - unseenAccuracy, stats),
  };
}
