import { readFile } from "node:fs/promises";
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
}

export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}

export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
