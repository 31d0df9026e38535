import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { DataError } from "../../errors.js";
import { readJsonl } from "../../readers/jsonl.js";
import type { ReadOptions } from "../../readers/types.js";
import { AppendLog } from "../appendLog.js";
import { DecodeFailure, locOf, StrictModeError, serializeOutput } from "../decode.js";
import { stageKeys } from "../keys.js";
import { silentLogger } from "../logger.js";
import { noProgress } from "../progress.js";
import type { GlobalShardPlan, PhaseContext, Positioned, RejectEntry, StageContext } from "../types.js";
import { readTaskInput } from "./inputs.js";
import { type AnyStage, stagesFromRecipe } from "./recipe.js";
import { POSITION_TASK_STRIDE, positionOf } from "./stats.js";
import type { TaskResult, TaskSpec } from "./types.js";

export const RESULT_FILE = "result.json";
export const OUT_FILE = "out.jsonl";
export const TASK_REJECTS = "rejects.jsonl";
export const TASK_DUPLICATES = "duplicates.jsonl";
const STATE_FILE = "state.json";

export interface RunTaskOptions {
  /** Recorded in the result. @default "<hostname>:<pid>" */
  worker?: string;
  signal?: AbortSignal;
}

/**
 * Runs one task of a sharded stage: rebuilds the stages from the recipe, checks the stage key, runs the phase into a
 * temp directory and renames it into place. A task whose directory is already complete is not run again.
 */
export async function runTask(spec: TaskSpec, options: RunTaskOptions = {}): Promise<TaskResult> {
  const done = await readResult(spec.outDir);
  if (done?.id === spec.id) return done;
  // A directory left by a task of another stage key (a stale job of an earlier run): not this task's output.
  if (done) await rm(spec.outDir, { recursive: true, force: true });
  const startedAt = performance.now();
  const stages = await stagesFromRecipe(spec.recipe);
  const stage = stages[spec.stageIndex];
  if (!stage || stage.name !== spec.stage) {
    throw notRetryable(new DataError("pipeline", `task ${spec.id}: the recipe's stage ${spec.stageIndex} is ${stage ? `"${stage.name}"` : "missing"}, expected "${spec.stage}". The worker runs other code than the coordinator.`));
  }
  const key = stageKeys(spec.sourceKey, stages.slice(0, spec.stageIndex + 1))[spec.stageIndex];
  if (key !== spec.stageKey) {
    throw notRetryable(
      new DataError(
        "pipeline",
        `task ${spec.id}: the worker built stage "${spec.stage}" with other params or version than the coordinator (key ${key?.slice(0, 12)} ≠ ${spec.stageKey.slice(0, 12)}). Run the same code and recipe arguments on every machine.`,
      ),
    );
  }
  const tmp = `${spec.outDir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  await mkdir(tmp, { recursive: true });
  const task = new TaskRun(spec, stage, tmp, options);
  let result: TaskResult;
  try {
    await task.run();
    result = {
      id: spec.id,
      counts: task.counts,
      counters: task.counters,
      ...(task.stats ? { stats: task.stats } : {}),
      records: task.written,
      ...(task.files.length ? { files: [...task.files].sort() } : {}),
      worker: options.worker ?? `${hostname()}:${process.pid}`,
      seconds: (performance.now() - startedAt) / 1000,
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    await writeJson(join(tmp, RESULT_FILE), result);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  try {
    await rename(tmp, spec.outDir);
  } catch (error) {
    // Another worker finished the same task first (a re-delivered task): its output is the same, keep it.
    const code = (error as NodeJS.ErrnoException).code;
    await rm(tmp, { recursive: true, force: true });
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
    const other = await readResult(spec.outDir);
    if (other?.id !== spec.id) throw new DataError("pipeline", `task ${spec.id}: ${spec.outDir} holds another task's output (${other?.id ?? "no result.json"}); it is removed on the next try`);
    return other;
  }
  return result;
}

/**
 * Whether trying a task again can help. A strict-mode reject and a worker building other stages than the coordinator
 * fail the same way on every try.
 */
export function isRetryable(error: unknown): boolean {
  return !(error instanceof StrictModeError) && (error as { retryable?: boolean } | null)?.retryable !== false;
}

function notRetryable<E extends Error>(error: E): E & { retryable: false } {
  return Object.assign(error, { retryable: false as const });
}

/** The result of a complete task directory, or undefined. */
export async function readResult(dir: string): Promise<TaskResult | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, RESULT_FILE), "utf8")) as TaskResult;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw new DataError("pipeline", `task directory "${dir}" has an unreadable ${RESULT_FILE}: ${(error as Error).message}. Delete the directory to redo the task.`, { cause: error });
  }
}

type Counted = (records: AsyncIterable<unknown>, keep?: boolean) => AsyncIterable<unknown>;

class TaskRun {
  counts: TaskResult["counts"] = { in: 0, out: 0, rejected: 0, deduplicated: 0, rejectedByReason: {} };
  counters: Record<string, number> = {};
  stats: Record<string, unknown> | undefined;
  written = 0;
  /** Rows and decisions files written, for the result (readers then know which files must exist). */
  files: string[] = [];

  constructor(
    private readonly spec: TaskSpec,
    private readonly stage: AnyStage,
    private readonly dir: string,
    private readonly options: RunTaskOptions,
  ) {}

  private get plan(): GlobalShardPlan<unknown, unknown> {
    const plan = this.stage.sharding;
    if (plan?.kind !== "global") throw new DataError("pipeline", `task ${this.spec.id}: stage "${this.stage.name}" has no global sharding plan for phase "${this.spec.phase}"`);
    return plan as GlobalShardPlan<unknown, unknown>;
  }

  async run(): Promise<void> {
    switch (this.spec.phase) {
      case "whole":
      case "records":
        return this.withOutput(
          async function* (this: TaskRun, ctx: StageContext, counted: Counted) {
            yield* this.stage.run(counted(this.records()), ctx);
            this.stats = (await this.stage.finish?.()) ?? {};
          }.bind(this),
        );
      case "prepare": {
        const prepared = await this.plan.prepare!(() => this.decoded(), this.phaseContext());
        this.stats = prepared.stats;
        return writeJson(join(this.dir, STATE_FILE), { state: prepared.state });
      }
      case "map":
        return this.map();
      case "reduce":
      case "merge":
        return this.reduce();
      case "apply":
        return this.apply();
    }
  }

  private async state(): Promise<unknown> {
    const dir = this.spec.deps?.prepare;
    if (!dir) return undefined;
    return (JSON.parse(await readFile(join(dir, STATE_FILE), "utf8")) as { state: unknown }).state;
  }

  private records(): AsyncIterable<unknown> {
    return inputsOf(this.spec);
  }

  /** The stage input without the records the first stage rejects (for phases that do not reject). */
  private async *decoded(): AsyncGenerator<unknown> {
    for await (const record of this.records()) if (!(record instanceof DecodeFailure)) yield record;
  }

  private async *positioned(records: AsyncIterable<unknown>): AsyncGenerator<Positioned<unknown>> {
    let offset = 0;
    const split = this.spec.split ?? 0;
    for await (const record of records) yield { record, position: positionOf(split, offset++) };
  }

  private async map(): Promise<void> {
    const partitions = this.spec.partitions ?? 1;
    const files = new Map<number, RowFile>();
    const emit = (partition: number, row: unknown) => {
      if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
        throw new DataError("pipeline", `stage "${this.stage.name}" map emitted to partition ${partition}; expected an integer in [0, ${partitions})`);
      }
      let file = files.get(partition);
      if (!file) {
        files.set(partition, (file = new RowFile(join(this.dir, `rows-${partition}.jsonl`))));
        this.files.push(`rows-${partition}.jsonl`);
      }
      file.push(JSON.stringify(row));
    };
    // Positions count every input record, rejected or not, so map and apply agree on them.
    const records = this.positioned(this.records());
    const valid = async function* () {
      for await (const p of records) if (!(p.record instanceof DecodeFailure)) yield p;
    };
    try {
      await this.plan.map!(valid(), emit, await this.state(), this.phaseContext());
    } finally {
      await closeAll(files.values());
    }
  }

  private async reduce(): Promise<void> {
    const state = await this.state();
    const ctx = this.phaseContext();
    const dirs = this.spec.deps?.rows ?? this.spec.deps?.decisions ?? [];
    const out =
      this.spec.phase === "reduce"
        ? await this.plan.reduce!(readTaskFiles(dirs, `rows-${this.spec.index}.jsonl`), this.spec.index, state, ctx)
        : await this.plan.merge!(readDecisionFiles(dirs) as AsyncIterable<[number, unknown]>, state, ctx);
    this.stats = out.stats;
    const files = new Map<number, RowFile>();
    try {
      for (const [position, decision] of out.decisions) {
        const split = Math.floor(position / POSITION_TASK_STRIDE);
        let file = files.get(split);
        if (!file) {
          files.set(split, (file = new RowFile(join(this.dir, `decisions-${split}.jsonl`))));
          this.files.push(`decisions-${split}.jsonl`);
        }
        file.push(JSON.stringify([position, decision]));
      }
    } finally {
      await closeAll(files.values());
    }
  }

  private async apply(): Promise<void> {
    const decisions = new Map<number, unknown>();
    const split = this.spec.split ?? 0;
    for await (const [position, decision] of readTaskFiles(this.spec.deps?.decisions ?? [], `decisions-${split}.jsonl`) as AsyncIterable<[number, unknown]>) {
      decisions.set(position, decision);
    }
    const state = await this.state();
    const plan = this.plan;
    await this.withOutput(async function* (this: TaskRun, ctx: StageContext, counted: Counted) {
      // Rejected inputs keep their position (the map saw the same numbering) but never reach `apply`.
      const records = this.positioned(counted(this.records(), true));
      const valid = async function* () {
        for await (const p of records) if (!(p.record instanceof DecodeFailure)) yield p;
      };
      yield* plan.apply(valid(), (position) => decisions.get(position), state, ctx);
      this.stats = plan.applyStats?.() ?? {};
    }.bind(this));
  }

  private phaseContext(): PhaseContext {
    return {
      count: (name, by = 1) => {
        this.counters[name] = (this.counters[name] ?? 0) + by;
      },
      logger: silentLogger,
      progress: noProgress,
      signal: this.options.signal ?? new AbortController().signal,
      cacheDir: join(this.spec.runDir, ".cache", this.spec.stage),
      seed: this.spec.seed,
    };
  }

  /**
   * Runs `body` with a stage context whose rejects and duplicates go to the task's logs, writing what it yields to
   * `out.jsonl`. `counted` counts inputs and rejects the first stage's decode failures (or, with `keep`, passes them
   * on for the caller to skip, so positions still count them).
   */
  private async withOutput(body: (ctx: StageContext, counted: Counted) => AsyncIterable<unknown>): Promise<void> {
    const rejects = await AppendLog.open(join(this.dir, TASK_REJECTS));
    const duplicates = await AppendLog.open(join(this.dir, TASK_DUPLICATES));
    const out = new RowFile(join(this.dir, OUT_FILE));
    const stageName = this.stage.name;
    const counts = this.counts;
    const ctx: StageContext = {
      ...this.phaseContext(),
      reject: (record, code, message, extra) => {
        counts.rejected++;
        counts.rejectedByReason[code] = (counts.rejectedByReason[code] ?? 0) + 1;
        const entry: RejectEntry = { code, message, stage: stageName, ...extra, record };
        if (!entry.loc) entry.loc = locOf(record);
        if (this.spec.strict) throw new StrictModeError(entry);
        rejects.append(entry);
      },
      duplicate: (record, duplicateOf) => {
        counts.deduplicated++;
        duplicates.append({ id: record.id, duplicateOf, stage: stageName, loc: locOf(record) });
      },
    };
    const counted = async function* (records: AsyncIterable<unknown>, keep = false) {
      for await (const record of records) {
        counts.in++;
        if (record instanceof DecodeFailure) {
          ctx.reject(record.raw, record.raw.code, record.raw.message, { loc: record.raw.loc });
          if (!keep) continue;
        }
        yield record;
      }
    };
    try {
      for await (const record of body(ctx, counted)) {
        this.options.signal?.throwIfAborted();
        const serialized = serializeOutput(record);
        if ("reject" in serialized) {
          const { record: bounded, code, message, loc } = serialized.reject;
          ctx.reject(bounded, code, message, { loc });
          continue;
        }
        counts.out++;
        this.written++;
        out.push(serialized.line);
      }
    } finally {
      await closeAll([out, rejects, duplicates]);
    }
    if (counts.in !== counts.out + counts.rejected + counts.deduplicated) {
      throw new DataError(
        "pipeline",
        `stage "${stageName}" lost track of records in task ${this.spec.id}: in=${counts.in} but out=${counts.out} + rejected=${counts.rejected} + deduplicated=${counts.deduplicated}. This is a bug in the stage: every input must be yielded, rejected or marked duplicate.`,
      );
    }
  }
}

/** Closes every file even when one fails; rethrows the first failure. */
async function closeAll(files: Iterable<{ close(): Promise<unknown> }>): Promise<void> {
  const failed = (await Promise.allSettled([...files].map((f) => f.close()))).find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** The records of a task's inputs, in order. */
async function* inputsOf(spec: TaskSpec): AsyncGenerator<unknown> {
  for (const input of spec.inputs ?? []) yield* readTaskInput(input, { decode: spec.source?.decode, readOptions: spec.source?.readOptions as ReadOptions | undefined });
}

/**
 * The lines of file `name` in each task directory, in order, parsed. A directory whose result does not list the file
 * wrote none (a map that emitted nothing to a partition); a listed file that cannot be seen is an error, never "no
 * rows": on a shared file system with a stale view, skipping it would keep duplicates without a word.
 */
async function* readTaskFiles(dirs: string[], name: string): AsyncGenerator<unknown> {
  for (const dir of dirs) {
    const listed = await listedFiles(dir);
    if (listed && !listed.includes(name)) continue;
    const path = join(dir, name);
    if (!existsSync(path)) {
      if (!listed) continue;
      throw new DataError("pipeline", `${path} is listed in ${join(dir, RESULT_FILE)} but cannot be read here (a stale view of the shared directory, or a deleted file); the task is retried`);
    }
    yield* readLinesOf(path);
  }
}

/** The files a finished task says it wrote; undefined for a result without the list. */
async function listedFiles(dir: string): Promise<string[] | undefined> {
  const result = await readResult(dir);
  if (!result) throw new DataError("pipeline", `${dir} has no ${RESULT_FILE}: the task it depends on is not finished, or not visible here; the task is retried`);
  return result.files ?? undefined;
}

async function* readLinesOf(path: string): AsyncGenerator<unknown> {
  for await (const raw of readJsonl(path, { maxDepth: Number.POSITIVE_INFINITY })) {
    if (!raw.ok) throw new DataError("pipeline", `task file ${path} is corrupt at line ${raw.loc.line}: ${raw.message}. Delete its task directory to redo the task.`);
    yield raw.value;
  }
}

/** Every decisions file of the given task directories: directories in order, each one's splits in ascending order. */
async function* readDecisionFiles(dirs: string[]): AsyncGenerator<unknown> {
  for (const dir of dirs) {
    const names = (await listedFiles(dir)) ?? (await readdir(dir));
    const splits = names
      .map((f) => /^decisions-(\d+)\.jsonl$/.exec(f)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const split of splits) yield* readLinesOf(join(dir, `decisions-${split}.jsonl`));
  }
}

/**
 * A JSONL file written in 1 MiB batches, encoded straight into a buffer (joining strings and writing them costs a
 * task about a quarter of its time). The file exists once its first batch is written or it is closed.
 */
class RowFile {
  private batch = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private handle: Promise<FileHandle> | undefined;
  private writes: Promise<unknown> = Promise.resolve();
  private failure: unknown;

  constructor(private readonly path: string) {}

  push(line: string): void {
    // A UTF-8 character takes at most 3 bytes per UTF-16 unit.
    if (this.used + line.length * 3 + 1 > this.batch.length) {
      this.flush();
      if (line.length * 3 + 1 > this.batch.length) this.batch = Buffer.allocUnsafe(line.length * 3 + 1);
    }
    this.used += this.batch.write(line, this.used);
    this.batch[this.used++] = 0x0a;
  }

  private flush(): void {
    if (this.used === 0) return;
    const bytes = this.batch.subarray(0, this.used);
    this.batch = Buffer.allocUnsafe(this.batch.length);
    this.used = 0;
    this.handle ??= open(this.path, "w");
    const handle = this.handle;
    // Observed here, rethrown by close(): a failed write never surfaces as an unhandled rejection.
    this.writes = this.writes.then(async () => (await handle).write(bytes)).catch((error: unknown) => {
      this.failure ??= error;
    });
  }

  async close(): Promise<void> {
    this.flush();
    this.handle ??= open(this.path, "w");
    await this.writes;
    const handle = await this.handle;
    await handle.close();
    if (this.failure) throw this.failure;
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const handle = await open(path, "w");
  try {
    await handle.writeFile(`${JSON.stringify(value)}\n`);
  } finally {
    await handle.close();
  }
}
