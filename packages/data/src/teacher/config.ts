import { z } from "zod";
import { DataError } from "../errors.js";

/** Exponential backoff between retries. */
export interface BackoffConfig {
  /** Delay ceiling before the first retry, in ms. @default 500 */
  initialMs: number;
  /** Largest delay, in ms; also caps a server's `Retry-After`. @default 30_000 */
  maxMs: number;
  /** Growth of the ceiling per retry. @default 2 */
  multiplier: number;
  /**
   * `"full"`: wait a uniform random time in [0, ceiling) ("full jitter", AWS Architecture
   * Blog, "Exponential Backoff and Jitter", 2015), which spreads a burst of retries;
   * `"none"`: wait the ceiling. @default "full"
   */
  jitter: "full" | "none";
}

export const DEFAULT_BACKOFF: BackoffConfig = { initialMs: 500, maxMs: 30_000, multiplier: 2, jitter: "full" };

/** DeepSeek-R1's recommended prompt for maths: no system prompt, this instruction after the problem. */
export const R1_PROMPT_TEMPLATE = "{prompt}\nPlease reason step by step, and put your final answer within \\boxed{}.";

/** Options of `teacherStage`: which teacher to ask, how to sample and how to talk to it. */
export interface TeacherConfig {
  /** Base URL of an OpenAI-compatible server, ending in `/v1` (vLLM, SGLang, Ollama, llama.cpp). Required. */
  baseURL: string;
  /** Model name sent in every request. Required. */
  model: string;
  /** Sent as `Authorization: Bearer …` when set; never written to manifests. */
  apiKey?: string;
  /** System message; R1 recommends none. @default undefined */
  systemPrompt?: string;
  /** User message; `{prompt}` is replaced by the record's prompt. @default R1_PROMPT_TEMPLATE */
  promptTemplate: string;
  /** Sampling temperature. @default 0.6 (DeepSeek-R1) */
  temperature: number;
  /** Nucleus sampling mass. @default 0.95 (DeepSeek-R1) */
  top_p: number;
  /** Generation budget, in tokens; longer replies end with `finish_reason: "length"` and are rejected. @default 32768 */
  max_tokens: number;
  /** Sampling seed, where the server supports it. @default undefined */
  seed?: number;
  /** Stop sequences. @default undefined */
  stop?: string[];
  /** Most requests in flight at once. @default 8 */
  concurrency: number;
  /** Retries after the first attempt on 429, 5xx, timeouts, dropped connections and bad bodies. @default 5 */
  maxRetries: number;
  /** Delay between retries. @default DEFAULT_BACKOFF */
  backoff: BackoffConfig;
  /**
   * Time allowed per attempt, in ms, headers and body included. Long because a reasoning
   * model answering non-streamed sends nothing until it has written up to `max_tokens`
   * tokens, which takes minutes. @default 600_000
   */
  timeoutMs: number;
  /**
   * Regenerate records that have a `response` but no `reasoning` (e.g. human-written
   * solutions). Records with a non-empty `reasoning` are always kept as they are. @default false
   */
  overwrite: boolean;
  /** Reject replies without a `\boxed{…}` answer (`missing_final_answer`). @default true */
  requireAnswer: boolean;
  /** Cache every successful reply on disk, so reruns and resumes cost no requests. @default true */
  cache: boolean;
  /** Cache directory. @default `<stage cache dir>` given by the runtime */
  cacheDir?: string;
  /** Mixed into cache keys, to keep apart replies that the request alone does not tell apart. @default undefined */
  cacheNamespace?: string;
}

export type TeacherOptions = Pick<TeacherConfig, "baseURL" | "model"> & Partial<Omit<TeacherConfig, "baseURL" | "model" | "backoff">> & { backoff?: Partial<BackoffConfig> };

export const DEFAULT_TEACHER_CONFIG: Omit<TeacherConfig, "baseURL" | "model"> = {
  promptTemplate: R1_PROMPT_TEMPLATE,
  temperature: 0.6,
  top_p: 0.95,
  max_tokens: 32_768,
  concurrency: 8,
  maxRetries: 5,
  backoff: DEFAULT_BACKOFF,
  timeoutMs: 600_000,
  overwrite: false,
  requireAnswer: true,
  cache: true,
};

export const BackoffSchema = z
  .object({
    initialMs: z.number().nonnegative(),
    maxMs: z.number().nonnegative(),
    multiplier: z.number().min(1),
    jitter: z.enum(["full", "none"]),
  })
  .strict();

const TeacherConfigSchema = z
  .object({
    baseURL: z.url({ protocol: /^https?$/ }),
    model: z.string().min(1),
    apiKey: z.string().min(1).optional(),
    systemPrompt: z.string().optional(),
    promptTemplate: z.string().includes("{prompt}", { message: 'must contain "{prompt}"' }),
    temperature: z.number().min(0).max(2),
    top_p: z.number().gt(0).max(1),
    max_tokens: z.number().int().positive(),
    seed: z.number().int().optional(),
    stop: z.array(z.string().min(1)).optional(),
    concurrency: z.number().int().positive(),
    maxRetries: z.number().int().nonnegative(),
    backoff: BackoffSchema,
    timeoutMs: z.number().int().positive(),
    overwrite: z.boolean(),
    requireAnswer: z.boolean(),
    cache: z.boolean(),
    cacheDir: z.string().min(1).optional(),
    cacheNamespace: z.string().min(1).optional(),
  })
  .strict();

/** Applies defaults to `options` and validates the result, reporting every invalid field at once. */
export function resolveTeacherConfig(options: TeacherOptions): TeacherConfig {
  const merged = {
    ...DEFAULT_TEACHER_CONFIG,
    ...dropUndefined(options),
    backoff: { ...DEFAULT_BACKOFF, ...dropUndefined(options.backoff ?? {}) },
  };
  const result = TeacherConfigSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`);
    throw new DataError("teacher", `invalid config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${problems.join("\n  ")}`);
  }
  return result.data;
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
