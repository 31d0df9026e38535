// Settings of one demo run: the default (a real run, < 10 minutes on 2 cores) and the smoke preset (CI, < 3 minutes).
// Resolved once here; the steps read the resolved object and never re-apply defaults.
import { DEFAULT_PAIR_CONFIG } from "@infialign/train-dpo";

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
  /** Longest prompt + completion in tokens (bytes: the tokenizer is byte-level). @default 512 */
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
  /** Distinct problems the generator writes into the raw pool's source files (defects come on top). @default 24000 */
  pool: number;
  /** Held-out evaluation problems, balanced over families × difficulties (n = 1008 gives a 95% interval ≤ ±3 points). @default 1008 */
  heldOut: number;
  /** Records kept by the diversity + difficulty selection (about 30% of the raw pool's tokens). @default 6000 */
  budget: number;
  model: DemoModelConfig;
  sft: {
    /** Difficulty (digits = steps) at or below which a sample goes to phase 1 (foundational); phase 2 trains on all. @default 3 */
    easyMaxDifficulty: number;
    /** Passes over each phase's data (phase 1: the easy records; phase 2: easy + hard). @default [3, 9] */
    epochs: [number, number];
    /** Peak learning rate of each phase (from scratch, so far above fine-tuning rates). @default [3e-3, 3e-3] */
    learningRate: [number, number];
    /** Rows per micro-batch. @default 16 */
    batchSize: number;
    /** Tokens per packed row. @default 256 */
    maxLength: number;
  };
  dpo: {
    /** Verified pool prompts SFT did not train on, offered to pair construction (challenge selection keeps those the model gets wrong). @default 1200 */
    prompts: number;
    /** SFT samples per prompt. @default 4 */
    k: number;
    /**
     * Challenge selection: prompts whose SFT pass rate (correct of `k` samples) lies in [min, max] are paired.
     * @default InfiAlign's band, `DEFAULT_PAIR_CONFIG.passRateBand` of @infialign/train-dpo: [0.125, 0.75]
     */
    passRateBand: [number, number];
    /** Tokens per sampled response. @default 64 */
    maxTokens: number;
    /** @default 1 */
    epochs: number;
    /** Peak learning rate (tuned on the dev split: 2e-4 cost 5–18 points there). @default 5e-5 */
    learningRate: number;
    /** DPO β (Rafailov et al. 2023, Eq. 7; tuned on the dev split). @default 0.5 */
    beta: number;
    /** Pairs per micro-batch. @default 16 */
    batchSize: number;
  };
  evaluation: {
    /** Held-out items evaluated (all when larger). @default 1008 */
    items: number;
    /** Samples per item (avg@n). @default 1 */
    samples: number;
    /** 0 = greedy: the arms are compared on the model's best answer, without sampling noise. @default 0 */
    temperature: number;
    /** @default 1 */
    topP: number;
    /** @default 64 (the longest solution is 4 lines and the boxed answer: ~45 tokens) */
    maxTokens: number;
  };
  ablation: {
    /** Seeds per arm (offsets added to `seed`). @default 3 */
    seeds: number;
    /** Arms to run. @default every arm (ABLATION_ARMS) */
    arms: readonly string[];
  };
}

/** The ablation's arms: training data and recipe variants, each over `ablation.seeds` seeds (see steps/ablation.ts). */
export const ABLATION_ARMS = ["full", "curated", "random", "no-qc", "no-difficulty", "proportional", "one-phase", "curated+dpo"] as const;

export const DEFAULT_DEMO_CONFIG: DemoConfig = {
  outDir: "runs/demo",
  seed: 0,
  force: false,
  pools: false,
  pool: 24000,
  heldOut: 1008,
  budget: 6000,
  model: { hiddenSize: 128, layers: 4, heads: 4, kvHeads: 2, intermediateSize: 344, maxPositions: 512 },
  sft: { easyMaxDifficulty: 3, epochs: [3, 9], learningRate: [3e-3, 3e-3], batchSize: 16, maxLength: 256 },
  // β, learning rate and prompts: the best of `pnpm tune:dpo` on the dev split (README, "DPO tuning").
  dpo: { prompts: 1200, k: 4, passRateBand: [...DEFAULT_PAIR_CONFIG.passRateBand], maxTokens: 64, epochs: 1, learningRate: 5e-5, beta: 0.5, batchSize: 16 },
  evaluation: { items: 1008, samples: 1, temperature: 0, topP: 1, maxTokens: 64 },
  ablation: { seeds: 3, arms: ["full", "curated", "random", "no-qc", "no-difficulty", "proportional", "one-phase", "curated+dpo"] },
};

/** CI preset: every step runs, at sizes that finish in about a minute on 2 cores (the fields that differ from the defaults). */
export const SMOKE_OVERRIDES = {
  outDir: "runs/demo-smoke",
  pool: 600,
  heldOut: 48,
  budget: 150,
  model: { hiddenSize: 64, layers: 2, intermediateSize: 172, maxPositions: 256 },
  sft: { epochs: [1, 1], learningRate: [3e-3, 2e-3], batchSize: 8, maxLength: 128 },
  // The one-epoch smoke model solves no problem (0 of 2 samples on every prompt), so the smoke keeps pass rate 0 to
  // give DPO pairs at all: it checks the plumbing, not InfiAlign's selection.
  dpo: { prompts: 16, k: 2, passRateBand: [0, 0.75], maxTokens: 48, learningRate: 2e-4, beta: 0.1, batchSize: 4 },
  evaluation: { items: 48, maxTokens: 48 },
  ablation: { seeds: 2 },
} satisfies DemoConfigInput;

export type DemoPreset = "default" | "smoke";

export type DemoConfigInput = Partial<Omit<DemoConfig, "model" | "sft" | "dpo" | "evaluation" | "ablation">> & {
  model?: Partial<DemoModelConfig>;
  sft?: Partial<DemoConfig["sft"]>;
  dpo?: Partial<DemoConfig["dpo"]>;
  evaluation?: Partial<DemoConfig["evaluation"]>;
  ablation?: Partial<DemoConfig["ablation"]>;
};

/** Defaults (then the smoke preset, when asked) under the caller's fields; checks the numbers, naming every bad field at once. */
export function resolveDemoConfig(input: DemoConfigInput = {}, preset: DemoPreset = "default"): DemoConfig {
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
  positiveInt("heldOut", config.heldOut);
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
  const [low, high] = config.dpo.passRateBand;
  if (!(low >= 0 && low <= high && high <= 1)) problems.push(`dpo.passRateBand: expected [min, max] with 0 ≤ min ≤ max ≤ 1, got [${config.dpo.passRateBand.join(", ")}]`);
  for (const k of ["items", "samples", "maxTokens"] as const) positiveInt(`evaluation.${k}`, config.evaluation[k]);
  if (!(config.evaluation.temperature >= 0)) problems.push(`evaluation.temperature: expected a number ≥ 0, got ${config.evaluation.temperature}`);
  positiveInt("ablation.seeds", config.ablation.seeds);
  const unknownArms = config.ablation.arms.filter((a) => !(ABLATION_ARMS as readonly string[]).includes(a));
  if (unknownArms.length > 0 || config.ablation.arms.length === 0) problems.push(`ablation.arms: expected some of ${ABLATION_ARMS.join(", ")}, got ${config.ablation.arms.join(", ") || "none"}`);
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
    ablation: { ...base.ablation, ...defined(over.ablation) },
  };
}
