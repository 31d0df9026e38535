import { fileURLToPath } from "node:url";
import { type InputFile, type PipelineResult, runPipeline, statsStage } from "@infialign/data";
import { loadShippedBenchmarks } from "@infialign/decontam";
import { createEmbedder, infialignCurationStages } from "@infialign/sampling";

/** The options that shape the stages (what a worker needs to rebuild them; JSON). */
export type StageOptions = Pick<CurateOptions, "budget" | "quotas" | "embedder" | "seed" | "tokens">;

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
  /** Who runs the stages: this process (default), worker processes on this machine, or BullMQ workers. */
  executor?: "local" | "processes" | "bullmq";
  /** Worker processes (`processes`), or the workers' slots to record (`bullmq`). @default the number of cores */
  workers?: number;
  /** Redis URL for `bullmq`. */
  redis?: string;
}

/** The stage list, in order. Each stage's params are hashed into its manifest, so a changed option reruns from that stage on. */
export async function buildStages(options: StageOptions) {
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

/** The recipe's entry: workers of the `processes` and `bullmq` executors build the stages through it. */
export async function recipeStages(args: StageOptions) {
  return (await buildStages(args)).stages;
}

export async function runCurate(options: CurateOptions): Promise<PipelineResult> {
  const stageOptions: StageOptions = { budget: options.budget, quotas: options.quotas, embedder: options.embedder, seed: options.seed, tokens: options.tokens };
  return runPipeline({
    name: options.name,
    runsDir: options.runsDir,
    source: { files: options.files },
    recipe: { module: fileURLToPath(import.meta.url), export: "recipeStages", args: stageOptions },
    executor: options.executor ?? "local",
    ...(options.workers ? { workers: options.workers } : {}),
    ...(options.redis ? { bullmq: { redis: options.redis } } : {}),
    force: options.force,
    seed: options.seed,
    ...(options.shardRecords ? { shard: { maxRecords: options.shardRecords } } : {}),
  });
}
