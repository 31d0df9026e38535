import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** The parts of a stage manifest that must not depend on who ran the stage (not its timings or `execution`). */
interface ManifestLike {
  key: string;
  counts: unknown;
  counters: unknown;
  stats: unknown;
  shards: Array<{ file: string; records: number; bytes: number; sha256: string }>;
}

/**
 * Every file of every stage directory of a pipeline run, hashed, with manifests reduced to what must be the same
 * whichever executor ran the stage: two runs that must agree byte for byte compare equal.
 */
export async function runSnapshot(result: { stages: ReadonlyArray<{ name: string; dir: string }> }): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const stage of result.stages) {
    for (const file of (await readdir(stage.dir)).sort()) {
      if (file.startsWith(".")) continue;
      const bytes = await readFile(join(stage.dir, file));
      if (file === "manifest.json") {
        const m = JSON.parse(bytes.toString("utf8")) as ManifestLike;
        out[`${stage.name}/${file}`] = JSON.stringify({ counts: m.counts, counters: m.counters, stats: m.stats, shards: m.shards.map((s) => [s.file, s.records, s.bytes, s.sha256]), key: m.key });
      } else {
        out[`${stage.name}/${file}`] = createHash("sha256").update(bytes).digest("hex");
      }
    }
  }
  return out;
}
