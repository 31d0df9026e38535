import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { DataError } from "../errors.js";
import { writeFileAtomic } from "../writers/atomic.js";
import type { ShardInfo } from "../writers/shardedJsonlWriter.js";

export interface StageCounts {
  in: number;
  out: number;
  rejected: number;
  deduplicated: number;
  rejectedByReason: Record<string, number>;
}

/** Written atomically after every complete output shard; a crash resumes from here. */
export interface StageCheckpoint {
  key: string;
  shards: ShardInfo[];
  counts: StageCounts;
  /** Inputs pulled by the stage when the last shard closed. */
  inputConsumed: number;
  rejectsBytes: number;
  duplicatesBytes: number;
  counters: Record<string, number>;
}

export interface StageManifest {
  stage: string;
  version: string;
  status: "complete";
  /** Hash of the source fingerprints and every stage's name, version and params up to this one. */
  key: string;
  inputKey: string;
  params: unknown;
  inputs?: Array<{ path: string; size: number; mtimeMs: number }>;
  counts: StageCounts;
  /** `in = out + rejected + deduplicated`, checked before the manifest is written. */
  accounting: { identity: "in = out + rejected + deduplicated"; balanced: true };
  counters: Record<string, number>;
  stats: Record<string, unknown>;
  shards: ShardInfo[];
  files: { rejects: string; duplicates: string };
  timings: { startedAt: string; finishedAt: string; seconds: number; recordsPerSecond: number; resumed: boolean };
  versions: Record<string, string>;
  /** Set when an executor other than `local` ran the stage: which one, how many workers and tasks, per-worker rates. */
  execution?: import("./executor/shardedStage.js").ExecutionRecord;
}

/**
 * Reads a JSON file the runtime wrote (manifest, checkpoint). Absent (ENOENT, or a parent
 * that is a file): undefined. Present but unreadable, not JSON, or not the expected shape
 * (`check` returns what is wrong): a DataError naming the file and what was expected,
 * never a silent "absent", which would quietly rerun or skip work.
 */
export async function readJsonFile<T>(path: string, what = "JSON file", check?: (value: unknown) => string | undefined): Promise<T | undefined> {
  const fix = `Delete it (or its stage directory "${dirname(path)}") and rerun the stage that writes it, or rerun with --force.`;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new DataError("manifest", `cannot read the ${what} "${path}" (${code ?? (error as Error).message}). Fix its permissions, or: ${fix}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DataError("manifest", `the ${what} "${path}" is corrupt: expected JSON, ${(error as Error).message}. ${fix}`, { cause: error });
  }
  const problem = check?.(value);
  if (problem) throw new DataError("manifest", `the ${what} "${path}" is corrupt: ${problem}. ${fix}`);
  return value as T;
}

/** What is wrong with a parsed stage manifest, or undefined. */
export function manifestProblem(value: unknown): string | undefined {
  if (!isObject(value)) return `expected an object, got ${describe(value)}`;
  return (
    fieldProblem(value, "stage", "string") ??
    (value.status === "complete" ? undefined : `expected "status": "complete", got ${describe(value.status)}`) ??
    fieldProblem(value, "key", "string") ??
    countsProblem(value.counts) ??
    shardsProblem(value.shards)
  );
}

/** What is wrong with a parsed stage checkpoint, or undefined. */
export function checkpointProblem(value: unknown): string | undefined {
  if (!isObject(value)) return `expected an object, got ${describe(value)}`;
  return (
    fieldProblem(value, "key", "string") ??
    fieldProblem(value, "inputConsumed", "number") ??
    fieldProblem(value, "rejectsBytes", "number") ??
    fieldProblem(value, "duplicatesBytes", "number") ??
    countsProblem(value.counts) ??
    shardsProblem(value.shards)
  );
}

export function readManifest(path: string): Promise<StageManifest | undefined> {
  return readJsonFile<StageManifest>(path, "stage manifest", manifestProblem);
}

export function readCheckpoint(path: string): Promise<StageCheckpoint | undefined> {
  return readJsonFile<StageCheckpoint>(path, "stage checkpoint", checkpointProblem);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return value === undefined ? "nothing" : value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : typeof value;
}

function fieldProblem(value: Record<string, unknown>, field: string, type: "string" | "number"): string | undefined {
  return typeof value[field] === type ? undefined : `expected "${field}" to be a ${type}, got ${describe(value[field])}`;
}

function countsProblem(counts: unknown): string | undefined {
  if (!isObject(counts)) return `expected "counts" to be an object, got ${describe(counts)}`;
  for (const field of ["in", "out", "rejected", "deduplicated"]) {
    if (typeof counts[field] !== "number") return `expected "counts.${field}" to be a number, got ${describe(counts[field])}`;
  }
  return undefined;
}

function shardsProblem(shards: unknown): string | undefined {
  if (!Array.isArray(shards)) return `expected "shards" to be an array, got ${describe(shards)}`;
  for (const [i, shard] of shards.entries()) {
    if (!isObject(shard) || typeof shard.file !== "string" || typeof shard.records !== "number" || typeof shard.bytes !== "number") {
      return `expected "shards[${i}]" to be { file, records, bytes }, got ${JSON.stringify(shard)?.slice(0, 80)}`;
    }
  }
  return undefined;
}

export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** What a finished stage run knows about itself; {@link completeManifest} turns it into the manifest. */
export interface StageRunFacts {
  stage: { name: string; version?: string; params?: unknown };
  key: string;
  inputKey: string;
  inputs?: StageManifest["inputs"];
  counts: StageCounts;
  counters: Record<string, number>;
  stats: Record<string, unknown>;
  shards: ShardInfo[];
  startedAt: number;
  resumed: boolean;
  versions: Record<string, string>;
  execution?: StageManifest["execution"];
}

/** The manifest of a complete stage, the same shape whichever executor ran it. */
export function completeManifest(facts: StageRunFacts): StageManifest {
  const finishedAt = Date.now();
  const seconds = (finishedAt - facts.startedAt) / 1000;
  const nIn = facts.counts.in;
  return {
    stage: facts.stage.name,
    version: facts.stage.version ?? "1",
    status: "complete",
    key: facts.key,
    inputKey: facts.inputKey,
    params: facts.stage.params ?? null,
    ...(facts.inputs ? { inputs: facts.inputs } : {}),
    counts: facts.counts,
    accounting: { identity: "in = out + rejected + deduplicated", balanced: true },
    counters: facts.counters,
    stats: facts.stats,
    shards: facts.shards,
    files: { rejects: "rejects.jsonl", duplicates: "duplicates.jsonl" },
    timings: {
      startedAt: new Date(facts.startedAt).toISOString(),
      finishedAt: new Date(finishedAt).toISOString(),
      seconds,
      recordsPerSecond: seconds > 0 ? Math.round(nIn / seconds) : nIn,
      resumed: facts.resumed,
    },
    versions: { node: process.versions.node, ...facts.versions },
    ...(facts.execution ? { execution: facts.execution } : {}),
  };
}

/** The log line of a finished stage: its counts, rejects by reason and time. */
export function stageSummaryLine(name: string, counts: StageCounts, seconds: number, suffix = ""): string {
  const byReason = Object.entries(counts.rejectedByReason).map(([code, n]) => `${code}=${n}`).join(", ");
  return `${name}: in ${counts.in} → out ${counts.out}, rejected ${counts.rejected}${byReason ? ` (${byReason})` : ""}, deduplicated ${counts.deduplicated} in ${seconds.toFixed(1)}s${suffix}`;
}
