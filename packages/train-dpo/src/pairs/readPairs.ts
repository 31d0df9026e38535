import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MessageSchema, readShards, type StageManifest } from "@infialign/data";
import { z } from "zod";
import type { PreferenceRecord } from "./pairStage.js";

/** A preference record as the pair stage writes it; `meta` is kept as is (only `pass_rate` and `k` are checked). */
export const PreferenceRecordSchema = z.object({
  id: z.string().min(1),
  source: z.string(),
  domain: z.string().optional(),
  prompt: z.array(MessageSchema).min(1),
  chosen: z.array(MessageSchema).min(1),
  rejected: z.array(MessageSchema).min(1),
  meta: z.looseObject({ pass_rate: z.number().min(0).max(1), k: z.number().int().positive() }),
});

/**
 * The preference records of a finished pair stage (`<runDir>/dpo-pairs`), in output order, each validated. Fails when
 * the stage has no manifest (not run, or interrupted: rerun the pipeline to finish it).
 */
export async function* readPreferenceRecords(stageDir: string): AsyncGenerator<PreferenceRecord> {
  const manifestPath = join(stageDir, "manifest.json");
  let manifest: StageManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, "utf8")) as StageManifest;
  } catch (cause) {
    throw new Error(`[infialign/train-dpo] pairs: ${manifestPath} is missing or unreadable; the pair stage has not finished. Rerun the pipeline to complete it.`, { cause });
  }
  let n = 0;
  for await (const value of readShards(manifest.shards, stageDir)) {
    n++;
    const parsed = PreferenceRecordSchema.safeParse(value);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(record)"}: ${i.message}`).join("; ");
      throw new Error(`[infialign/train-dpo] pairs: record ${n} of ${stageDir} is not a preference record (${problems}).`);
    }
    yield value as PreferenceRecord;
  }
}
