import type { EvalRunResult, SampleRecord } from "../types.js";

/** A run as compared: its results and its samples. */
export interface RunSamples {
  result: EvalRunResult;
  samples: SampleRecord[];
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
  /** accuracyB − accuracyA. */
  delta: number;
  /** Items with samples in both runs. */
  items: number;
  /** Item ids correct in A and wrong in B. */
  correctToWrong: string[];
  /** Item ids wrong in A and correct in B. */
  wrongToCorrect: string[];
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

function groupByItem(samples: SampleRecord[], benchmark: string): Map<string, SampleRecord[]> {
  const out = new Map<string, SampleRecord[]>();
  for (const s of samples) {
    if (s.benchmark !== benchmark) continue;
    const list = out.get(s.itemId);
    if (list) list.push(s);
    else out.set(s.itemId, [s]);
  }
  return out;
}

function itemCorrect(samples: SampleRecord[], by: FlipBasis): boolean | undefined {
  if (by === "sample0") return samples.find((s) => s.sampleIndex === 0)?.grade.correct;
  const correct = samples.filter((s) => s.grade.correct).length;
  return correct * 2 > samples.length;
}

/**
 * Compares run B against run A beyond accuracy ("Accuracy is Not All You Need", Dutta et al. 2024): accuracy delta,
 * answer flips per item, and KL(A‖B) where B's log-probs of A's own completions are known. Different runs sample
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
    const itemsA = groupByItem(a.samples, ra.benchmark);
    const itemsB = groupByItem(b.samples, ra.benchmark);
    const correctToWrong: string[] = [];
    const wrongToCorrect: string[] = [];
    let items = 0;
    for (const [id, sa] of itemsA) {
      const sb = itemsB.get(id);
      if (!sb) continue;
      const ca = itemCorrect(sa, by);
      const cb = itemCorrect(sb, by);
      if (ca === undefined || cb === undefined) continue;
      items++;
      if (ca && !cb) correctToWrong.push(id);
      if (!ca && cb) wrongToCorrect.push(id);
    }
    flips += correctToWrong.length + wrongToCorrect.length;
    compared += items;
    benchmarks.push({
      benchmark: ra.benchmark,
      title: ra.title,
      column: ra.column,
      accuracyA: ra.avgAtN,
      accuracyB: rb.avgAtN,
      delta: rb.avgAtN - ra.avgAtN,
      items,
      correctToWrong,
      wrongToCorrect,
      flipRate: items ? (correctToWrong.length + wrongToCorrect.length) / items : 0,
      kl: await estimateKl(itemsA, itemsB, options.scoreB),
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
