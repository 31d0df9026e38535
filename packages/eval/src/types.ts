// Contracts between the parts of @infialign/eval: benchmarks (items, prompts, graders), the protocol, runners,
// persisted samples, results, comparison and reports. Kept in one dependency-light file so each part can be built and
// tested against the interface alone.
import type { ChatTemplateMessage } from "@infialign/data";

/** How an item is graded. */
export type GradeKind = "math" | "choice" | "code";

/** A stdin/stdout or function-call test of a code item (LiveCodeBench `testtype`). */
export interface CodeTestCase {
  input: string;
  output: string;
  testtype: "stdin" | "functional";
}

/** One benchmark problem, ready to prompt and grade. */
export interface EvalItem {
  /** Benchmark name, e.g. `"aime24"`. */
  benchmark: string;
  /** Stable id within the benchmark (file id or 1-based line). */
  id: string;
  /** Chat messages sent to the model (the benchmark's prompt template applied). */
  messages: ChatTemplateMessage[];
  kind: GradeKind;
  /** Gold answer: a math expression, a choice letter, or "" for code (graded by tests). */
  gold: string;
  /** Choice texts in presented order (after any seeded shuffle), for `kind: "choice"`. */
  choices?: string[];
  /** Tests for `kind: "code"` (public + private), and the function name for functional tests. */
  tests?: { cases: CodeTestCase[]; funcName?: string; starterCode?: string };
  /** Facts for breakdowns: `difficulty` (string or number), `category`, `level`, `contestDate`, `source`, … */
  meta: Record<string, unknown>;
}

/** The verdict on one completion. */
export interface Grade {
  correct: boolean;
  /** What was extracted from the completion (boxed answer, letter, code block). */
  extracted?: string;
  /** Why it is wrong or could not be judged (verifier reason codes). */
  reason?: string;
}

/** A benchmark: how to load it, how many samples its protocol draws, how to grade. */
export interface BenchmarkSpec {
  name: string;
  /** Human name for reports, e.g. "AIME 2024". */
  title: string;
  kind: GradeKind;
  /** Column label in the paper-style table (AIME25, AIME24, MATH500, GPQA, MMLU-Pro, LiveCodeBench). */
  column: string;
  load(options?: { path?: string; seed?: number; limit?: number }): Promise<EvalItem[]>;
  grade(item: EvalItem, completion: string): Promise<Grade>;
}

/** Sampling protocol of a run (R1 defaults: T 0.6, top_p 0.95). */
export interface Protocol {
  temperature: number;
  topP: number;
  maxTokens: number;
  /** Samples per problem, per benchmark (`default` for the rest). */
  samples: Record<string, number>;
  /** k values for pass@k and maj@k. */
  k: number[];
  seed: number;
}

/** One persisted completion (one JSONL line of a run's `samples.jsonl`). */
export interface SampleRecord {
  benchmark: string;
  itemId: string;
  sampleIndex: number;
  completion: string;
  finishReason: string;
  completionTokens?: number;
  /** Per-token log-probs of the completion, when the runner returned them (for KL in comparisons). */
  logprobs?: number[];
  grade: Grade;
  latencyMs?: number;
}

/** Metrics of one benchmark. */
export interface BenchmarkResult {
  benchmark: string;
  title: string;
  column: string;
  items: number;
  samplesPerItem: number;
  /** Mean correctness over all samples (= pass@1 as R1 reports it), in [0, 1]. */
  avgAtN: number;
  /** Standard error of avgAtN over problems (each problem's mean over its samples). */
  stderr: number;
  /** Unbiased pass@k (Chen et al. 2021) for each k ≤ samplesPerItem. */
  passAtK: Record<string, number>;
  /** Majority-vote accuracy over the first k samples (cons@k). */
  majAtK: Record<string, number>;
  /** avgAtN per value of `meta.difficulty` (or level), when items carry one. */
  byDifficulty?: Record<string, { items: number; avgAtN: number }>;
  /**
   * Each scored item's accuracy over its samples (item id → fraction correct): the per-item scores
   * behind avgAtN, stderr and byDifficulty, for breakdowns, paired statistics and `compareRuns` without the samples.
   */
  perItem: Record<string, number>;
  /** Scored samples per grade reason (`equal_exact`, `unequal`, `no_answer`, …; samples without a reason are absent). */
  reasons: Record<string, number>;
}

/** A finished (or partial) evaluation of one model. */
export interface EvalRunResult {
  model: string;
  protocol: Protocol;
  benchmarks: BenchmarkResult[];
  /** Mean of the benchmarks' avgAtN. */
  average: number;
  createdAt: string;
}
