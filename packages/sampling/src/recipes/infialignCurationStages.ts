import { exactDedupStage, normalizeStage } from "@infialign/data";
import { benchmarkDecontamStage } from "@infialign/decontam";
import { type NearDupStageOptions, nearDupStage } from "../select/stages/nearDupStage.js";
import { type QualityStageOptions, qualityStage } from "../select/stages/qualityStage.js";
import { type SelectStageOptions, selectStage } from "../select/stages/selectStage.js";

export interface InfialignCurationOptions {
  /** Benchmark items the pool is decontaminated against, e.g. `await loadShippedBenchmarks()` plus your own held-out split. */
  benchmarks: Parameters<typeof benchmarkDecontamStage>[0];
  /** Selection: `budget` (required), quotas, order, seed, tokenizer, embedder, `domainOf`, … (see `selectStage`). */
  select: SelectStageOptions;
  /** `normalizeStage` options (adapter, tokenizer, …). @default the stage's defaults */
  normalize?: Parameters<typeof normalizeStage>[0];
  /** `exactDedupStage` options. @default the stage's defaults (key: "content") */
  dedup?: Parameters<typeof exactDedupStage>[0];
  /** `benchmarkDecontamStage` options. @default the stage's defaults (fields: ["prompt"]) */
  decontam?: Parameters<typeof benchmarkDecontamStage>[1];
  /** `qualityStage` options (verification against the gold answer, truncation, repetition, judge). @default the stage's defaults */
  quality?: QualityStageOptions;
  /** `nearDupStage` options. @default the stage's defaults (field: "prompt") */
  nearDup?: NearDupStageOptions;
}

/** The stages of {@link infialignCurationStages}, in pipeline order. */
export type InfialignCurationStages = [
  normalize: ReturnType<typeof normalizeStage>,
  dedup: ReturnType<typeof exactDedupStage>,
  decontam: ReturnType<typeof benchmarkDecontamStage>,
  quality: ReturnType<typeof qualityStage>,
  nearDup: ReturnType<typeof nearDupStage>,
  select: ReturnType<typeof selectStage>,
];

/**
 * InfiAlign's data curation as one stage list for `runPipeline`: normalize raw records → exact dedup → benchmark
 * decontamination → quality control (verification against the gold answer) → near-duplicate removal → diversity and
 * difficulty selection. Each stage's options pass through unchanged, so its params (and the pipeline's skip and rerun
 * rules) are those of the stage built alone. The pool offered to selection is the `nearDup` stage's output.
 */
export function infialignCurationStages(options: InfialignCurationOptions): InfialignCurationStages {
  return [
    normalizeStage(options.normalize),
    exactDedupStage(options.dedup),
    // The index is built on the first batch, so an up-to-date stage never indexes the benchmarks.
    benchmarkDecontamStage(options.benchmarks, options.decontam),
    qualityStage(options.quality),
    nearDupStage(options.nearDup),
    selectStage(options.select),
  ];
}
