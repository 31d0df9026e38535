/**
 * Sharded execution: a stage split into tasks that any executor (this process, worker processes, BullMQ workers on
 * other machines) runs. Everything a task needs travels as JSON; workers rebuild the stages from a
 * {@link PipelineRecipe} and check that they built the same ones (same stage keys).
 */

/**
 * How a worker rebuilds the pipeline's stages: it imports `module` (an absolute path or file: URL that every worker
 * can read) and calls its export `export` with `args`; the result is the stage array, or an object with `stages`.
 * The coordinator builds its own stages the same way when `runPipeline` is given a recipe and no stages.
 */
export interface PipelineRecipe {
  module: string;
  /** @default "default" */
  export?: string;
  /** JSON-serialisable arguments. */
  args?: unknown;
}

/** Part of the stage input a task reads. */
export type TaskInput =
  /** Complete output shards of the previous stage (files relative to `dir`), or a byte range of one (cut at line starts). */
  | { kind: "shards"; dir: string; files: Array<{ file: string; records: number; start?: number; end?: number }> }
  /** A byte range of a source file (JSONL cut at line starts; `firstLine` is the 1-based number of its first line), or a whole file. */
  | { kind: "source"; file: SourceFileRef; start?: number; end?: number; firstLine?: number };

export interface SourceFileRef {
  path: string;
  size: number;
  mtimeMs: number;
  format: string;
  compression: string;
}

/** `whole`: a stage without a sharding plan, run over its whole input by one task. */
export type TaskPhase = "whole" | "records" | "prepare" | "map" | "reduce" | "merge" | "apply";

/** One unit of work: (stage, phase, index). JSON: it crosses process and machine boundaries. */
export interface TaskSpec {
  /** Unique within the run and deterministic: `<stage>/<phase>-<index>` plus the stage key prefix. */
  id: string;
  runDir: string;
  stage: string;
  /** Position of the stage in the recipe's stage list. */
  stageIndex: number;
  /** The stage key the coordinator computed; a worker whose rebuilt stage has another key refuses the task. */
  stageKey: string;
  recipe: PipelineRecipe;
  phase: TaskPhase;
  index: number;
  /** Where the task writes: `<runDir>/<stage>/.tasks/<phase>-<index>` (renamed there when complete). */
  outDir: string;
  /** What the task reads, in order (records, map and apply tasks: one split; prepare and whole-stage tasks: all). */
  inputs?: TaskInput[];
  /** Index of the input split (map, apply, records): its records' positions are `positionOf(split, offset)`. */
  split?: number;
  /** Task directories of earlier phases this task reads (prepare state, partition rows, decisions). */
  deps?: { prepare?: string; rows?: string[]; decisions?: string[] };
  /** Key of the source before the first stage; with the recipe's stages it gives every stage key. */
  sourceKey: string;
  partitions?: number;
  seed: number;
  strict: boolean;
  source?: { decode: "raw" | "samples"; readOptions?: Record<string, unknown> };
}

/** What a finished task reports (also written as `result.json` in its directory, its completion marker). */
export interface TaskResult {
  id: string;
  /** Records read, written, rejected and marked duplicate by this task. */
  counts: { in: number; out: number; rejected: number; deduplicated: number; rejectedByReason: Record<string, number> };
  counters: Record<string, number>;
  stats?: Record<string, unknown>;
  /** Records written to the task's `out.jsonl` (whole, records and apply tasks). */
  records: number;
  /** Rows and decisions files the task wrote (map, reduce, merge): readers require exactly these. */
  files?: string[];
  worker: string;
  seconds: number;
  /** Peak resident memory of the worker process so far, MB. */
  peakRssMB?: number;
}

export interface TaskEvent {
  task: TaskSpec;
  result?: TaskResult;
  /** Set when a try failed and the task will be retried (or failed for good when `final`). */
  error?: { message: string; attempt: number; final: boolean };
}

export interface ExecuteOptions {
  signal: AbortSignal;
  /** Called as tasks finish or fail; drives progress and the manifest's per-worker figures. */
  onEvent?: (event: TaskEvent) => void;
}

/**
 * Runs tasks. Tasks are idempotent (a task redone writes the same bytes, and only a complete task directory becomes
 * visible), so an executor may run one more than once (a stalled worker's task re-delivered). `execute` resolves with
 * one result per task, in the order given, once all have succeeded; it rejects with a {@link TaskFailedError} naming
 * the task after its retries are used up.
 */
export interface Executor {
  /** `local`, `processes`, `bullmq`, or a user executor's name; recorded in manifests. */
  readonly name: string;
  /** Tasks that may run at once. */
  readonly workers: number;
  execute(tasks: TaskSpec[], options: ExecuteOptions): Promise<TaskResult[]>;
  close(): Promise<void>;
}
