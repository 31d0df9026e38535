import { setTimeout as delay } from "node:timers/promises";
import { type Dispatcher, request } from "undici";
import type { BackoffConfig } from "./config.js";

export interface RetryInfo {
  /** The attempt that failed, 1-based. */
  attempt: number;
  delayMs: number;
  reason: string;
  status?: number;
  /** Base URL of the endpoint that failed (the chat client's fleet). */
  endpoint?: string;
  /** The request goes at once to another endpoint of the fleet (`delayMs` 0) instead of waiting to retry. */
  failover?: boolean;
}

/** Why an attempt failed, and whether another may succeed. Returned (not thrown) by `parse` to reject a 2xx body. */
export class RequestFailure {
  constructor(
    readonly retryable: boolean,
    /** Short, lower-case, no trailing period; goes into the final error message and `RetryInfo.reason`. */
    readonly reason: string,
    readonly status?: number,
    /** Server-requested wait (`Retry-After`), in ms; replaces the backoff delay, capped at `backoff.maxMs`. */
    readonly retryAfterMs?: number,
    readonly cause?: unknown,
  ) {}
}

/** What `toError` gets when a request fails for good. */
export interface FinalFailure {
  /** HTTP attempts made. */
  attempts: number;
  /** Status of the last attempt; undefined when it got no response (timeout, dropped connection). */
  status: number | undefined;
  cause: unknown;
}

/** Everything about a request but its body: built once per client and reused for every call. */
export interface JsonRequestSettings {
  endpoint: string;
  headers: Record<string, string>;
  dispatcher: Dispatcher;
  /**
   * Bounds requests in flight; each attempt takes a slot, backoff waits hold none. A `p-limit` limiter; typed by its call
   * alone so that the CommonJS declarations, whose build bundles p-limit (ESM-only), do not import it.
   */
  limit: <T>(fn: () => PromiseLike<T> | T) => Promise<T>;
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Time allowed per attempt, in ms, headers and body included. */
  timeoutMs: number;
  backoff: BackoffConfig;
  /** Goes in parentheses after `POST <endpoint>` in the final error message, e.g. `model "x"`. */
  context?: string;
  /** Builds the error thrown when retries are used up or the failure is not retryable. */
  toError: (message: string, failure: FinalFailure) => Error;
  /** Waits between retries (tests pass one that returns at once). @default timers/promises setTimeout */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform [0, 1) source for jitter. @default Math.random */
  random?: () => number;
  /** Clock for HTTP-date `Retry-After` values, in ms since the epoch. @default Date.now */
  now?: () => number;
  /** Called before each backoff wait. */
  onRetry?: (info: RetryInfo) => void;
}

export interface PostJsonOptions<T> extends JsonRequestSettings {
  /** Serialized JSON request body, sent unchanged on every attempt. */
  body: string;
  /** Turns a 2xx JSON body into the result, or returns a `RequestFailure` to retry or give up. */
  parse: (json: unknown, status: number) => T | RequestFailure;
  signal?: AbortSignal;
}

/** `content-type`/`accept` JSON headers, plus `Authorization: Bearer …` when `apiKey` is set. */
export function jsonHeaders(apiKey?: string): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return headers;
}

/** Request timeout, rate limit and every server error: another attempt, or another server, may succeed. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
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
 * POSTs a JSON body to an OpenAI-compatible endpoint with a per-attempt timeout, retrying
 * 408/429/5xx, timeouts, dropped connections and unreadable bodies with exponential backoff
 * (or the server's `Retry-After`), on one endpoint. Used by the embedders; the chat client's
 * `EndpointFleet` makes the same attempts (`attemptJson`) over several endpoints.
 * @returns the parsed result and the number of HTTP attempts made.
 */
export async function postJsonWithRetry<T>(options: PostJsonOptions<T>): Promise<{ value: T; attempts: number }> {
  const { signal, maxRetries, backoff } = options;
  const sleep = options.sleep ?? ((ms, s) => delay(ms, undefined, s ? { signal: s } : {}));
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const result = await options.limit(() => attemptJson(options));
    if (!(result instanceof RequestFailure)) return { value: result, attempts: attempt };
    if (!result.retryable || attempt > maxRetries) {
      const tries = `${attempt} attempt${attempt === 1 ? "" : "s"}`;
      const hint = result.retryable ? " Check that the server is up and not overloaded, or raise maxRetries / timeoutMs." : "";
      const target = `POST ${options.endpoint}${options.context ? ` (${options.context})` : ""}`;
      throw options.toError(`${target} failed after ${tries}: ${result.reason}.${hint}`, { attempts: attempt, status: result.status, cause: result.cause });
    }
    const wait = result.retryAfterMs !== undefined ? Math.min(result.retryAfterMs, backoff.maxMs) : backoffDelay(attempt, backoff, options.random);
    options.onRetry?.({ attempt, delayMs: wait, reason: result.reason, ...(result.status !== undefined ? { status: result.status } : {}) });
    await sleep(wait, signal);
  }
}

/** What one attempt needs: a subset of `PostJsonOptions`. */
export type AttemptOptions<T> = Pick<PostJsonOptions<T>, "endpoint" | "headers" | "body" | "dispatcher" | "timeoutMs" | "parse" | "signal" | "now">;

/**
 * One POST with a timeout: the parsed result, or a `RequestFailure` saying why it failed and whether to retry.
 * Throws only when `signal` aborts.
 */
export async function attemptJson<T>(options: AttemptOptions<T>): Promise<T | RequestFailure> {
  const { endpoint, headers, body, dispatcher, timeoutMs, signal } = options;
  signal?.throwIfAborted();
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
  let status: number | undefined;
  try {
    const res = await request(endpoint, { method: "POST", headers, body, dispatcher, signal: combined });
    status = res.statusCode;
    const text = await res.body.text();
    if (status < 200 || status >= 300) {
      const reason = `HTTP ${status}${errorMessage(text)}`;
      if (!isRetryableStatus(status)) return new RequestFailure(false, reason, status);
      return new RequestFailure(true, reason, status, parseRetryAfter(res.headers["retry-after"], (options.now ?? Date.now)()));
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return new RequestFailure(true, `response is not JSON (starts with ${JSON.stringify(text.slice(0, 60))})`, status, undefined, error);
    }
    return options.parse(json, status);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timeout.signal.aborted) return new RequestFailure(true, `no complete response within ${timeoutMs} ms (timeoutMs)`, status, undefined, error);
    // Dropped connections, resets and truncated bodies: the server or a proxy failed mid-way.
    const code = (error as { code?: string }).code;
    return new RequestFailure(true, `connection failed (${code ? `${code}: ` : ""}${(error as Error).message})`, status, undefined, error);
  } finally {
    clearTimeout(timer);
  }
}

/** The OpenAI error body's `error.message`, else the first 200 characters of the body. */
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
