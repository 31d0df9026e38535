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

/** One server of an endpoint fleet: a replica serving the same model. */
export interface EndpointOptions {
  /** Base URL of an OpenAI-compatible server, ending in `/v1`. */
  baseURL: string;
  /** Most requests in flight on this server at once. @default the client's `concurrency` */
  concurrency?: number;
  /** Sent as `Authorization: Bearer …` to this server. @default the client's `apiKey` */
  apiKey?: string;
}

/** A fleet member: its base URL alone, or the URL with its own concurrency and API key. */
export type EndpointSpec = string | EndpointOptions;

/** Health checks of an endpoint fleet: `GET <baseURL>/models`. */
export interface HealthCheckConfig {
  /**
   * Probe every endpoint before the first request and probe down endpoints again before routing to them. Without
   * probes, routing learns of a down endpoint from a failed request. @default true with two or more endpoints, false with one
   */
  enabled: boolean;
  /** Time allowed per probe, in ms. @default 5_000 */
  timeoutMs: number;
  /** Probe an up endpoint again when it has answered nothing for this long, in ms. @default 30_000 */
  intervalMs: number;
  /** Wait before probing an endpoint again after its first failure, in ms; doubles with each failure in a row. @default 1_000 */
  downMs: number;
  /** Longest wait between probes of a down endpoint, in ms. @default 60_000 */
  maxDownMs: number;
}

export const DEFAULT_HEALTH_CHECK: Omit<HealthCheckConfig, "enabled"> = { timeoutMs: 5_000, intervalMs: 30_000, downMs: 1_000, maxDownMs: 60_000 };

/** Options of `teacherStage`: which teacher to ask, how to sample and how to talk to it. */
export interface TeacherConfig {
  /** Base URL of an OpenAI-compatible server, ending in `/v1` (vLLM, SGLang, Ollama, llama.cpp). Give this or `endpoints`. */
  baseURL?: string;
  /**
   * Several servers of the same model (a fleet of vLLM/SGLang/Ollama/llama.cpp replicas), instead of `baseURL`:
   * requests go to the least loaded healthy one and fail over to another on connection errors and 5xx. Replies and
   * cache keys do not depend on which server answered. Give this or `baseURL`.
   */
  endpoints?: EndpointOptions[];
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
  /** Most requests in flight at once, per endpoint (an endpoint's own `concurrency` overrides it). @default 8 */
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
  /** Health checks of the endpoints. @default DEFAULT_HEALTH_CHECK, enabled with two or more endpoints */
  healthCheck?: Partial<HealthCheckConfig>;
}

export type TeacherOptions = Pick<TeacherConfig, "model"> &
  Partial<Omit<TeacherConfig, "model" | "backoff" | "endpoints">> & {
    backoff?: Partial<BackoffConfig>;
    /** Several servers of the same model instead of `baseURL`: each a base URL, or `{ baseURL, concurrency?, apiKey? }`. */
    endpoints?: EndpointSpec[];
  };

export const DEFAULT_TEACHER_CONFIG: Omit<TeacherConfig, "baseURL" | "endpoints" | "model"> = {
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

const HttpUrlSchema = z.url({ protocol: /^https?$/, message: "must be an http(s) URL such as http://localhost:8000/v1" });

/** A fleet member as given: a base URL, or `{ baseURL, concurrency?, apiKey? }`; resolves to the object form. */
export const EndpointSpecSchema = z.preprocess(
  (e) => (typeof e === "string" ? { baseURL: e } : e),
  z
    .object(
      {
        baseURL: HttpUrlSchema,
        concurrency: z.number().int().positive().optional(),
        apiKey: z.string().min(1).optional(),
      },
      { error: (issue) => (issue.code === "invalid_type" ? "must be a base URL or { baseURL, concurrency?, apiKey? }" : undefined) },
    )
    .strict(),
);

/** A non-empty list of fleet members with distinct base URLs. */
export const EndpointListSchema = z
  .array(EndpointSpecSchema)
  .min(1, "must list at least one endpoint")
  .superRefine((list, ctx) => {
    const seen = new Map<string, number>();
    list.forEach((e, i) => {
      const key = e.baseURL.replace(/\/+$/, "");
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else ctx.addIssue({ code: "custom", path: [i, "baseURL"], message: `repeats endpoint ${first} (${e.baseURL}); list each server once and raise its concurrency instead` });
    });
  });

export const HealthCheckSchema = z
  .object({
    enabled: z.boolean().optional(),
    timeoutMs: z.number().int().positive().optional(),
    intervalMs: z.number().int().positive().optional(),
    downMs: z.number().int().nonnegative().optional(),
    maxDownMs: z.number().int().nonnegative().optional(),
  })
  .strict();

const TeacherConfigSchema = z
  .object({
    baseURL: HttpUrlSchema.optional(),
    endpoints: EndpointListSchema.optional(),
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
    healthCheck: HealthCheckSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.baseURL === undefined) === (c.endpoints === undefined)) {
      ctx.addIssue({ code: "custom", path: ["baseURL"], message: "give either baseURL (one server) or endpoints (a fleet of servers of the same model), not both or neither" });
    }
  });

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
