import { createHash } from "node:crypto";
import { Agent, type Dispatcher } from "undici";
import { z } from "zod";
import { DataError } from "../errors.js";
import { canonicalJson } from "../runtime/canonicalJson.js";
import type { Message } from "../schema/sample.js";
import {
  type BackoffConfig,
  BackoffSchema,
  DEFAULT_BACKOFF,
  DEFAULT_HEALTH_CHECK,
  EndpointListSchema,
  type EndpointSpec,
  type HealthCheckConfig,
  HealthCheckSchema,
} from "./config.js";
import type { DiskCache } from "./diskCache.js";
import { EndpointFleet, type EndpointStats } from "./endpointFleet.js";
import { type FinalFailure, jsonHeaders, RequestFailure, type RetryInfo } from "./jsonRequest.js";

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
  /** Served from the cache, or by an identical request already in flight, without a request of its own. */
  cached: boolean;
  /** HTTP attempts made (0 when cached). */
  attempts: number;
}

export interface ChatClientOptions {
  /** Base URL of an OpenAI-compatible server, ending in `/v1`. Give this or `endpoints`. */
  baseURL?: string;
  /**
   * Several servers of the same model (vLLM/SGLang/Ollama/llama.cpp replicas), instead of `baseURL`: each a base URL,
   * or `{ baseURL, concurrency?, apiKey? }`. Requests go to the least loaded healthy server and fail over to another
   * on connection errors and 5xx (see `EndpointFleet`); replies and cache keys do not depend on which one answered.
   */
  endpoints?: EndpointSpec[];
  /** Sent as `Authorization: Bearer …` when set (to every endpoint without its own `apiKey`). */
  apiKey?: string;
  model: string;
  /** Most HTTP requests in flight at once, per endpoint (backoff waits hold no slot). @default 8 */
  concurrency?: number;
  /**
   * Retries after the first attempt, each after a backoff wait. With several endpoints, going at once to another
   * healthy endpoint after a failure spends no retry. @default 5
   */
  maxRetries?: number;
  /** Health checks of the endpoints (`GET <baseURL>/models`). @default DEFAULT_HEALTH_CHECK, enabled with two or more endpoints */
  healthCheck?: Partial<HealthCheckConfig>;
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
  /** HTTP dispatcher; by default the client owns an undici `Agent` with `concurrency` connections per endpoint. */
  dispatcher?: Dispatcher;
  /** Waits between retries (tests pass one that returns at once). @default timers/promises setTimeout */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform [0, 1) source for jitter. @default Math.random */
  random?: () => number;
  /** Clock for HTTP-date `Retry-After` values and the health checks' schedule, in ms since the epoch. @default Date.now */
  now?: () => number;
  /** Called before each backoff wait, and before each failover to another endpoint (`failover: true`). */
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
 * Ollama, llama.cpp, OpenAI), or of a fleet of them: bounded concurrency per server,
 * least-loaded routing with health checks and failover, per-attempt timeouts, retries with
 * exponential backoff on transient failures, and an optional disk cache.
 */
export class OpenAIChatClient {
  /** `POST` URL of chat completions on the first endpoint. */
  readonly endpoint: string;
  /** Base URLs of the endpoints, in configuration order. */
  readonly baseURLs: readonly string[];
  readonly model: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly fleet: EndpointFleet;
  /** Requests on their way to the cache, by key: an identical request joins them instead of asking again. */
  private readonly pending = new Map<string, { reply: Promise<CachedReply>; signal: AbortSignal | undefined }>();

  constructor(private readonly options: ChatClientOptions) {
    const concurrency = options.concurrency ?? 8;
    const maxRetries = options.maxRetries ?? 5;
    const timeoutMs = options.timeoutMs ?? 600_000;
    const backoff = BackoffSchema.parse({ ...DEFAULT_BACKOFF, ...options.backoff });
    const label = options.label ?? DEFAULT_LABEL;
    const fail = (message: string) => (options.label === undefined ? new DataError("teacher", message) : new Error(`${label}: ${message}`));
    if (!Number.isInteger(concurrency) || concurrency < 1) throw fail(`concurrency must be a positive integer, got ${concurrency}`);
    if (!Number.isInteger(maxRetries) || maxRetries < 0) throw fail(`maxRetries must be a non-negative integer, got ${maxRetries}`);
    if (!(timeoutMs > 0)) throw fail(`timeoutMs must be positive, got ${timeoutMs}`);
    if ((options.baseURL === undefined) === (options.endpoints === undefined)) {
      throw fail("give either baseURL (one server) or endpoints (a fleet of servers of the same model), not both or neither");
    }
    let endpoints: Array<{ baseURL: string; concurrency?: number; apiKey?: string }>;
    if (options.baseURL !== undefined) {
      // An unparsable URL would otherwise fail every attempt as a "connection failure" and be retried.
      if (!isHttpUrl(options.baseURL)) throw fail(`baseURL must be an http(s) URL such as http://localhost:8000/v1, got ${JSON.stringify(options.baseURL)}`);
      endpoints = [{ baseURL: options.baseURL }];
    } else {
      const parsed = EndpointListSchema.safeParse(options.endpoints);
      if (!parsed.success) throw fail(`invalid endpoints: ${parsed.error.issues.map((i) => `endpoints${i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${i.message}`).join("; ")}`);
      endpoints = parsed.data;
    }
    const health = HealthCheckSchema.safeParse(options.healthCheck ?? {});
    if (!health.success) throw fail(`invalid healthCheck: ${health.error.issues.map((i) => `${i.path.join(".") || "(healthCheck)"}: ${i.message}`).join("; ")}`);
    const healthCheck: HealthCheckConfig = { ...DEFAULT_HEALTH_CHECK, enabled: endpoints.length > 1, ...dropUndefined(health.data) };
    const fleet = endpoints.map((e) => ({ baseURL: e.baseURL, concurrency: e.concurrency ?? concurrency, headers: jsonHeaders(e.apiKey ?? options.apiKey) }));
    this.baseURLs = fleet.map((e) => e.baseURL);
    this.endpoint = `${fleet[0]!.baseURL.replace(/\/+$/, "")}/chat/completions`;
    this.model = options.model;
    this.ownsDispatcher = !options.dispatcher;
    // undici's default headersTimeout (300 s) would cut off long non-streamed generations,
    // so both socket timeouts follow timeoutMs; the per-attempt abort enforces the total.
    // An Agent keeps one pool per origin, so `connections` bounds each endpoint on its own.
    const connections = Math.max(...fleet.map((e) => e.concurrency));
    this.dispatcher = options.dispatcher ?? new Agent({ connections, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const { sleep, random, now, onRetry } = options;
    const toError = (message: string, { attempts, status, cause }: FinalFailure) => new TeacherRequestError(message, attempts, status, { cause, label });
    this.fleet = new EndpointFleet({
      endpoints: fleet,
      dispatcher: this.dispatcher,
      maxRetries,
      timeoutMs,
      backoff,
      healthCheck,
      context: `model "${this.model}"`,
      toError,
      ...(sleep ? { sleep } : {}),
      ...(random ? { random } : {}),
      ...(now ? { now } : {}),
      ...(onRetry ? { onRetry } : {}),
    });
  }

  cacheKey(req: ChatRequest): string {
    return chatCacheKey(this.model, req, this.options.cacheNamespace);
  }

  /**
   * Sends `req`, or serves it from the cache. With a cache, identical requests in flight at once share one HTTP
   * request and one cache entry, so each is answered exactly once whichever endpoint answers it.
   */
  async chat(req: ChatRequest, opts: { signal?: AbortSignal } = {}): Promise<ChatResponse> {
    const { cache } = this.options;
    const { signal } = opts;
    if (!cache) {
      const { value, attempts } = await this.request(req, signal);
      return { ...value, cached: false, attempts };
    }
    const key = this.cacheKey(req);
    for (;;) {
      const hit = CachedSchema.safeParse(await cache.get(key));
      if (hit.success) return { ...hit.data, cached: true, attempts: 0 };
      const pending = this.pending.get(key);
      if (!pending) break;
      try {
        return { ...(await abortable(pending.reply, signal)), cached: true, attempts: 0 };
      } catch (error) {
        // The request this one joined was aborted by its own caller, not by this one's: ask again.
        if (signal?.aborted || !pending.signal?.aborted) throw error;
      }
    }
    let attempts = 0;
    const reply = this.request(req, signal).then(async (r) => {
      attempts = r.attempts;
      await cache.set(key, r.value);
      return r.value;
    });
    this.pending.set(key, { reply, signal });
    try {
      return { ...(await reply), cached: false, attempts };
    } finally {
      if (this.pending.get(key)?.reply === reply) this.pending.delete(key);
    }
  }

  /**
   * POSTs a JSON body to `<baseURL><path>` of the endpoint routing picks, with the client's retries, timeouts,
   * failover and concurrency limits, and no cache: for requests the chat parser does not fit (e.g. `logprobs`).
   * `parse` turns a 2xx JSON body into the result, or returns a `RequestFailure` to retry or give up.
   */
  async postJson<T>(path: string, body: unknown, parse: (json: unknown, status: number) => T | RequestFailure, opts: { signal?: AbortSignal } = {}): Promise<{ value: T; attempts: number }> {
    return this.fleet.post(path, JSON.stringify(body), parse, opts.signal);
  }

  /** Per-endpoint requests, failures, mean latency, requests in flight and health, in configuration order. */
  endpointStats(): EndpointStats[] {
    return this.fleet.stats();
  }

  /** Closes the connections the client opened itself. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private request(req: ChatRequest, signal: AbortSignal | undefined): Promise<{ value: CachedReply; attempts: number }> {
    const parse = (json: unknown, status: number) => {
      const parsed = ResponseSchema.safeParse(json);
      if (!parsed.success) return new RequestFailure(true, `response is not a chat completion (${parsed.error.issues[0]?.message})`, status, undefined, parsed.error);
      const empty = parsed.data.choices.findIndex((c) => typeof c.message.content !== "string" && !(c.message.reasoning_content ?? c.message.reasoning));
      if (empty >= 0) return new RequestFailure(true, `response is not a chat completion (choice ${empty} has content ${JSON.stringify(parsed.data.choices[empty]!.message.content ?? null)} and no reasoning)`, status);
      return toReply(parsed.data);
    };
    return this.fleet.post("/chat/completions", JSON.stringify({ model: this.model, ...req }), parse, signal);
  }
}

/** `promise`, or the abort reason of `signal` as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
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
