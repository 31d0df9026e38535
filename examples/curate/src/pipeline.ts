import { type InputFile, type PipelineResult, runPipeline, statsStage } from "@infialign/data";
import { loadShippedBenchmarks } from "@infialign/decontam";
import { createEmbedder, infialignCurationStages } from "@infialign/sampling";

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
  const stages = [
    ...infialignCurationStages({
      benchmarks: await loadShippedBenchmarks(),
      normalize: options.tokens ? { tokenizer: "qwen2.5" } : {},
      select: {
        budget: options.budget,
        domainQuotas: options.quotas,
        seed: options.seed,
        tokenizer,
        ...(options.embedder === "hashing" ? {} : { embedder: await createEmbedder(options.embedder) }),
      },
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
