import { resolve } from "node:path";
import type { InputFile, ReadOptions } from "../readers/types.js";
import { canonicalJson, sha256Hex } from "./canonicalJson.js";
import type { Stage } from "./types.js";

/** Key of the pipeline's source: its files' fingerprints, how they are decoded and read. */
export function sourceKeyOf(files: InputFile[], decode: "raw" | "samples" | undefined, readOptions: ReadOptions | undefined): string {
  return sha256Hex("source", decode ?? "raw", canonicalJson(fingerprints(files)), canonicalJson(readOptions ?? {}));
}

export function fingerprints(files: InputFile[]): Array<{ path: string; size: number; mtimeMs: number }> {
  return files.map((f) => ({ path: resolve(f.path), size: f.size, mtimeMs: f.mtimeMs }));
}

/** Each stage's key: its input's key chained with its name, version and params (change one and it reruns). */
export function stageKeys(sourceKey: string, stages: ReadonlyArray<Pick<Stage<unknown, unknown>, "name" | "version" | "params">>): string[] {
  let key = sourceKey;
  return stages.map((stage) => {
    key = sha256Hex(key, stage.name, stage.version ?? "1", canonicalJson(stage.params ?? null));
    return key;
  });
}
