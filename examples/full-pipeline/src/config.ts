// Settings of one demo run: the default (a real run, < 10 minutes on 2 cores) and the smoke preset (CI, < 3 minutes).
// Resolved once here; the steps read the resolved object and never re-apply defaults.

/** Architecture of the from-scratch Qwen2 model (Hugging Face config names are derived in the SFT step). */
export interface DemoModelConfig {
  /** @default 128 */
  hiddenSize: number;
  /** @default 4 */
  layers: number;
  /** @default 4 */
  heads: number;
  /** @default 2 */
  kvHeads: number;
  /** @default 344 */
  intermediateSize: number;
  /** Longest prompt + completion in tokens (bytes: the tokenizer is byte-level). @default 1024 */
  maxPositions: number;
}

export interface DemoConfig {
  /** Output directory of the run (one sub-directory per step). @default "runs/demo" */
  outDir: string;
  /** Seed of every random choice (generator, selection, init, data order, sampling). @default 0 */
  seed: number;
  /** Rerun every step, ignoring completion markers. @default false */
  force: boolean;
  /** Also feed the real pools (`../shared/data/pools/*.jsonl`) to the data stages. @default false */
  pools: boolean;
  /** Clean, distinct training problems the generator writes over its three source files (defects come on top). @default 2000 */
  pool: number;
  /** Fraction of generated problems held out for evaluation. @default 0.08 */
  heldOutFraction: number;
  /** Records kept by the diversity + difficulty selection. @default 700 */
  budget: number;
  model: DemoModelConfig;
  sft: {
    /** Difficulty (reasoning steps) at or below which a sample goes to phase 1. @default 2 */
    easyMaxDifficulty: number;
    /** Passes over each phase's data. @default [3, 3] */
    epochs: [number, number];
    /** Peak learning rate of each phase (from scratch, so far above fine-tuning rates). @default [3e-3, 2e-3] */
    learningRate: [number, number];
    /** Rows per micro-batch. @default 8 */
    batchSize: number;
    /** Tokens per packed row. @default 384 */
    maxLength: number;
  };
  dpo: {
    /** Curated prompts offered to pair construction. @default 48 */
    prompts: number;
    /** SFT samples per prompt. @default 4 */
    k: number;
    /** Tokens per sampled response. @default 320 */
    maxTokens: number;
    /** @default 2 */
    epochs: number;
    /** Peak learning rate; 2e-4 drove this model into degenerate output within 24 steps. @default 2e-5 */
    learningRate: number;
    /** DPO β (Rafailov et al. 2023, Eq. 7). @default 0.1 */
    beta: number;
    /** Pairs per micro-batch. @default 4 */
    batchSize: number;
  };
  evaluation: {
    /** Held-out items evaluated (all when larger). @default 80 */
    items: number;
    /** Samples per item (avg@n). @default 2 */
    samples: number;
    /** @default 0.6 (R1 protocol) */
    temperature: number;
    /** @default 0.95 (R1 protocol) */
    topP: number;
    /** @default 320 */
    maxTokens: number;
  };
}

export const DEFAULT_DEMO_CONFIG: DemoConfig = {
  outDir: "runs/demo",
  seed: 0,
  force: false,
  pools: false,
  pool: 2000,
  heldOutFraction: 0.08,
  budget: 700,
  model: { hiddenSize: 128, layers: 4, heads: 4, kvHeads: 2, intermediateSize: 344, maxPositions: 1024 },
  sft: { easyMaxDifficulty: 2, epochs: [3, 3], learningRate: [3e-3, 2e-3], batchSize: 8, maxLength: 384 },
  dpo: { prompts: 48, k: 4, maxTokens: 320, epochs: 2, learningRate: 2e-5, beta: 0.1, batchSize: 4 },
  evaluation: { items: 80, samples: 2, temperature: 0.6, topP: 0.95, maxTokens: 320 },
};

/** CI preset: every step runs, at sizes that finish in about a minute on 2 cores. */
export const SMOKE_OVERRIDES = {
  outDir: "runs/demo-smoke",
  pool: 270,
  heldOutFraction: 0.1,
  budget: 120,
  model: { hiddenSize: 64, layers: 2, heads: 4, kvHeads: 2, intermediateSize: 172, maxPositions: 512 },
  sft: { easyMaxDifficulty: 2, epochs: [2, 1], learningRate: [3e-3, 2e-3], batchSize: 4, maxLength: 256 },
  dpo: { prompts: 16, k: 2, maxTokens: 96, epochs: 1, learningRate: 2e-4, beta: 0.1, batchSize: 4 },
  evaluation: { items: 20, samples: 1, temperature: 0.6, topP: 0.95, maxTokens: 96 },
} satisfies Partial<DemoConfig>;

export type DemoConfigInput = Partial<Omit<DemoConfig, "model" | "sft" | "dpo" | "evaluation">> & {
  model?: Partial<DemoModelConfig>;
  sft?: Partial<DemoConfig["sft"]>;
  dpo?: Partial<DemoConfig["dpo"]>;
  evaluation?: Partial<DemoConfig["evaluation"]>;
};

/** Defaults (then the smoke preset, when asked) under the caller's fields; checks the numbers, naming every bad field at once. */
export function resolveDemoConfig(input: DemoConfigInput = {}, preset: "default" | "smoke" = "default"): DemoConfig {
  const base: DemoConfig = preset === "smoke" ? mergeConfig(DEFAULT_DEMO_CONFIG, SMOKE_OVERRIDES) : DEFAULT_DEMO_CONFIG;
  const config = mergeConfig(base, input);
  const problems: string[] = [];
  const positiveInt = (path: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) problems.push(`${path}: expected a positive integer, got ${v}`);
  };
  const positive = (path: string, v: number) => {
    if (!(v > 0) || !Number.isFinite(v)) problems.push(`${path}: expected a positive number, got ${v}`);
  };
  positiveInt("pool", config.pool);
  if (!(config.heldOutFraction > 0 && config.heldOutFraction < 1)) problems.push(`heldOutFraction: expected a number in (0, 1), got ${config.heldOutFraction}`);
  positiveInt("budget", config.budget);
  for (const [k, v] of Object.entries(config.model)) positiveInt(`model.${k}`, v);
  if (config.model.heads % config.model.kvHeads !== 0) problems.push(`model.heads: ${config.model.heads} is not a multiple of model.kvHeads (${config.model.kvHeads})`);
  if (config.model.hiddenSize % config.model.heads !== 0) problems.push(`model.hiddenSize: ${config.model.hiddenSize} is not a multiple of model.heads (${config.model.heads})`);
  for (const [i, v] of config.sft.epochs.entries()) positive(`sft.epochs.${i}`, v);
  for (const [i, v] of config.sft.learningRate.entries()) positive(`sft.learningRate.${i}`, v);
  positiveInt("sft.batchSize", config.sft.batchSize);
  positiveInt("sft.maxLength", config.sft.maxLength);
  if (config.sft.maxLength > config.model.maxPositions) problems.push(`sft.maxLength: ${config.sft.maxLength} exceeds model.maxPositions (${config.model.maxPositions})`);
  for (const k of ["prompts", "k", "maxTokens", "epochs", "batchSize"] as const) positiveInt(`dpo.${k}`, config.dpo[k]);
  positive("dpo.learningRate", config.dpo.learningRate);
  positive("dpo.beta", config.dpo.beta);
  for (const k of ["items", "samples", "maxTokens"] as const) positiveInt(`evaluation.${k}`, config.evaluation[k]);
  if (problems.length > 0) throw new Error(`[infialign/example-full-pipeline] config: ${problems.length} invalid field${problems.length === 1 ? "" : "s"}:\n  ${problems.join("\n  ")}`);
  return config;
}

function mergeConfig(base: DemoConfig, over: DemoConfigInput): DemoConfig {
  const defined = <T extends object>(o: T | undefined) => Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
  return {
    ...base,
    ...defined(over as Partial<DemoConfig>),
    model: { ...base.model, ...defined(over.model) },
    sft: { ...base.sft, ...defined(over.sft) },
    dpo: { ...base.dpo, ...defined(over.dpo) },
    evaluation: { ...base.evaluation, ...defined(over.evaluation) },
  };
}
