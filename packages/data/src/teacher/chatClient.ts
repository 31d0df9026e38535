import { createHash } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import pLimit, { type LimitFunction } from "p-limit";
import { Agent, type Dispatcher, request } from "undici";
import { z } from "zod";
import { DataError } from "../errors.js";
import { canonicalJson } from "../runtime/canonicalJson.js";
import type { Message } from "../schema/sample.js";
import { type BackoffConfig, BackoffSchema, DEFAULT_BACKOFF } from "./config.js";
import type { DiskCache } from "./diskCache.js";

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

export interface RetryInfo {
  /** The attempt that failed, 1-based. */
  attempt: number;
  delayMs: number;
  reason: string;
  status?: number;
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
}

/** A request that failed for good: a non-retryable status, or retries used up. */
export class TeacherRequestError extends Error {
  override readonly name = "TeacherRequestError";
  constructor(
    message: string,
    /** HTTP attempts made. */
    readonly attempts: number,
    /** Status of the last attempt; undefined when it got no response (timeout, dropped connection). */
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(`[infialign/data] teacher: ${message}`, options);
  }
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

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

/** Why an attempt failed, and whether another may succeed. */
interface Failure {
  retryable: boolean;
  reason: string;
  status?: number;
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * Delay before retry number `retry` (1-based): a ceiling of `initialMs · multiplier^(retry-1)`
 * capped at `maxMs`, then with full jitter a uniform draw below it.
 */
export function backoffDelay(retry: number, backoff: BackoffConfig, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * backoff.multiplier ** (retry - 1));
  return backoff.jitter === "full" ? Math.floor(random() * ceiling) : ceiling;
}

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
  private readonly maxRetries: number;
  private readonly backoff: BackoffConfig;
  private readonly timeoutMs: number;
  private readonly limit: LimitFunction;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly headers: Record<string, string>;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly options: ChatClientOptions) {
    const concurrency = options.concurrency ?? 8;
    this.maxRetries = options.maxRetries ?? 5;
    this.timeoutMs = options.timeoutMs ?? 600_000;
    this.backoff = BackoffSchema.parse({ ...DEFAULT_BACKOFF, ...options.backoff });
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new DataError("teacher", `concurrency must be a positive integer, got ${concurrency}`);
    if (!Number.isInteger(this.maxRetries) || this.maxRetries < 0) throw new DataError("teacher", `maxRetries must be a non-negative integer, got ${this.maxRetries}`);
    if (!(this.timeoutMs > 0)) throw new DataError("teacher", `timeoutMs must be positive, got ${this.timeoutMs}`);
    this.endpoint = `${options.baseURL.replace(/\/+$/, "")}/chat/completions`;
    this.model = options.model;
    this.limit = pLimit(concurrency);
    this.ownsDispatcher = !options.dispatcher;
    // undici's default headersTimeout (300 s) would cut off long non-streamed generations,
    // so both socket timeouts follow timeoutMs; the per-attempt abort enforces the total.
    this.dispatcher = options.dispatcher ?? new Agent({ connections: concurrency, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    this.headers = { "content-type": "application/json", accept: "application/json" };
    if (options.apiKey) this.headers.authorization = `Bearer ${options.apiKey}`;
    this.sleep = options.sleep ?? ((ms, signal) => delay(ms, undefined, signal ? { signal } : {}));
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
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
    const body = JSON.stringify({ model: this.model, ...req });
    for (let attempt = 1; ; attempt++) {
      opts.signal?.throwIfAborted();
      const result = await this.limit(() => this.attempt(body, opts.signal));
      if (!("retryable" in result)) {
        if (cache && key) await cache.set(key, result);
        return { ...result, cached: false, attempts: attempt };
      }
      if (!result.retryable || attempt > this.maxRetries) {
        const tries = `${attempt} attempt${attempt === 1 ? "" : "s"}`;
        const hint = result.retryable ? " Check that the server is up and not overloaded, or raise maxRetries / timeoutMs." : "";
        throw new TeacherRequestError(`POST ${this.endpoint} (model "${this.model}") failed after ${tries}: ${result.reason}.${hint}`, attempt, result.status, {
          cause: result.cause,
        });
      }
      const wait = result.retryAfterMs !== undefined ? Math.min(result.retryAfterMs, this.backoff.maxMs) : backoffDelay(attempt, this.backoff, this.random);
      this.options.onRetry?.({ attempt, delayMs: wait, reason: result.reason, ...(result.status !== undefined ? { status: result.status } : {}) });
      await this.sleep(wait, opts.signal);
    }
  }

  /** Closes the connections the client opened itself. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async attempt(body: string, signal: AbortSignal | undefined): Promise<CachedReply | Failure> {
    signal?.throwIfAborted();
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error(`timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    let status: number | undefined;
    try {
      const res = await request(this.endpoint, { method: "POST", headers: this.headers, body, dispatcher: this.dispatcher, signal: combined });
      status = res.statusCode;
      const text = await res.body.text();
      if (status < 200 || status >= 300) {
        const reason = `HTTP ${status}${errorMessage(text)}`;
        if (!RETRYABLE_STATUS.has(status)) return { retryable: false, reason, status };
        const retryAfterMs = parseRetryAfter(res.headers["retry-after"], this.now());
        return { retryable: true, reason, status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        return { retryable: true, reason: `response is not JSON (starts with ${JSON.stringify(text.slice(0, 60))})`, status, cause: error };
      }
      const parsed = ResponseSchema.safeParse(json);
      if (!parsed.success) return { retryable: true, reason: `response is not a chat completion (${parsed.error.issues[0]?.message})`, status, cause: parsed.error };
      return toReply(parsed.data);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.signal.aborted) return { retryable: true, reason: `no complete response within ${this.timeoutMs} ms (timeoutMs)`, status, cause: error };
      // Dropped connections, resets and truncated bodies: the server or a proxy failed mid-way.
      const code = (error as { code?: string }).code;
      return { retryable: true, reason: `connection failed (${code ? `${code}: ` : ""}${(error as Error).message})`, status, cause: error };
    } finally {
      clearTimeout(timer);
    }
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

function errorMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === "string") return `: ${message}`;
  } catch {
    // not an OpenAI error body
  }
  return text ? `: ${text.slice(0, 200)}` : "";
}

/** `Retry-After` as seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
function parseRetryAfter(header: string | string[] | undefined, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
