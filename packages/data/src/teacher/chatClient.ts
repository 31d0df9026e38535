import { createHash } from "node:crypto";
import pLimit from "p-limit";
import { Agent, type Dispatcher } from "undici";
import { z } from "zod";
import { DataError } from "../errors.js";
import { canonicalJson } from "../runtime/canonicalJson.js";
import type { Message } from "../schema/sample.js";
import { type BackoffConfig, BackoffSchema, DEFAULT_BACKOFF } from "./config.js";
import type { DiskCache } from "./diskCache.js";
import { type FinalFailure, type JsonRequestSettings, jsonHeaders, postJsonWithRetry, RequestFailure, type RetryInfo } from "./jsonRequest.js";

export interface ChatRequest {
  messages: Message[];
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  n?: number;
  seed?: number;
  stop?: string | string[];
}

export interface ChatChoice {
  content: string;
  /** Chain of thought sent apart from `content` (vLLM/SGLang `reasoning_content`, Ollama `reasoning`), when the server splits it. */
  reasoning?: string;
  /** `"stop"`, `"length"` (hit `max_tokens`), … as the server says. */
  finishReason: string | null;
}

export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface ChatResponse {
  choices: ChatChoice[];
  usage?: ChatUsage;
  /** Served from the cache, without a request. */
  cached: boolean;
  /** HTTP attempts made (0 when cached). */
  attempts: number;
}

export interface ChatClientOptions {
  /** Base URL of an OpenAI-compatible server, ending in `/v1`. */
  baseURL: string;
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string;
  model: string;
  /** Most HTTP requests in flight at once (backoff waits hold no slot). @default 8 */
  concurrency?: number;
  /** Retries after the first attempt. @default 5 */
  maxRetries?: number;
  /** @default DEFAULT_BACKOFF (500 ms doubling to 30 s, full jitter) */
  backoff?: Partial<BackoffConfig>;
  /**
   * Time allowed per attempt, in ms, headers and body included. Long by default because a
   * non-streamed reasoning reply arrives only once fully generated (minutes for 32k tokens).
   * @default 600_000
   */
  timeoutMs?: number;
  /** Successful replies are stored here and served from here without a request. */
  cache?: DiskCache;
  /** Mixed into cache keys, e.g. to keep two quantizations of one model name apart. */
  cacheNamespace?: string;
  /** HTTP dispatcher; by default the client owns an undici `Agent` sized to `concurrency`. */
  dispatcher?: Dispatcher;
  /** Waits between retries (tests pass one that returns at once). @default timers/promises setTimeout */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform [0, 1) source for jitter. @default Math.random */
  random?: () => number;
  /** Clock for HTTP-date `Retry-After` values, in ms since the epoch. @default Date.now */
  now?: () => number;
  /** Called before each backoff wait. */
  onRetry?: (info: RetryInfo) => void;
  /**
   * Prefix of the client's error messages, naming the package and component that made the request, so a failure
   * inside another package reads as its own (e.g. `"[infialign/eval] endpoint-runner"`).
   * @default "[infialign/data] teacher"
   */
  label?: string;
}

const DEFAULT_LABEL = "[infialign/data] teacher";

/** A request that failed for good: a non-retryable status, or retries used up. */
export class TeacherRequestError extends Error {
  override readonly name = "TeacherRequestError";
  constructor(
    message: string,
    /** HTTP attempts made. */
    readonly attempts: number,
    /** Status of the last attempt; undefined when it got no response (timeout, dropped connection). */
    readonly status: number | undefined,
    options?: { cause?: unknown; label?: string },
  ) {
    super(`${options?.label ?? DEFAULT_LABEL}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

const ResponseSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.string().nullish(),
          reasoning_content: z.string().nullish(),
          reasoning: z.string().nullish(),
        }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number().optional() }).nullish(),
});

const CachedSchema = z.object({
  choices: z.array(z.object({ content: z.string(), reasoning: z.string().optional(), finishReason: z.string().nullable() })),
  usage: z.object({ promptTokens: z.number(), completionTokens: z.number(), totalTokens: z.number() }).optional(),
});
type CachedReply = z.infer<typeof CachedSchema>;

/**
 * Cache key of a request: sha256 of the canonical JSON (sorted keys, undefined dropped) of
 * the model and the sampling request. The base URL and API key are left out on purpose:
 * the same model served by another host or replica samples from the same distribution,
 * so its replies are interchangeable; set `namespace` when they are not.
 */
export function chatCacheKey(model: string, req: ChatRequest, namespace?: string): string {
  const { messages, temperature, top_p, max_tokens, n, seed, stop } = req;
  const canonical = canonicalJson({ namespace, model, messages, temperature, top_p, max_tokens, n, seed, stop });
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * Client for `POST /chat/completions` of any OpenAI-compatible server (vLLM, SGLang,
 * Ollama, llama.cpp, OpenAI): bounded concurrency, per-attempt timeouts, retries with
 * exponential backoff on transient failures, and an optional disk cache.
 */
export class OpenAIChatClient {
  readonly endpoint: string;
  readonly model: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly http: JsonRequestSettings;

  constructor(private readonly options: ChatClientOptions) {
    const concurrency = options.concurrency ?? 8;
    const maxRetries = options.maxRetries ?? 5;
    const timeoutMs = options.timeoutMs ?? 600_000;
    const backoff = BackoffSchema.parse({ ...DEFAULT_BACKOFF, ...options.backoff });
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new DataError("teacher", `concurrency must be a positive integer, got ${concurrency}`);
    if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new DataError("teacher", `maxRetries must be a non-negative integer, got ${maxRetries}`);
    if (!(timeoutMs > 0)) throw new DataError("teacher", `timeoutMs must be positive, got ${timeoutMs}`);
    const label = options.label ?? DEFAULT_LABEL;
    // An unparsable URL would otherwise fail every attempt as a "connection failure" and be retried.
    if (!isHttpUrl(options.baseURL)) {
      const message = `baseURL must be an http(s) URL such as http://localhost:8000/v1, got ${JSON.stringify(options.baseURL)}`;
      throw options.label === undefined ? new DataError("teacher", message) : new Error(`${label}: ${message}`);
    }
    this.endpoint = `${options.baseURL.replace(/\/+$/, "")}/chat/completions`;
    this.model = options.model;
    this.ownsDispatcher = !options.dispatcher;
    // undici's default headersTimeout (300 s) would cut off long non-streamed generations,
    // so both socket timeouts follow timeoutMs; the per-attempt abort enforces the total.
    this.dispatcher = options.dispatcher ?? new Agent({ connections: concurrency, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const { sleep, random, now, onRetry } = options;
    const toError = (message: string, { attempts, status, cause }: FinalFailure) => new TeacherRequestError(message, attempts, status, { cause, label });
    const connection = { endpoint: this.endpoint, headers: jsonHeaders(options.apiKey), dispatcher: this.dispatcher, limit: pLimit(concurrency) };
    this.http = { ...connection, maxRetries, timeoutMs, backoff, sleep, random, now, onRetry, context: `model "${this.model}"`, toError };
  }

  cacheKey(req: ChatRequest): string {
    return chatCacheKey(this.model, req, this.options.cacheNamespace);
  }

  async chat(req: ChatRequest, opts: { signal?: AbortSignal } = {}): Promise<ChatResponse> {
    const { cache } = this.options;
    const key = cache ? this.cacheKey(req) : undefined;
    if (cache && key) {
      const hit = CachedSchema.safeParse(await cache.get(key));
      if (hit.success) return { ...hit.data, cached: true, attempts: 0 };
    }
    const parse = (json: unknown, status: number) => {
      const parsed = ResponseSchema.safeParse(json);
      if (!parsed.success) return new RequestFailure(true, `response is not a chat completion (${parsed.error.issues[0]?.message})`, status, undefined, parsed.error);
      const empty = parsed.data.choices.findIndex((c) => typeof c.message.content !== "string" && !(c.message.reasoning_content ?? c.message.reasoning));
      if (empty >= 0) return new RequestFailure(true, `response is not a chat completion (choice ${empty} has content ${JSON.stringify(parsed.data.choices[empty]!.message.content ?? null)} and no reasoning)`, status);
      return toReply(parsed.data);
    };
    const { value, attempts } = await postJsonWithRetry({ ...this.http, body: JSON.stringify({ model: this.model, ...req }), parse, signal: opts.signal });
    if (cache && key) await cache.set(key, value);
    return { ...value, cached: false, attempts };
  }

  /** Closes the connections the client opened itself. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }
}

/** Whether `value` is an absolute http(s) URL: the base URLs of OpenAI-compatible endpoints. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

function toReply(data: z.infer<typeof ResponseSchema>): CachedReply {
  const choices = data.choices.map((c) => {
    const reasoning = c.message.reasoning_content ?? c.message.reasoning ?? undefined;
    return { content: c.message.content ?? "", ...(reasoning ? { reasoning } : {}), finishReason: c.finish_reason ?? null };
  });
  const u = data.usage;
  const usage = u ? { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens, totalTokens: u.total_tokens ?? u.prompt_tokens + u.completion_tokens } : undefined;
  return usage ? { choices, usage } : { choices };
}
