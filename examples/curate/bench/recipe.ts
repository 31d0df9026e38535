// The executor benchmark's pipeline: normalize → exact dedup → benchmark decontamination (the per-record and the
// whole-data-set stages of InfiAlign's curation that dominate its cost on a large pool).
import { exactDedupStage, normalizeStage } from "@infialign/data";
import { benchmarkDecontamStage, loadShippedBenchmarks } from "@infialign/decontam";

export async function stages() {
  return [normalizeStage(), exactDedupStage(), benchmarkDecontamStage(await loadShippedBenchmarks())];
}
