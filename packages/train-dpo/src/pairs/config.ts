import { z } from "zod";

/**
 * Settings of InfiAlign pair construction (arXiv 2508.05496, §DPO data): sample k responses per prompt from the
 * SFT model, keep prompts that are hard but learnable, pair a verified-correct expert solution (chosen) with one of
 * the model's own incorrect responses (rejected), and drop pairs that teach the wrong lesson.
 */
export interface PairConfig {
  /** Responses sampled from the SFT model per prompt; the pass rate is k_correct / k. @default 8 */
  k: number;
  /**
   * Challenge selection: keep prompts whose SFT pass rate lies in [min, max] (inclusive). Prompts the model always
   * solves teach nothing; prompts it never solves are mostly beyond it. @default [0.125, 0.75] (1 to 6 of 8)
   */
  passRateBand: [number, number];
  /** User-turn template; `{prompt}` is replaced by the sample's prompt. @default "{prompt}" */
  promptTemplate: string;
  /** System prompt put before the user turn when the sample has none. @default undefined (none) */
  systemPrompt?: string;
  /** Cleaning: drop rejected candidates that hit the sampler's token limit (finish reason "length"). @default true */
  dropTruncated: boolean;
  /**
   * Cleaning: a rejected candidate needs a stated final answer from one of these sources (`@infialign/verify`
   * extraction names); "last_number" is left out so a response that never concludes counts as answerless.
   * @default ["boxed", "final_answer", "answer_line"]
   */
  answerSources: Array<"boxed" | "final_answer" | "answer_line" | "gsm8k" | "last_number">;
  /** Cleaning: word n-gram size of the repetition measure (see `ngramRepetition`). @default 8 */
  repetitionNgram: number;
  /** Cleaning: drop a response whose n-gram repetition exceeds this fraction (degenerate loops score ≥ 0.5). @default 0.4 */
  maxRepetition: number;
  /** Cleaning: drop a pair when the longer response has more than this many times the characters of the shorter. @default 4 */
  maxLengthRatio: number;
  /** Quality verification: rubric for the optional LLM-judge gate on the chosen response (used only with a judge). */
  judgeRubric: string;
  /** Prompts processed at once (each with its k sampling requests). @default 4 */
  concurrency: number;
}

export const DEFAULT_JUDGE_RUBRIC =
  "The response solves the problem with a correct, complete and coherent chain of reasoning, without irrelevant or repeated content, and states the final answer clearly.";

export const DEFAULT_PAIR_CONFIG: PairConfig = {
  k: 8,
  passRateBand: [0.125, 0.75],
  promptTemplate: "{prompt}",
  dropTruncated: true,
  answerSources: ["boxed", "final_answer", "answer_line"],
  repetitionNgram: 8,
  maxRepetition: 0.4,
  maxLengthRatio: 4,
  judgeRubric: DEFAULT_JUDGE_RUBRIC,
  concurrency: 4,
};

const PairConfigSchema = z
  .object({
    k: z.number().int().min(1).max(1024),
    passRateBand: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]),
    promptTemplate: z.string().refine((s) => s.includes("{prompt}"), 'must contain "{prompt}"'),
    systemPrompt: z.string().optional(),
    dropTruncated: z.boolean(),
    answerSources: z.array(z.enum(["boxed", "final_answer", "answer_line", "gsm8k", "last_number"])).min(1),
    repetitionNgram: z.number().int().min(1).max(64),
    maxRepetition: z.number().min(0).max(1),
    maxLengthRatio: z.number().min(1),
    judgeRubric: z.string().min(1),
    concurrency: z.number().int().min(1),
  })
  .strict()
  .refine((c) => c.passRateBand[0] <= c.passRateBand[1], { message: "passRateBand: min must not exceed max", path: ["passRateBand"] });

/** Defaults applied once, then validated; every invalid field is reported in one error. */
export function resolvePairConfig(options: Partial<PairConfig> = {}): PairConfig {
  const merged = { ...DEFAULT_PAIR_CONFIG, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const parsed = PairConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`);
    throw new RangeError(`[infialign/train-dpo] pairs: invalid config:\n  - ${lines.join("\n  - ")}`);
  }
  return parsed.data;
}
