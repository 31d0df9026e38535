import { readdir, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DataError } from "../errors.js";
import { readJsonl } from "../readers/jsonl.js";
import { readRecords } from "../readers/readRecords.js";
import type { InputFile, ReadOptions } from "../readers/types.js";
import { ShardedJsonlWriter, type ShardInfo } from "../writers/shardedJsonlWriter.js";
import { AppendLog } from "./appendLog.js";
import { DecodeFailure, decodeSample, locOf, StrictModeError, serializeOutput } from "./decode.js";
import { createProcessExecutor } from "./executor/processes.js";
import { type AnyStage, stagesFromRecipe } from "./executor/recipe.js";
import { removeTasksDir, runShardedStage } from "./executor/shardedStage.js";
import type { Executor, PipelineRecipe } from "./executor/types.js";
import { fingerprints, sourceKeyOf, stageKeys } from "./keys.js";
import { createLogger } from "./logger.js";
import {
  completeManifest,
  readCheckpoint,
  readManifest,
  type StageCheckpoint,
  type StageCounts,
  type StageManifest,
  stageSummaryLine,
  writeJsonFile,
} from "./manifest.js";
import { ensureWritableDir } from "./outputDir.js";
import { createProgressLine, shouldShowProgress } from "./progress.js";
import type { Logger, ProgressReporter, RejectEntry, StageContext } from "./types.js";

export { StrictModeError } from "./decode.js";

export interface PipelineSource {
  /** Input files (from `resolveInputs`); their path, size and mtime key the first stage. */
  files: InputFile[];
  readOptions?: ReadOptions;
  /**
   * `raw` (default) hands the first stage `RawRecord`s (for `normalizeStage`);
   * `samples` decodes canonical shards into validated `Sample`s, rejecting invalid ones.
   */
  decode?: "raw" | "samples";
}

export interface RunPipelineOptions {
  /** Run name: outputs go to `<runsDir>/<name>/<stage>/`. */
  name: string;
  /** @default "runs" */
  runsDir?: string;
  source: PipelineSource;
  /** The stages, in order; optional when `recipe` is given. */
  stages?: AnyStage[];
  /**
   * Output shard bounds, and whether to fsync each shard (durability across power loss;
   * process crashes are covered by atomic renames alone).
   * @default { maxRecords: 100_000, maxBytes: 256 MiB, fsync: false }
   */
  shard?: { maxRecords?: number; maxBytes?: number; fsync?: boolean };
  /** Abort on the first rejected record instead of continuing. @default false */
  strict?: boolean;
  /** Rerun every stage even when its manifest matches. @default false */
  force?: boolean;
  /** @default 0 */
  seed?: number;
  signal?: AbortSignal;
  logger?: Logger;
  /**
   * Progress on stderr: the input's records/s and ETA, and what each stage reports through `ctx.progress`, on one
   * line. `true`/`false` force it on or off; a function supplies the reporters instead (see `ProgressFactory`).
   * @default on for a TTY, off under CI=true
   */
  progress?: boolean | ProgressFactory;
  /** Package versions recorded in manifests. */
  versions?: Record<string, string>;
  /**
   * Who runs the stages. `local` (default): this process, every stage fused in one streaming pass. `processes`: each
   * stage split into (stage, shard) tasks run by `workers` worker processes. `bullmq`: tasks on Redis through BullMQ,
   * run by `infialign-data worker` processes on any machine that sees the run directory. Or an {@link Executor}.
   * Outputs are byte-identical whichever runs them. Executors other than `local` need `recipe`.
   * @default "local"
   */
  executor?: "local" | "processes" | "bullmq" | Executor;
  /** Worker processes of the `processes` executor. @default the number of cores */
  workers?: number;
  /** Redis for the `bullmq` executor: a URL (`redis://host:6379`) and an optional queue name. */
  bullmq?: { redis: string; queue?: string; attempts?: number };
  /**
   * How workers rebuild the stages: a module every worker can import and its export returning the stage array (see
   * {@link PipelineRecipe}). With a recipe, `stages` may be omitted (the coordinator builds them the same way).
   */
  recipe?: PipelineRecipe;
  /** Source bytes per task of the first stage (sharded executors). @default the source over 4 tasks per worker, 1–128 MiB */
  splitBytes?: number;
}

/**
 * Makes the reporter for the pipeline's input (`role: "input"`, `stage` = the first stage that runs) or for one
 * stage's own reports (`role: "stage"`, handed to the stage as `ctx.progress`).
 */
export type ProgressFactory = (stage: string, role: "input" | "stage") => ProgressReporter;

export interface StageRunSummary {
  name: string;
  dir: string;
  skipped: boolean;
  resumed: boolean;
  manifest: StageManifest;
}

export interface PipelineResult {
  runDir: string;
  stages: StageRunSummary[];
}

const MANIFEST = "manifest.json";
const CHECKPOINT = "checkpoint.json";
const REJECTS = "rejects.jsonl";
const DUPLICATES = "duplicates.jsonl";
const RUNS_DIR_FIX = "Pass a writable runsDir (--runs <dir>), or fix the permissions of this one";
const STAGE_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * The last record written and its JSON. Stages treat records as immutable and lazy
 * stages pass each record down the whole fused chain before the next is pulled, so a
 * record passed through unchanged (dedup, stats) is written again without a second
 * JSON.stringify, the dominant cost of pass-through stages. One slot, not a WeakMap:
 * a million-entry WeakMap makes every GC pay for its ephemerons.
 */
let lastWritten: { record: unknown; line: string } = { record: undefined, line: "" };

/**
 * Runs stages into a run directory with manifests, rejects, skip-if-done and resume
 * from the last complete shard. Stages that still have work run fused in one streaming
 * pass; each writes its own shards, so later runs can start from any of them.
 */
export async function runPipeline(options: RunPipelineOptions): Promise<PipelineResult> {
  const runDir = resolve(options.runsDir ?? "runs", options.name);
  const logger = options.logger ?? createLogger({ prefix: options.name });
  const executorChoice = options.executor ?? "local";
  const distributed = executorChoice !== "local";
  if (distributed && !options.recipe) {
    const name = typeof executorChoice === "string" ? executorChoice : executorChoice.name;
    throw new DataError("pipeline", `executor "${name}" runs stages in other processes, which rebuild them from a recipe: pass recipe: { module, export, args } (a module every worker can import whose export returns the stage array)`);
  }
  // With stages given, the coordinator does not import the recipe: a module that is both the recipe and the script
  // running the pipeline would import itself while its top-level await is pending, and never settle. Workers check
  // that their stages have the coordinator's keys instead.
  const stageList = options.stages ?? (options.recipe ? await stagesFromRecipe(options.recipe) : undefined);
  if (!stageList) throw new DataError("pipeline", "no stages given: pass stages, or a recipe that builds them");
  const names = new Set<string>();
  for (const stage of stageList) {
    if (!STAGE_NAME.test(stage.name)) throw new DataError("pipeline", `stage name "${stage.name}" must be lowercase letters, digits, ".", "_" or "-"`);
    if (names.has(stage.name)) throw new DataError("pipeline", `two stages are named "${stage.name}"; stage names must be unique within a pipeline`);
    names.add(stage.name);
  }
  if (stageList.length === 0) throw new DataError("pipeline", "no stages given");
  if (options.source.files.length === 0) throw new DataError("pipeline", "no input files given");
  const inputs = fingerprints(options.source.files);
  const sourceKey = sourceKeyOf(options.source.files, options.source.decode, options.source.readOptions);
  const keys = stageKeys(sourceKey, stageList);
  const plans: StagePlan[] = stageList.map((stage, i) => ({ stage, dir: join(runDir, stage.name), key: keys[i]!, inputKey: i === 0 ? sourceKey : keys[i - 1]! }));

  // A stage is done when its manifest carries the same key and its shards are intact.
  let firstTodo = 0;
  if (!options.force) {
    while (firstTodo < plans.length && (await isComplete(plans[firstTodo]!))) firstTodo++;
  }
  if (firstTodo < plans.length) {
    await preflight(plans.slice(firstTodo).map((p) => p.stage));
    await ensureWritableDir(runDir, { component: "pipeline", purpose: "run directory", fix: RUNS_DIR_FIX });
  }
  const summaries: StageRunSummary[] = [];
  for (const plan of plans.slice(0, firstTodo)) {
    await removeTasksDir(plan.dir, logger);
    summaries.push({ name: plan.stage.name, dir: plan.dir, skipped: true, resumed: false, manifest: plan.manifest! });
    logger.info(`${plan.stage.name}: up to date (${plan.manifest!.counts.out} records), skipped`);
  }
  if (firstTodo === plans.length) return { runDir, stages: summaries };

  const progressEnabled = typeof options.progress === "function" || (options.progress ?? shouldShowProgress());
  const progressFor: ProgressFactory =
    typeof options.progress === "function"
      ? options.progress
      : (() => {
          const line = createProgressLine({ enabled: progressEnabled });
          return (stage, role) => (role === "input" ? line.input : line.stage(stage));
        })();
  // A log line while a bar is drawn would be glued to it: clear the bar's line first;
  // the bar redraws itself on its next update.
  const log: Logger = progressEnabled && typeof options.progress !== "function" ? clearingLogger(logger) : logger;
  if (distributed) {
    const executor = typeof executorChoice === "string" ? await createExecutor(executorChoice, options) : executorChoice;
    try {
      for (let i = firstTodo; i < plans.length; i++) {
        const plan = plans[i]!;
        const previous = plans[i - 1];
        plan.manifest = await runShardedStage({
          stage: plan.stage,
          stageIndex: i,
          dir: plan.dir,
          key: plan.key,
          inputKey: plan.inputKey,
          sourceKey,
          runDir,
          recipe: options.recipe!,
          executor,
          input: i === 0 ? { kind: "source", files: options.source.files, decode: options.source.decode, readOptions: options.source.readOptions } : { kind: "shards", dir: previous!.dir, shards: previous!.manifest!.shards },
          seed: options.seed ?? 0,
          strict: !!options.strict,
          shard: options.shard ?? {},
          signal: options.signal ?? new AbortController().signal,
          logger: log,
          progress: progressFor(plan.stage.name, "stage"),
          // One figure per worker fits the line for a few workers; a fleet shows in .tasks/progress.json.
          ...(executor.workers <= 4 ? { workerProgress: (worker: string) => progressFor(`${plan.stage.name} ${worker}`, "stage") } : {}),
          versions: options.versions ?? {},
          ...(i === 0 ? { inputs } : {}),
          ...(options.splitBytes ? { splitBytes: options.splitBytes } : {}),
          force: !!options.force,
        });
        summaries.push({ name: plan.stage.name, dir: plan.dir, skipped: false, resumed: false, manifest: plan.manifest });
      }
    } finally {
      if (typeof executorChoice === "string") await executor.close();
    }
    return { runDir, stages: summaries };
  }
  const runners: StageRunner[] = [];
  for (let i = firstTodo; i < plans.length; i++) {
    const plan = plans[i]!;
    const runner = await StageRunner.prepare(plan, {
      force: !!options.force,
      strict: !!options.strict,
      seed: options.seed ?? 0,
      signal: options.signal ?? new AbortController().signal,
      logger: log,
      shard: options.shard ?? {},
      cacheDir: join(runDir, ".cache", plan.stage.name),
      versions: options.versions ?? {},
      inputs: i === 0 ? inputs : undefined,
      progress: progressFor(plan.stage.name, "stage"),
    });
    runners.push(runner);
  }

  // Wire inputs: the first stage to run reads the source or the previous stage's
  // shards; every later one reads the live output of the stage before it.
  const head = runners[0]!;
  if (firstTodo === 0) {
    const totalBytes = options.source.files.every((f) => f.compression === "none")
      ? options.source.files.reduce((sum, f) => sum + f.size, 0)
      : undefined;
    const progress = progressFor(head.stage.name, "input");
    head.setInput((from) => skip(sourceRecords(options.source, head, progress, totalBytes), from));
  } else {
    const upstream = plans[firstTodo - 1]!;
    const progress = progressFor(head.stage.name, "input");
    head.setInput((from) => withProgress(readShards(upstream.manifest!.shards, upstream.dir, from), progress, upstream.manifest!.counts.out, head.stage.name));
  }
  for (let i = 1; i < runners.length; i++) {
    const prev = runners[i - 1]!;
    runners[i]!.setInput((from) => prev.outputFrom(from));
  }

  const last = runners[runners.length - 1]!;
  for await (const _ of last.outputFrom(0)) {
    // Draining the last stage pulls every stage before it.
  }
  for (const runner of runners) {
    summaries.push({ name: runner.stage.name, dir: runner.plan.dir, skipped: false, resumed: runner.resumed, manifest: runner.manifest! });
  }
  return { runDir, stages: summaries };
}

async function createExecutor(kind: "processes" | "bullmq", options: RunPipelineOptions): Promise<Executor> {
  if (kind === "processes") return createProcessExecutor({ ...(options.workers ? { workers: options.workers } : {}) });
  if (!options.bullmq?.redis) throw new DataError("pipeline", 'executor "bullmq" needs bullmq: { redis: "redis://host:6379" } (and workers started with `infialign-data worker --redis <url>`)');
  const { createBullmqExecutor } = await import("./executor/bullmq.js");
  return createBullmqExecutor({
    redis: options.bullmq.redis,
    ...(options.bullmq.queue ? { queue: options.bullmq.queue } : {}),
    ...(options.bullmq.attempts ? { attempts: options.bullmq.attempts } : {}),
    ...(options.workers ? { workers: options.workers } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

/** Runs every stage's `preflight()` and reports all missing requirements at once. */
async function preflight(stages: AnyStage[]): Promise<void> {
  const problems: { stage: string; error: unknown }[] = [];
  for (const stage of stages) {
    try {
      await stage.preflight?.();
    } catch (error) {
      problems.push({ stage: stage.name, error });
    }
  }
  if (problems.length === 0) return;
  const lines = problems.map((p) => `stage "${p.stage}": ${p.error instanceof Error ? p.error.message : String(p.error)}`);
  throw new DataError(
    "pipeline",
    problems.length === 1 ? `cannot start, ${lines[0]}` : `cannot start, ${problems.length} stages are missing requirements:\n  - ${lines.join("\n  - ")}`,
    { cause: problems.length === 1 ? problems[0]!.error : new AggregateError(problems.map((p) => p.error)) },
  );
}

function clearingLogger(logger: Logger): Logger {
  const clear = () => process.stderr.write("\r\x1b[K");
  return {
    info: (m) => {
      clear();
      logger.info(m);
    },
    warn: (m) => {
      clear();
      logger.warn(m);
    },
    debug: (m) => logger.debug(m),
  };
}

interface StagePlan {
  stage: AnyStage;
  dir: string;
  key: string;
  inputKey: string;
  manifest?: StageManifest;
}

async function isComplete(plan: StagePlan): Promise<boolean> {
  const manifest = await readManifest(join(plan.dir, MANIFEST));
  if (manifest?.status !== "complete" || manifest.key !== plan.key) return false;
  for (const shard of manifest.shards) {
    const size = await stat(join(plan.dir, shard.file)).then((s) => s.size, () => -1);
    if (size !== shard.bytes) return false;
  }
  plan.manifest = manifest;
  return true;
}

interface RunnerOptions {
  force: boolean;
  strict: boolean;
  seed: number;
  signal: AbortSignal;
  logger: Logger;
  shard: { maxRecords?: number; maxBytes?: number; fsync?: boolean };
  cacheDir: string;
  versions: Record<string, string>;
  inputs: StageManifest["inputs"];
  /** The stage's own reporter (`ctx.progress`). */
  progress: ProgressReporter;
}

/** Owns one stage's directory: shards, rejects, duplicates, checkpoint and manifest. */
class StageRunner {
  manifest: StageManifest | undefined;
  resumed = false;
  private input!: (from: number) => AsyncIterable<unknown>;
  private counts: StageCounts = { in: 0, out: 0, rejected: 0, deduplicated: 0, rejectedByReason: {} };
  private counters: Record<string, number> = {};
  private shards: ShardInfo[] = [];
  /** Outputs, rejects and duplicates to suppress while replaying (resume: "replay"). */
  private suppress = { out: 0, rejected: 0, deduplicated: 0 };
  private startAt = 0;
  private started = false;
  /** The stage's `ctx.progress`, stopped when the stage ends in case the stage did not stop it. */
  private readonly progress: ProgressReporter;
  private progressRunning = false;

  private constructor(
    readonly plan: StagePlan,
    private readonly opts: RunnerOptions,
    private readonly checkpoint: StageCheckpoint | undefined,
  ) {
    this.progress = {
      start: (total, label) => {
        this.progressRunning = true;
        opts.progress.start(total, label);
      },
      update: (done, records) => {
        if (this.progressRunning) opts.progress.update(done, records);
      },
      stop: () => {
        if (!this.progressRunning) return;
        this.progressRunning = false;
        opts.progress.stop();
      },
    };
  }

  get stage(): AnyStage {
    return this.plan.stage;
  }

  static async prepare(plan: StagePlan, opts: RunnerOptions): Promise<StageRunner> {
    await ensureWritableDir(plan.dir, { component: "pipeline", purpose: `directory of stage "${plan.stage.name}"`, fix: RUNS_DIR_FIX });
    let checkpoint = opts.force ? undefined : await readCheckpoint(join(plan.dir, CHECKPOINT));
    if (checkpoint && checkpoint.key !== plan.key) checkpoint = undefined;
    if (checkpoint && !(await shardsIntact(plan.dir, checkpoint.shards))) checkpoint = undefined;
    await cleanStageDir(plan.dir, checkpoint);
    const runner = new StageRunner(plan, opts, checkpoint);
    if (checkpoint) {
      runner.resumed = true;
      runner.shards = [...checkpoint.shards];
      if (plan.stage.resume === "replay") {
        runner.suppress = { out: checkpoint.counts.out, rejected: checkpoint.counts.rejected, deduplicated: checkpoint.counts.deduplicated };
      } else {
        runner.counts = structuredClone(checkpoint.counts);
        runner.counters = { ...checkpoint.counters };
        runner.startAt = checkpoint.inputConsumed;
      }
    }
    return runner;
  }

  setInput(input: (from: number) => AsyncIterable<unknown>): void {
    this.input = input;
  }

  /** Number of outputs already on disk when this run started (the live stream begins there). */
  get keptOutputs(): number {
    return this.checkpoint && this.stage.resume !== "replay" ? this.checkpoint.counts.out : 0;
  }

  /**
   * This stage's outputs from index `from`: the part already on disk from the shards,
   * the rest live. Only one live consumer is allowed (the next stage).
   */
  async *outputFrom(from: number): AsyncGenerator<unknown> {
    const kept = this.keptOutputs;
    if (from < kept) yield* readShards(this.shards.slice(0, this.checkpoint!.shards.length), this.plan.dir, from);
    yield* skip(this.live(), Math.max(0, from - kept));
  }

  private async *live(): AsyncGenerator<unknown> {
    if (this.started) throw new DataError("pipeline", `stage "${this.stage.name}" output consumed twice`);
    this.started = true;
    const { stage, dir } = this.plan;
    const { logger } = this.opts;
    const startedAt = Date.now();
    if (this.resumed) {
      logger.info(`${stage.name}: resuming after ${this.shards.length} complete shard(s) (${this.checkpoint!.counts.out} records)`);
    }
    if (this.resumed && stage.restore && stage.resume !== "replay") {
      await stage.restore(readShards(this.shards, dir, 0));
    }
    const rejects = await AppendLog.open(join(dir, REJECTS), this.checkpoint?.rejectsBytes ?? 0);
    const duplicates = await AppendLog.open(join(dir, DUPLICATES), this.checkpoint?.duplicatesBytes ?? 0);
    const ctx = this.context(rejects, duplicates);
    let consumed = this.startAt;
    const counted = async function* (this: StageRunner, source: AsyncIterable<unknown>) {
      for await (const record of source) {
        consumed++;
        this.counts.in = consumed;
        if (record instanceof DecodeFailure) {
          ctx.reject(record.raw, record.raw.code, record.raw.message, { loc: record.raw.loc });
          continue;
        }
        yield record;
      }
    }.call(this, this.input(this.startAt));

    const writer = new ShardedJsonlWriter({
      dir,
      maxRecords: this.opts.shard.maxRecords,
      maxBytes: this.opts.shard.maxBytes,
      fsync: this.opts.shard.fsync,
      startIndex: this.shards.length,
      onShardClosed: async (info) => {
        this.shards.push(info);
        const checkpoint: StageCheckpoint = {
          key: this.plan.key,
          shards: this.shards,
          counts: this.counts,
          inputConsumed: consumed,
          rejectsBytes: await rejects.commit(),
          duplicatesBytes: await duplicates.commit(),
          counters: this.counters,
        };
        await writeJsonFile(join(dir, CHECKPOINT), checkpoint);
      },
    });

    try {
      for await (const record of stage.run(counted, ctx)) {
        this.opts.signal.throwIfAborted();
        if (lastWritten.record !== record || typeof record !== "object" || record === null) {
          const serialized = serializeOutput(record);
          if ("reject" in serialized) {
            const { record: bounded, code, message, loc } = serialized.reject;
            ctx.reject(bounded, code, message, { loc });
            continue;
          }
          lastWritten = { record, line: serialized.line };
        }
        this.counts.out++;
        if (this.suppress.out > 0) {
          this.suppress.out--;
          yield record;
          continue;
        }
        await writer.writeLine(lastWritten.line);
        yield record;
      }
    } finally {
      this.progress.stop();
    }
    await writer.close();
    const stats = (await stage.finish?.()) ?? {};
    const { in: nIn, out, rejected, deduplicated } = this.counts;
    if (nIn !== out + rejected + deduplicated) {
      throw new DataError(
        "pipeline",
        `stage "${stage.name}" lost track of records: in=${nIn} but out=${out} + rejected=${rejected} + deduplicated=${deduplicated} = ${out + rejected + deduplicated}. This is a bug in the stage: every input must be yielded, rejected or marked duplicate.`,
      );
    }
    const manifest = completeManifest({
      stage,
      key: this.plan.key,
      inputKey: this.plan.inputKey,
      ...(this.opts.inputs ? { inputs: this.opts.inputs } : {}),
      counts: this.counts,
      counters: this.counters,
      stats,
      shards: this.shards,
      startedAt,
      resumed: this.resumed,
      versions: this.opts.versions,
    });
    await rejects.close();
    await duplicates.close();
    await writeJsonFile(join(dir, MANIFEST), manifest);
    await rm(join(dir, CHECKPOINT), { force: true });
    this.manifest = manifest;
    logger.info(stageSummaryLine(stage.name, this.counts, manifest.timings.seconds));

  }

  private context(rejects: AppendLog, duplicates: AppendLog): StageContext {
    const stageName = this.stage.name;
    return {
      reject: (record, code, message, extra) => {
        this.counts.rejected++;
        this.counts.rejectedByReason[code] = (this.counts.rejectedByReason[code] ?? 0) + 1;
        if (this.suppress.rejected > 0) {
          this.suppress.rejected--;
          return;
        }
        const entry: RejectEntry = { code, message, stage: stageName, ...extra, record };
        if (!entry.loc) entry.loc = locOf(record);
        if (this.opts.strict) throw new StrictModeError(entry);
        rejects.append(entry);
      },
      duplicate: (record, duplicateOf) => {
        this.counts.deduplicated++;
        if (this.suppress.deduplicated > 0) {
          this.suppress.deduplicated--;
          return;
        }
        duplicates.append({ id: record.id, duplicateOf, stage: stageName, loc: locOf(record) });
      },
      count: (name, by = 1) => {
        this.counters[name] = (this.counters[name] ?? 0) + by;
      },
      logger: this.opts.logger,
      progress: this.progress,
      signal: this.opts.signal,
      cacheDir: this.opts.cacheDir,
      seed: this.opts.seed,
    };
  }
}

async function shardsIntact(dir: string, shards: ShardInfo[]): Promise<boolean> {
  for (const shard of shards) {
    const size = await stat(join(dir, shard.file)).then((s) => s.size, () => -1);
    if (size !== shard.bytes) return false;
  }
  return true;
}

/** Removes everything a crashed or outdated run left that the checkpoint does not vouch for. */
async function cleanStageDir(dir: string, checkpoint: StageCheckpoint | undefined): Promise<void> {
  const keep = new Set(checkpoint ? [CHECKPOINT, REJECTS, DUPLICATES, ...checkpoint.shards.map((s) => s.file)] : []);
  for (const entry of await readdir(dir)) {
    if (!keep.has(entry)) await rm(join(dir, entry), { recursive: true, force: true });
  }
}

async function* skip<T>(source: AsyncIterable<T>, n: number): AsyncGenerator<T> {
  let skipped = 0;
  for await (const item of source) {
    if (skipped < n) {
      skipped++;
      continue;
    }
    yield item;
  }
}

/** Reads records back from complete shards, starting at record index `from`. */
export async function* readShards(shards: ShardInfo[], dir: string, from = 0): AsyncGenerator<unknown> {
  let index = 0;
  for (const shard of shards) {
    if (index + shard.records <= from) {
      index += shard.records;
      continue;
    }
    // Shards hold what this runtime wrote (it serialized), whatever maxDepth let through.
    for await (const raw of readJsonl(join(dir, shard.file), { maxDepth: Number.POSITIVE_INFINITY })) {
      if (index++ < from) continue;
      if (!raw.ok) throw new DataError("pipeline", `shard ${join(dir, shard.file)} is corrupt at line ${raw.loc.line}: ${raw.message}. Delete the stage directory to rebuild it.`);
      yield raw.value;
    }
  }
}

async function* withProgress<T>(source: AsyncIterable<T>, progress: ProgressReporter, total: number | undefined, label: string): AsyncGenerator<T> {
  progress.start(total, label);
  let n = 0;
  try {
    for await (const item of source) {
      progress.update(++n);
      yield item;
    }
  } finally {
    progress.stop();
  }
}

async function* sourceRecords(
  source: PipelineSource,
  head: StageRunner,
  progress: ProgressReporter,
  totalBytes: number | undefined,
): AsyncGenerator<unknown> {
  progress.start(totalBytes, head.stage.name);
  let bytes = 0;
  let records = 0;
  try {
    for (const file of source.files) {
      for await (const raw of readRecords(file, source.readOptions)) {
        records++;
        bytes += raw.ok ? (raw.bytes ?? 0) : 0;
        progress.update(totalBytes ? bytes : records, records);
        yield source.decode === "samples" ? decodeSample(raw) : raw;
      }
    }
  } finally {
    progress.stop();
  }
}
