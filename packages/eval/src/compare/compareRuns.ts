import { standardError } from "../metrics/index.js";
import type { EvalRunResult, SampleRecord } from "../types.js";

/**
 * A run as compared: its results (whose `perItem` scores decide majority flips) and, for flips `by: "sample0"` and for
 * KL, its samples (`loadRun(dir)` gives both).
 */
export interface RunSamples {
  result: EvalRunResult;
  samples?: readonly SampleRecord[];
}

/** How an item's correctness is decided from its samples. */
export type FlipBasis = "majority" | "sample0";

export interface CompareOptions {
  /**
   * `"majority"`: an item is correct when more than half of its samples are (with one sample, that sample's verdict);
   * `"sample0"`: the verdict of sample 0 alone, as with greedy decoding.
   * @default "majority"
   */
  by?: FlipBasis;
  /**
   * Run B's per-token log-probs of one of run A's completions (same tokenization as A's stored `logprobs`), e.g. from
   * @infialign/model `scoreCompletions` with model B; `undefined` when it cannot score it. Used for KL where run B did not
   * itself store log-probs of the same completion.
   */
  scoreB?: (sample: SampleRecord) => Promise<number[] | undefined>;
}

/** KL(A‖B) estimated on A's completions, or why it could not be. */
export type KlEstimate =
  | {
      available: true;
      /** Σ(log pA − log pB) over scored tokens / their number, in nats per token. */
      perToken: number;
      /** Mean over completions of Σ_t (log pA − log pB), in nats per completion. */
      perCompletion: number;
      completions: number;
      tokens: number;
    }
  | { available: false; reason: string };

export interface BenchmarkComparison {
  benchmark: string;
  title: string;
  column: string;
  /** avgAtN of run A and run B, in [0, 1]. */
  accuracyA: number;
  accuracyB: number;
  /** Standard errors of accuracyA and accuracyB over items (the runs' `stderr`). */
  stderrA: number;
  stderrB: number;
  /** accuracyB − accuracyA. */
  delta: number;
  /**
   * Paired standard error of the delta: standard error of the per-item differences (B − A) over the items scored in
   * both runs. Smaller than √(stderrA² + stderrB²) when the runs agree item by item.
   */
  deltaStderr: number;
  /** Items with samples in both runs. */
  items: number;
  /** Item ids correct in A and wrong in B. */
  correctToWrong: string[];
  /** Item ids wrong in A and correct in B. */
  wrongToCorrect: string[];
  /** Items correct in both runs, and wrong in both. */
  bothCorrect: number;
  bothWrong: number;
  /** (correctToWrong + wrongToCorrect) / items: Dutta et al. 2024's "flips". */
  flipRate: number;
  kl: KlEstimate;
}

export interface RunComparison {
  modelA: string;
  modelB: string;
  by: FlipBasis;
  /** Benchmarks present in both runs, in run A's order. */
  benchmarks: BenchmarkComparison[];
  /** averageB − averageA over the compared benchmarks. */
  averageDelta: number;
  /** Flips over all compared items / all compared items. */
  flipRate: number;
}

function groupByItem(samples: readonly SampleRecord[], benchmark: string): Map<string, SampleRecord[]> {
  const out = new Map<string, SampleRecord[]>();
  for (const s of samples) {
    if (s.benchmark !== benchmark) continue;
    const list = out.get(s.itemId);
    if (list) list.push(s);
    else out.set(s.itemId, [s]);
  }
  return out;
}

/** Item id → correct, by the basis: more than half of its samples (its `perItem` score > 0.5), or sample 0. */
function itemVerdicts(run: RunSamples, benchmark: string, perItem: Record<string, number>, by: FlipBasis): Map<string, boolean> {
  if (by === "majority") return new Map(Object.entries(perItem).map(([id, score]) => [id, score > 0.5]));
  if (!run.samples) {
    throw new Error(`[infialign/eval] compare: flips by "sample0" need the samples of run "${run.result.model}" (RunSamples.samples, e.g. from loadRun(dir)); pass them or use by: "majority"`);
  }
  const out = new Map<string, boolean>();
  for (const s of run.samples) if (s.benchmark === benchmark && s.sampleIndex === 0) out.set(s.itemId, s.grade.correct);
  return out;
}

/**
 * Compares run B against run A beyond accuracy ("Accuracy is Not All You Need", Dutta et al. 2024): accuracy delta with
 * its paired standard error, answer flips per item (from the results' `perItem` scores, or sample 0 of each item), and
 * KL(A‖B) where B's log-probs of A's own completions are known. Different runs sample
 * different completions, so per-token KL needs B's log-probs on A's tokens: taken from B's stored sample when it has
 * the same completion text with log-probs of the same length (greedy runs, or B re-scoring A), else from `scoreB`;
 * without either, KL is reported unavailable. The estimate averages log pA(y) − log pB(y) over A's tokens y; it is
 * unbiased for KL only when A's completions were drawn from A's unmodified distribution (temperature 1, no top-p).
 */
export async function compareRuns(a: RunSamples, b: RunSamples, options: CompareOptions = {}): Promise<RunComparison> {
  const by = options.by ?? "majority";
  const benchmarks: BenchmarkComparison[] = [];
  let flips = 0;
  let compared = 0;
  for (const ra of a.result.benchmarks) {
    const rb = b.result.benchmarks.find((r) => r.benchmark === ra.benchmark);
    if (!rb) continue;
    for (const [run, r] of [["A", ra], ["B", rb]] as const) {
      // Results written before per-item scores existed: loadRun fills them from the run's samples.
      if (!r.perItem) throw new Error(`[infialign/eval] compare: run ${run}'s result for "${r.benchmark}" has no per-item scores (written by an older version); load the run with loadRun, which computes them from samples.jsonl`);
    }
    const verdictsA = itemVerdicts(a, ra.benchmark, ra.perItem, by);
    const verdictsB = itemVerdicts(b, ra.benchmark, rb.perItem, by);
    const correctToWrong: string[] = [];
    const wrongToCorrect: string[] = [];
    let bothCorrect = 0;
    let items = 0;
    for (const [id, ca] of verdictsA) {
      const cb = verdictsB.get(id);
      if (cb === undefined) continue;
      items++;
      if (ca && !cb) correctToWrong.push(id);
      if (!ca && cb) wrongToCorrect.push(id);
      if (ca && cb) bothCorrect++;
    }
    const differences = Object.entries(ra.perItem).flatMap(([id, sa]) => (rb.perItem[id] === undefined ? [] : [(rb.perItem[id] as number) - sa]));
    flips += correctToWrong.length + wrongToCorrect.length;
    compared += items;
    benchmarks.push({
      benchmark: ra.benchmark,
      title: ra.title,
      column: ra.column,
      accuracyA: ra.avgAtN,
      accuracyB: rb.avgAtN,
      stderrA: ra.stderr,
      stderrB: rb.stderr,
      delta: rb.avgAtN - ra.avgAtN,
      deltaStderr: standardError(differences),
      items,
      correctToWrong,
      wrongToCorrect,
      bothCorrect,
      bothWrong: items - bothCorrect - correctToWrong.length - wrongToCorrect.length,
      flipRate: items ? (correctToWrong.length + wrongToCorrect.length) / items : 0,
      kl: a.samples && b.samples ? await estimateKl(groupByItem(a.samples, ra.benchmark), groupByItem(b.samples, ra.benchmark), options.scoreB) : { available: false, reason: "the runs' samples were not given (RunSamples.samples, e.g. from loadRun(dir))" },
    });
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
  return {
    modelA: a.result.model,
    modelB: b.result.model,
    by,
    benchmarks,
    averageDelta: mean(benchmarks.map((c) => c.accuracyB)) - mean(benchmarks.map((c) => c.accuracyA)),
    flipRate: compared ? flips / compared : 0,
  };
}

async function estimateKl(itemsA: Map<string, SampleRecord[]>, itemsB: Map<string, SampleRecord[]>, scoreB: CompareOptions["scoreB"]): Promise<KlEstimate> {
  let tokens = 0;
  let total = 0;
  let completions = 0;
  let withLogprobs = 0;
  for (const [id, samples] of itemsA) {
    const bSamples = itemsB.get(id) ?? [];
    for (const s of samples) {
      if (!s.logprobs?.length) continue;
      withLogprobs++;
      const twin = bSamples.find((t) => t.completion === s.completion && t.logprobs?.length === s.logprobs?.length);
      const lpB = twin?.logprobs ?? (scoreB ? await scoreB(s) : undefined);
      if (!lpB || lpB.length !== s.logprobs.length) continue;
      let sum = 0;
      for (let t = 0; t < lpB.length; t++) sum += s.logprobs[t]! - lpB[t]!;
      total += sum;
      tokens += lpB.length;
      completions++;
    }
  }
  if (withLogprobs === 0) return { available: false, reason: "run A stored no log-probs (run it with --logprobs or the local runner)" };
  if (completions === 0) return { available: false, reason: "run B has no log-probs of run A's completions (same completions with log-probs, or pass scoreB)" };
  return { available: true, perToken: total / tokens, perCompletion: total / completions, completions, tokens };
}
