import { createReadStream, existsSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DataError } from "../../errors.js";
import type { InputFile, ReadOptions } from "../../readers/types.js";
import { ShardedJsonlWriter, type ShardInfo } from "../../writers/shardedJsonlWriter.js";
import { canonicalJson, sha256Hex } from "../canonicalJson.js";
import { fingerprints } from "../keys.js";
import { completeManifest, type StageCounts, type StageManifest, stageSummaryLine, writeJsonFile } from "../manifest.js";
import type { GlobalShardPlan, Logger, ProgressReporter } from "../types.js";
import { planSplits } from "./inputs.js";
import type { AnyStage } from "./recipe.js";
import { OUT_FILE, TASK_DUPLICATES, TASK_REJECTS } from "./runTask.js";
import { stageStats } from "./stats.js";
import type { Executor, PipelineRecipe, TaskInput, TaskPhase, TaskResult, TaskSpec } from "./types.js";

export interface ShardedStageOptions {
  stage: AnyStage;
  stageIndex: number;
  dir: string;
  key: string;
  inputKey: string;
  sourceKey: string;
  runDir: string;
  recipe: PipelineRecipe;
  executor: Executor;
  input:
    | { kind: "source"; files: InputFile[]; decode?: "raw" | "samples"; readOptions?: ReadOptions }
    | { kind: "shards"; dir: string; shards: ShardInfo[] };
  seed: number;
  strict: boolean;
  shard: { maxRecords?: number; maxBytes?: number; fsync?: boolean };
  signal: AbortSignal;
  logger: Logger;
  progress: ProgressReporter;
  /** A reporter per worker (its tasks and records/s on the progress line); called once per worker seen. */
  workerProgress?: (worker: string) => ProgressReporter;
  versions: Record<string, string>;
  inputs?: StageManifest["inputs"];
  /** Discard the finished tasks of an interrupted run of this stage. */
  force?: boolean;
  /** Bytes of source per split. @default the source's size over 4 splits per worker, within [1 MiB, 128 MiB] */
  splitBytes?: number;
}

/** What the manifest records about a sharded run. */
export interface ExecutionRecord {
  executor: string;
  workers: number;
  tasks: Partial<Record<TaskPhase, number>>;
  splits: number;
  partitions?: number;
  /** Per worker: tasks, records read and seconds spent in tasks. */
  perWorker: Record<string, { tasks: number; records: number; seconds: number; recordsPerSecond: number; peakRssMB?: number }>;
  /** Tries that failed and were retried (a killed worker, a lost connection). */
  retries: number;
}

const TASKS_DIR = ".tasks";
const PLAN_FILE = "plan.json";
/** `.tasks/progress.json`: tasks done/total, records/s, ETA and per-worker figures while the stage runs. */
const PROGRESS_FILE = "progress.json";

/**
 * Runs one stage as tasks on an executor: plans splits (kept in `.tasks/plan.json` so a restarted coordinator finds
 * the same tasks and their finished directories), runs the phases the stage's sharding plan has, then concatenates
 * the task outputs into the stage's usual shards, rejects and duplicates, byte for byte what a `local` run writes.
 */
export async function runShardedStage(o: ShardedStageOptions): Promise<StageManifest> {
  const startedAt = Date.now();
  const { stage, dir } = o;
  const tasksDir = join(dir, TASKS_DIR);
  const { splits, resumed } = await loadOrPlanSplits(o, tasksDir);
  const plan = stage.sharding;
  const record: ExecutionRecord = { executor: o.executor.name, workers: o.executor.workers, tasks: {}, splits: splits.length, perWorker: {}, retries: 0 };
  const totalTasks = countTasks(plan, splits.length);
  let doneTasks = 0;
  let doneRecords = 0;
  o.progress.start(totalTasks, "tasks");
  const workerBars = new Map<string, ProgressReporter>();
  // Live figures for whoever watches the run from elsewhere (the manifest is written only at the end).
  let lastSnapshot = 0;
  const snapshot = async (force = false) => {
    if (!force && Date.now() - lastSnapshot < 1000) return;
    lastSnapshot = Date.now();
    const seconds = (Date.now() - startedAt) / 1000;
    const rate = seconds > 0 ? doneRecords / seconds : 0;
    const eta = doneTasks > 0 ? ((totalTasks - doneTasks) * seconds) / doneTasks : undefined;
    await writeFile(
      join(tasksDir, PROGRESS_FILE),
      `${JSON.stringify({ stage: stage.name, tasks: { done: doneTasks, total: totalTasks }, records: doneRecords, recordsPerSecond: Math.round(rate), etaSeconds: eta === undefined ? null : Math.round(eta), execution: record, updatedAt: new Date().toISOString() })}\n`,
    ).catch(() => {});
  };
  const run = async (phase: TaskPhase, specs: Array<Omit<TaskSpec, "id" | "runDir" | "stage" | "stageIndex" | "stageKey" | "recipe" | "phase" | "outDir" | "seed" | "strict" | "sourceKey">>) => {
    record.tasks[phase] = (record.tasks[phase] ?? 0) + specs.length;
    const tasks: TaskSpec[] = specs.map((s) => {
      const name = `${phase}-${String(s.index).padStart(5, "0")}`;
      return {
        ...s,
        id: `${stage.name}/${name}@${o.key.slice(0, 16)}`,
        runDir: o.runDir,
        stage: stage.name,
        stageIndex: o.stageIndex,
        stageKey: o.key,
        sourceKey: o.sourceKey,
        recipe: o.recipe,
        phase,
        outDir: join(tasksDir, name),
        seed: o.seed,
        strict: o.strict,
        ...(o.input.kind === "source" ? { source: { decode: o.input.decode ?? "raw", ...(o.input.readOptions ? { readOptions: jsonReadOptions(o.input.readOptions) } : {}) } } : {}),
      };
    });
    const results = await o.executor.execute(tasks, {
      signal: o.signal,
      onEvent: (event) => {
        if (event.error) {
          if (!event.error.final) record.retries++;
          o.logger.warn(`${stage.name}: task ${event.task.phase}-${event.task.index} failed (try ${event.error.attempt}${event.error.final ? ", giving up" : ", retrying"}): ${event.error.message}`);
          return;
        }
        const r = event.result!;
        const w = (record.perWorker[r.worker] ??= { tasks: 0, records: 0, seconds: 0, recordsPerSecond: 0 });
        w.tasks++;
        w.records += r.counts.in;
        w.seconds += r.seconds;
        w.recordsPerSecond = w.seconds > 0 ? Math.round(w.records / w.seconds) : 0;
        if (r.peakRssMB !== undefined) w.peakRssMB = Math.max(w.peakRssMB ?? 0, r.peakRssMB);
        doneRecords += r.counts.in;
        o.progress.update(++doneTasks, doneRecords);
        if (o.workerProgress) {
          let bar = workerBars.get(r.worker);
          if (!bar) {
            bar = o.workerProgress(r.worker);
            bar.start(undefined, "tasks");
            workerBars.set(r.worker, bar);
          }
          bar.update(w.tasks, w.records);
        }
        void snapshot();
      },
    });
    return { tasks, results };
  };

  let outputs: { tasks: TaskSpec[]; results: TaskResult[] };
  const statsParts: Parameters<typeof stageStats>[1] = { reduce: [], apply: [] };
  const counters: Record<string, number> = {};
  const addCounters = (results: TaskResult[]) => {
    for (const r of results) for (const [k, v] of Object.entries(r.counters)) counters[k] = (counters[k] ?? 0) + v;
  };
  try {
    if (!plan) {
      outputs = await run("whole", [{ index: 0, inputs: splits }]);
    } else if (plan.kind === "records") {
      outputs = await run("records", splits.map((input, index) => ({ index, inputs: [input], split: index })));
      statsParts.apply = outputs.results.map((r) => r.stats ?? {});
    } else {
      const global = plan as GlobalShardPlan<unknown, unknown>;
      if (global.map && !global.reduce) throw new DataError("pipeline", `stage "${stage.name}": a sharding plan with map needs reduce`);
      let prepareDir: string | undefined;
      if (global.prepare) {
        const prepared = await run("prepare", [{ index: 0, inputs: splits }]);
        prepareDir = prepared.tasks[0]!.outDir;
        statsParts.prepare = prepared.results[0]!.stats;
        addCounters(prepared.results);
      }
      const deps = prepareDir ? { prepare: prepareDir } : {};
      let decisionDirs: string[] = [];
      if (global.map) {
        const partitions = global.partitions ?? 1;
        record.partitions = partitions;
        const mapped = await run("map", splits.map((input, index) => ({ index, inputs: [input], split: index, partitions, deps })));
        addCounters(mapped.results);
        const rowDirs = mapped.tasks.map((t) => t.outDir);
        const reduced = await run(
          "reduce",
          Array.from({ length: partitions }, (_, index) => ({ index, partitions, deps: { ...deps, rows: rowDirs } })),
        );
        addCounters(reduced.results);
        statsParts.reduce = reduced.results.map((r) => r.stats ?? {});
        decisionDirs = reduced.tasks.map((t) => t.outDir);
        if (global.merge) {
          const merged = await run("merge", [{ index: 0, deps: { ...deps, decisions: decisionDirs } }]);
          addCounters(merged.results);
          statsParts.merge = merged.results[0]!.stats;
          decisionDirs = [merged.tasks[0]!.outDir];
        }
      }
      outputs = await run("apply", splits.map((input, index) => ({ index, inputs: [input], split: index, deps: { ...deps, decisions: decisionDirs } })));
      statsParts.apply = outputs.results.map((r) => r.stats ?? {});
    }
  } finally {
    o.progress.stop();
    for (const bar of workerBars.values()) bar.stop();
  }
  addCounters(outputs.results);

  const counts: StageCounts = { in: 0, out: 0, rejected: 0, deduplicated: 0, rejectedByReason: {} };
  for (const r of outputs.results) {
    counts.in += r.counts.in;
    counts.out += r.counts.out;
    counts.rejected += r.counts.rejected;
    counts.deduplicated += r.counts.deduplicated;
    for (const [code, n] of Object.entries(r.counts.rejectedByReason)) counts.rejectedByReason[code] = (counts.rejectedByReason[code] ?? 0) + n;
  }
  if (counts.in !== counts.out + counts.rejected + counts.deduplicated) {
    throw new DataError("pipeline", `stage "${stage.name}" lost track of records: in=${counts.in} but out=${counts.out} + rejected=${counts.rejected} + deduplicated=${counts.deduplicated}`);
  }
  const stats = plan ? stageStats(plan as never, statsParts) : (outputs.results[0]?.stats ?? {});
  const outDirs = outputs.tasks.map((t) => t.outDir);
  const shards = await commitOutputs(dir, outDirs, o.shard);
  await concatFiles(outDirs.map((d) => join(d, TASK_REJECTS)), join(dir, "rejects.jsonl"));
  await concatFiles(outDirs.map((d) => join(d, TASK_DUPLICATES)), join(dir, "duplicates.jsonl"));

  const manifest = completeManifest({
    stage,
    key: o.key,
    inputKey: o.inputKey,
    ...(o.inputs ? { inputs: o.inputs } : {}),
    counts,
    counters,
    stats,
    shards,
    startedAt,
    resumed,
    versions: o.versions,
    execution: record,
  });
  await writeJsonFile(join(dir, "manifest.json"), manifest);
  await removeTasksDir(dir, o.logger);
  const workers = `${o.executor.workers} ${o.executor.name} worker${o.executor.workers === 1 ? "" : "s"}`;
  o.logger.info(stageSummaryLine(stage.name, counts, manifest.timings.seconds, ` (${totalTasks} tasks on ${workers})`));
  return manifest;
}

function countTasks(plan: AnyStage["sharding"], splits: number): number {
  if (!plan) return 1;
  if (plan.kind === "records") return splits;
  const g = plan as GlobalShardPlan<unknown, unknown>;
  return (g.prepare ? 1 : 0) + (g.map ? splits + (g.partitions ?? 1) + (g.merge ? 1 : 0) : 0) + splits;
}

/** Only the JSON part of read options travels to workers (an AbortSignal does not). */
function jsonReadOptions(options: ReadOptions): Record<string, unknown> {
  const { signal: _signal, ...rest } = options;
  return rest as Record<string, unknown>;
}

/**
 * The stage's splits: those of an earlier coordinator of the same stage key when present (so its finished task
 * directories stay valid), else new ones; everything else in the stage directory is cleared.
 */
async function loadOrPlanSplits(o: ShardedStageOptions, tasksDir: string): Promise<{ splits: TaskInput[]; resumed: boolean }> {
  const planPath = join(tasksDir, PLAN_FILE);
  // The input's own fingerprint too: an upstream stage rerun (same key, --force) may have rewritten its shards, and the
  // saved byte ranges would then cut the new files at the old offsets.
  const input = sha256Hex(canonicalJson(o.input.kind === "source" ? fingerprints(o.input.files) : o.input.shards.map((s) => [s.file, s.bytes, s.sha256])));
  const saved = o.force
    ? undefined
    : await readFile(planPath, "utf8").then(
        (text) => JSON.parse(text) as { key: string; input: string; splits: TaskInput[] },
        () => undefined,
      );
  await mkdir(o.dir, { recursive: true });
  const keep = saved?.key === o.key && saved.input === input;
  for (const entry of await readdir(o.dir)) {
    if (keep && entry === TASKS_DIR) continue;
    await rm(join(o.dir, entry), { recursive: true, force: true, maxRetries: 3 });
  }
  if (keep) {
    o.logger.info(`${o.stage.name}: resuming ${o.executor.name} run (finished tasks are kept)`);
    return { splits: saved.splits, resumed: true };
  }
  const totalBytes = o.input.kind === "source" ? o.input.files.reduce((n, f) => n + f.size, 0) : o.input.shards.reduce((n, s) => n + s.bytes, 0);
  const splitBytes = o.splitBytes ?? Math.min(128 << 20, Math.max(1 << 20, Math.ceil(totalBytes / Math.max(1, o.executor.workers * 4))));
  let splits = await planSplits(o.input.kind === "source" ? { kind: "source", files: o.input.files, format: o.input.readOptions?.format } : o.input, splitBytes);
  // An empty input still runs one task, so the stage's stats are those of a run over nothing (as `local` writes them).
  if (splits.length === 0) splits = [{ kind: "shards", dir: o.dir, files: [] }];
  await mkdir(tasksDir, { recursive: true });
  const tmp = `${planPath}.tmp`;
  await writeFile(tmp, canonicalJson({ key: o.key, input, splits }));
  await rm(planPath, { force: true });
  await rename(tmp, planPath);
  return { splits, resumed: false };
}

/**
 * Removes a stage's `.tasks/` once its manifest is written (or found complete after a crash that came between the two).
 * A worker still writing a stale task there can make it fail: that costs disk, not correctness, so it only warns.
 */
export async function removeTasksDir(stageDir: string, logger: Logger): Promise<void> {
  const tasksDir = join(stageDir, TASKS_DIR);
  if (!existsSync(tasksDir)) return;
  await rm(tasksDir, { recursive: true, force: true, maxRetries: 3 }).catch((error: Error) => {
    logger.warn(`cannot remove ${tasksDir} (${error.message}); it holds only task files of a finished stage and may be deleted`);
  });
}

/**
 * Re-cuts the tasks' `out.jsonl` files, in order, into the stage's shards (the same cut a `local` run makes). Lines are
 * moved as bytes: decoding and re-encoding them cost the coordinator ~5× more, serially, at every stage.
 */
async function commitOutputs(dir: string, taskDirs: string[], shard: ShardedStageOptions["shard"]): Promise<ShardInfo[]> {
  const writer = new ShardedJsonlWriter({ dir, maxRecords: shard.maxRecords, maxBytes: shard.maxBytes, fsync: shard.fsync });
  for (const taskDir of taskDirs) {
    let rest: Buffer | undefined;
    for await (const chunk of createReadStream(join(taskDir, OUT_FILE), { highWaterMark: 1 << 20 })) {
      const buf = chunk as Buffer;
      let start = 0;
      let nl = buf.indexOf(0x0a);
      if (rest) {
        if (nl === -1) {
          rest = Buffer.concat([rest, buf]);
          continue;
        }
        await writer.writeLineBytes(Buffer.concat([rest, buf.subarray(0, nl)]));
        rest = undefined;
        start = nl + 1;
        nl = buf.indexOf(0x0a, start);
      }
      while (nl !== -1) {
        await writer.writeLineBytes(buf.subarray(start, nl));
        start = nl + 1;
        nl = buf.indexOf(0x0a, start);
      }
      if (start < buf.length) rest = Buffer.from(buf.subarray(start));
    }
    if (rest?.length) await writer.writeLineBytes(rest);
  }
  return writer.close();
}

async function concatFiles(parts: string[], target: string): Promise<void> {
  const out = await open(target, "w");
  try {
    for (const part of parts) {
      if (!existsSync(part)) continue;
      for await (const chunk of createReadStream(part, { highWaterMark: 1 << 20 })) await out.write(chunk as Buffer);
    }
  } finally {
    await out.close();
  }
}
