import type { Sample } from "../schema/sample.js";

/** Where a record came from. `line` is 1-based (text formats), `row` is 0-based (Parquet, JSON arrays). */
export interface SourceLocation {
  file: string;
  line?: number;
  row?: number;
}

/** Reason codes for rejected records. Stages may add their own (kebab/snake case strings). */
export type RejectCode =
  | "malformed_json"
  | "invalid_utf8"
  | "empty_file"
  | "record_too_large"
  | "too_deep"
  | "not_an_object"
  | "wrong_type"
  | "missing_field"
  | "missing_final_answer"
  | "unknown_schema"
  | "invalid_record"
  | "teacher_failed"
  | (string & {});

/**
 * One unit read from a source: either a decoded value or a read problem that the
 * first stage turns into a reject. Readers never throw for a bad record, only for an
 * unreadable source (missing file, corrupt Parquet footer).
 */
export type RawRecord =
  | { ok: true; value: unknown; loc: SourceLocation; bytes?: number }
  | { ok: false; code: RejectCode; message: string; loc: SourceLocation; raw?: string };

export interface RejectEntry {
  code: RejectCode;
  message: string;
  stage: string;
  loc?: SourceLocation;
  field?: string;
  /** The record id when the record got one, else absent. */
  id?: string;
  /** The offending record (or a truncated raw line) for inspection. */
  record?: unknown;
}

export interface DuplicateEntry {
  id: string;
  duplicateOf: string;
  stage: string;
  loc?: SourceLocation;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

/** Progress reporting; a no-op reporter is used under CI=true or without a TTY. */
export interface ProgressReporter {
  /** `total` is in the unit of `done` (bytes of input for sources, records otherwise). */
  start(total: number | undefined, label: string): void;
  /** `records` drives the records/s figure when `done` counts bytes. */
  update(done: number, records?: number): void;
  stop(): void;
}

export interface StageContext {
  /** Send a record to the rejects sink with a reason code. */
  reject(record: unknown, code: RejectCode, message: string, extra?: { loc?: SourceLocation; field?: string; id?: string }): void;
  /** Record that `record` duplicates an earlier record (it is not forwarded). */
  duplicate(record: Sample, duplicateOf: string): void;
  /** Free-form counters merged into the manifest (`stats`). */
  count(name: string, by?: number): void;
  logger: Logger;
  progress: ProgressReporter;
  signal: AbortSignal;
  /** A directory the stage may use for caches that survive reruns. */
  cacheDir: string;
  /** Seed for anything random the stage does. */
  seed: number;
}

/**
 * A pipeline block. `run` pulls from `records` lazily and yields outputs; it must
 * neither buffer unboundedly nor read ahead, unless it sets `resume: "replay"`.
 *
 * Resume: after a crash the runtime keeps the stage's complete output shards and
 * continues. With `resume: "skip"` (stateless, the default) it skips the inputs that
 * were already consumed; with `restore` defined it first feeds the stage its own kept
 * output to rebuild state (dedup's seen-set); with `resume: "replay"` it replays the
 * whole input and drops outputs already written (the stage must be deterministic).
 */
export interface Stage<In = Sample, Out = Sample, P = unknown> {
  name: string;
  /** Validated parameters; they are hashed into the manifest (change them and the stage reruns). */
  params: P;
  /** Bump when the stage's behaviour changes so old manifests stop matching. */
  version?: string;
  resume?: "skip" | "replay";
  restore?(kept: AsyncIterable<Out>): Promise<void>;
  /**
   * Checks what the stage needs (optional packages, files, settings) and throws, naming
   * what is missing and the fix. `runPipeline` calls it for every stage that will run
   * before the first one starts, so a missing requirement fails in seconds, not after
   * the earlier stages have done their work.
   */
  preflight?(): void | Promise<void>;
  run(records: AsyncIterable<In>, ctx: StageContext): AsyncIterable<Out>;
  /** Called once the input is exhausted; returns stage-specific stats for the manifest. */
  finish?(): Record<string, unknown> | Promise<Record<string, unknown>>;
  /**
   * How executors other than `local` split the stage into tasks. Absent: the stage runs as one task over its whole
   * input (correct for any stage, not parallel). Whatever the plan, the output must be byte-identical to `run`'s.
   */
  sharding?: ShardPlan<In, Out>;
}

/**
 * `records`: a per-record stage; `run` over each input shard, outputs concatenated in shard order, equals `run` over
 * the whole input. `combineStats` adds the `finish()` stats of the shards (default: numbers summed, nested objects
 * combined key by key, other values kept when equal).
 */
export type ShardPlan<In = Sample, Out = Sample> =
  | { kind: "records"; combineStats?(parts: Record<string, unknown>[]): Record<string, unknown> }
  // biome-ignore lint/suspicious/noExplicitAny: the plan's state, row and decision types are the stage's own.
  | GlobalShardPlan<In, Out, any, any, any>;

/** A record and its position in the stage input (an order-preserving number, see `positionOf`). */
export interface Positioned<T> {
  record: T;
  position: number;
}

/** Context of a prepare / map / reduce / merge task: no records flow out of these phases, so no reject or duplicate. */
export type PhaseContext = Omit<StageContext, "reject" | "duplicate">;

/**
 * A stage that needs the whole data set, as map + reduce over compact per-record rows:
 *
 * 1. `prepare` (one task, optional): reads the input (all of it, a prefix or a seeded sample) and returns a
 *    JSON-serialisable state every later task receives (learned phrases, k-means centroids).
 * 2. `map` (one task per input shard, optional): emits compact rows routed to `partitions` partitions.
 * 3. `reduce` (one task per partition): receives the partition's rows in input order (map tasks in order, each task's
 *    rows in emit order) and returns decisions keyed by record position, or, with `merge`, intermediate pairs.
 * 4. `merge` (one task, optional): receives every reduce output (partitions in order) and returns the final decisions.
 * 5. `apply` (one task per input shard): the stage's output for the shard, given each record's decision.
 *
 * Each phase may return `stats`; `combineStats` builds the manifest's stats from them (default: the merge's stats,
 * else the reduces' combined, then the applies' combined, each later one overriding keys of the earlier).
 */
export interface GlobalShardPlan<In = Sample, Out = Sample, State = unknown, Row = unknown, Decision = unknown> {
  kind: "global";
  /** @default 1 */
  partitions?: number;
  prepare?(input: () => AsyncIterable<In>, ctx: PhaseContext): Promise<{ state: State; stats?: Record<string, unknown> }>;
  map?(records: AsyncIterable<Positioned<In>>, emit: (partition: number, row: Row) => void, state: State, ctx: PhaseContext): Promise<void>;
  reduce?(
    rows: AsyncIterable<Row>,
    partition: number,
    state: State,
    ctx: PhaseContext,
  ): Promise<{ decisions: Iterable<[position: number, decision: Decision]>; stats?: Record<string, unknown> }>;
  merge?(
    reduced: AsyncIterable<[position: number, value: unknown]>,
    state: State,
    ctx: PhaseContext,
  ): Promise<{ decisions: Iterable<[position: number, decision: Decision]>; stats?: Record<string, unknown> }>;
  apply(records: AsyncIterable<Positioned<In>>, decision: (position: number) => Decision | undefined, state: State, ctx: StageContext): AsyncIterable<Out>;
  /** Stats of the apply tasks (returned through `applyStats`), combined like `records` stages' `finish()`. */
  applyStats?(): Record<string, unknown>;
  combineStats?(parts: { prepare?: Record<string, unknown>; reduce: Record<string, unknown>[]; merge?: Record<string, unknown>; apply: Record<string, unknown>[] }): Record<string, unknown>;
}
