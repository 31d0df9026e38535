import { exactDedupStage, type InputFile, normalizeStage, type PipelineResult, runPipeline, statsStage } from "@infialign/data";
import { benchmarkDecontamStage, loadShippedBenchmarks } from "@infialign/decontam";
import { createEmbedder, nearDupStage, qualityStage, selectStage } from "@infialign/sampling";

export interface CurateOptions {
  name: string;
  runsDir: string;
  files: InputFile[];
  /** Records to keep: an integer ≥ 1 is a count, a number in (0, 1) a fraction of the pool. */
  budget: number;
  quotas: "balanced" | Record<string, number>;
  /** Embedder spec for diversity clustering (see createEmbedder). */
  embedder: string;
  seed: number;
  /** Count Qwen2.5 tokens (difficulty = response tokens); else difficulty uses characters. */
  tokens: boolean;
  force: boolean;
  shardRecords?: number;
}

/** The stage list, in order. Each stage's params are hashed into its manifest, so a changed option reruns from that stage on. */
export async function buildStages(options: CurateOptions) {
  // Without token counts, difficulty falls back to response length in characters.
  const tokenizer = options.tokens ? "qwen2.5" : { name: "characters", count: (text: string) => text.length };
  const benchmarks = await loadShippedBenchmarks();
  const stages = [
    normalizeStage(options.tokens ? { tokenizer: "qwen2.5" } : {}),
    exactDedupStage({ key: "content" }),
    // The index is built on first use, so an up-to-date stage never indexes the benchmarks.
    benchmarkDecontamStage(benchmarks, { fields: ["prompt"] }),
    qualityStage({}),
    nearDupStage({ field: "prompt" }),
    selectStage({
      budget: options.budget,
      domainQuotas: options.quotas,
      seed: options.seed,
      tokenizer,
      ...(options.embedder === "hashing" ? {} : { embedder: await createEmbedder(options.embedder) }),
    }),
    statsStage(),
  ];
  return { stages };
}

export async function runCurate(options: CurateOptions): Promise<PipelineResult> {
  return runPipeline({
    name: options.name,
    runsDir: options.runsDir,
    source: { files: options.files },
    stages: (await buildStages(options)).stages,
    force: options.force,
    seed: options.seed,
    ...(options.shardRecords ? { shard: { maxRecords: options.shardRecords } } : {}),
  });
}
