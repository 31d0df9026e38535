import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { type Dispatcher, request } from "undici";
import type { BackoffConfig, HealthCheckConfig } from "./config.js";
import { attemptJson, backoffDelay, type FinalFailure, RequestFailure, type RetryInfo } from "./jsonRequest.js";

/** `"up"`: routed to; `"down"`: failed a request or probe, routed to only when no endpoint is up; `"unknown"`: not probed yet. */
export type EndpointState = "up" | "down" | "unknown";

/** What one endpoint of a fleet has done so far, for logs. */
export interface EndpointStats {
  /** Base URL, as configured. */
  baseURL: string;
  state: EndpointState;
  /** Most requests in flight on it at once. */
  concurrency: number;
  /** Requests in flight now. */
  inFlight: number;
  /** HTTP attempts sent to it, health probes not included. */
  requests: number;
  /** Attempts that returned a usable reply. */
  successes: number;
  /** Attempts that failed: connection errors, timeouts, error statuses, unreadable bodies. */
  failures: number;
  /** Mean duration of the successful attempts, in ms; undefined before the first. */
  meanLatencyMs: number | undefined;
  /** Health probes (`GET <baseURL>/models`) completed. */
  probes: number;
  /** Reason of the last failed attempt or probe. */
  lastError?: string;
}

/** One line per endpoint, for logs: `<baseURL> [up]: 812 requests, 810 ok, 2 failed, mean latency 412 ms, 3 health checks; last failure: …`. */
export function formatEndpointStats(stats: readonly EndpointStats[]): string[] {
  return stats.map((s) => {
    const latency = s.meanLatencyMs === undefined ? "-" : `${Math.round(s.meanLatencyMs)} ms`;
    const last = s.failures > 0 && s.lastError ? `; last failure: ${s.lastError}` : "";
    return `${s.baseURL} [${s.state}]: ${s.requests} requests, ${s.successes} ok, ${s.failures} failed, mean latency ${latency}, ${s.probes} health checks${last}`;
  });
}

/** An endpoint with its defaults applied. */
export interface FleetEndpoint {
  baseURL: string;
  concurrency: number;
  /** Request headers, the API key's `Authorization` included. */
  headers: Record<string, string>;
}

export interface EndpointFleetOptions {
  endpoints: FleetEndpoint[];
  dispatcher: Dispatcher;
  /** Retries, each after a backoff wait, once no other endpoint is left to fail over to. */
  maxRetries: number;
  timeoutMs: number;
  backoff: BackoffConfig;
  healthCheck: HealthCheckConfig;
  /** Goes in parentheses after `POST <endpoint>` in the final error message, e.g. `model "x"`. */
  context?: string;
  toError: (message: string, failure: FinalFailure) => Error;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /** Clock of `Retry-After` dates and of the health checks' schedule, in ms. @default Date.now */
  now?: () => number;
  onRetry?: (info: RetryInfo) => void;
}

/** The routing state of one endpoint: what `pickEndpoint` reads. */
export interface RouteView {
  state: EndpointState;
  inFlight: number;
  concurrency: number;
}

interface Member extends RouteView {
  index: number;
  baseURL: string;
  /** Base URL without trailing slashes, to append paths to. */
  root: string;
  headers: Record<string, string>;
  requests: number;
  successes: number;
  failures: number;
  latencyMs: number;
  probes: number;
  lastError?: string;
  probing: boolean;
  /** Failed requests and probes since the last successful request; sets how long it stays down. */
  failuresInRow: number;
  /** When a down endpoint is probed (or, without health checks, tried) again, on `now`'s clock. */
  downUntil: number;
  /** Last successful request or probe, on `now`'s clock. */
  lastOkAt: number;
}

interface Waiter {
  exclude: ReadonlySet<number>;
  grant: (member: Member) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
}

/**
 * The endpoint a request goes to, or undefined when it must wait for a slot. Endpoints are ranked up, then not yet
 * probed, then down, each first among those `exclude` does not name (the ones this request just failed on); the
 * best rank present is used even when all its slots are busy, so a request waits for a healthy endpoint rather than
 * go to a down one. Within the rank, the least loaded endpoint with a free slot wins: fewest requests in flight
 * relative to its concurrency, the lowest index on a tie.
 */
export function pickEndpoint(endpoints: readonly RouteView[], exclude: ReadonlySet<number> = new Set()): number | undefined {
  const rank = (e: RouteView, i: number) => (e.state === "down" ? 4 : 0) + (exclude.has(i) ? 2 : 0) + (e.state === "unknown" ? 1 : 0);
  let best = Number.POSITIVE_INFINITY;
  endpoints.forEach((e, i) => {
    best = Math.min(best, rank(e, i));
  });
  let chosen: number | undefined;
  let chosenLoad = Number.POSITIVE_INFINITY;
  endpoints.forEach((e, i) => {
    if (rank(e, i) !== best || e.inFlight >= e.concurrency) return;
    const load = e.inFlight / e.concurrency;
    if (load < chosenLoad) {
      chosen = i;
      chosenLoad = load;
    }
  });
  return chosen;
}

/**
 * Several OpenAI-compatible servers of one model behind one retrying POST: per-endpoint concurrency limits,
 * least-loaded routing, health checks (`GET <baseURL>/models`) and failover. A connection error, timeout or 5xx marks
 * the endpoint down and the request goes at once to another healthy endpoint; a down endpoint is probed again after
 * `downMs`, doubling with each failure in a row up to `maxDownMs`, and comes back when a probe answers. When no other
 * endpoint is left, the request waits out a backoff and retries (at most `maxRetries` times), as with one server.
 * 4xx other than 408 and 429 fail at once: another replica would refuse the same request.
 */
export class EndpointFleet {
  private readonly members: Member[];
  private readonly queue: Waiter[] = [];
  private readonly now: () => number;
  private started: Promise<void> | undefined;
  private readonly watched = new WeakMap<AbortSignal, Set<Waiter>>();

  constructor(private readonly options: EndpointFleetOptions) {
    this.now = options.now ?? Date.now;
    // Without health checks an endpoint is trusted until a request fails on it.
    const state: EndpointState = options.healthCheck.enabled ? "unknown" : "up";
    this.members = options.endpoints.map((e, index) => ({
      index,
      baseURL: e.baseURL,
      root: e.baseURL.replace(/\/+$/, ""),
      headers: e.headers,
      concurrency: e.concurrency,
      state,
      inFlight: 0,
      requests: 0,
      successes: 0,
      failures: 0,
      latencyMs: 0,
      probes: 0,
      probing: false,
      failuresInRow: 0,
      downUntil: 0,
      lastOkAt: 0,
    }));
  }

  /** Per-endpoint counters, in configuration order. */
  stats(): EndpointStats[] {
    return this.members.map((m) => ({
      baseURL: m.baseURL,
      state: m.state,
      concurrency: m.concurrency,
      inFlight: m.inFlight,
      requests: m.requests,
      successes: m.successes,
      failures: m.failures,
      meanLatencyMs: m.successes > 0 ? m.latencyMs / m.successes : undefined,
      probes: m.probes,
      ...(m.lastError !== undefined ? { lastError: m.lastError } : {}),
    }));
  }

  /**
   * POSTs `body` to `<baseURL><path>` of the endpoint routing picks, failing over and retrying as the class says.
   * @returns the parsed result and the number of HTTP attempts made, on every endpoint together.
   */
  async post<T>(path: string, body: string, parse: (json: unknown, status: number) => T | RequestFailure, signal?: AbortSignal): Promise<{ value: T; attempts: number }> {
    const { maxRetries, backoff, timeoutMs, dispatcher } = this.options;
    const sleep = this.options.sleep ?? ((ms, s) => delay(ms, undefined, s ? { signal: s } : {}));
    const exclude = new Set<number>();
    const tries = new Map<Member, number>();
    let retries = 0;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const member = await this.acquire(exclude, signal);
      tries.set(member, (tries.get(member) ?? 0) + 1);
      const started = performance.now();
      let result: T | RequestFailure;
      try {
        result = await attemptJson({ endpoint: `${member.root}${path}`, headers: member.headers, body, dispatcher, timeoutMs, parse, signal, now: this.now });
      } catch (error) {
        // Only an abort of the caller's signal lands here: neither a success nor the endpoint's fault.
        this.release(member);
        throw error;
      }
      if (!(result instanceof RequestFailure)) {
        member.successes++;
        member.latencyMs += performance.now() - started;
        member.failuresInRow = 0;
        member.state = "up";
        member.lastOkAt = this.now();
        this.release(member);
        return { value: result, attempts: attempt };
      }
      member.failures++;
      member.lastError = result.reason;
      // The server or the path to it failed; 408, 429 and unreadable bodies say nothing about its health.
      if (result.status === undefined || result.status >= 500) this.markDown(member, result.reason, false);
      this.release(member);
      const status = result.status !== undefined ? { status: result.status } : {};
      if (!result.retryable) throw this.finalError(path, tries, member, attempt, result);
      exclude.add(member.index);
      // Another endpoint is up: go there now, spending no retry; a retry is a backoff wait once none is left.
      if (this.members.some((m) => m.state !== "down" && !exclude.has(m.index))) {
        this.options.onRetry?.({ attempt, delayMs: 0, reason: result.reason, ...status, endpoint: member.baseURL, failover: true });
        continue;
      }
      if (retries >= maxRetries) throw this.finalError(path, tries, member, attempt, result);
      retries++;
      const wait = result.retryAfterMs !== undefined ? Math.min(result.retryAfterMs, backoff.maxMs) : backoffDelay(retries, backoff, this.options.random);
      this.options.onRetry?.({ attempt, delayMs: wait, reason: result.reason, ...status, endpoint: member.baseURL });
      await sleep(wait, signal);
      // Every endpoint failed this request: start over. Otherwise the next try favours one it has not failed on.
      if (exclude.size >= this.members.length) exclude.clear();
    }
  }

  private finalError(path: string, tries: Map<Member, number>, last: Member, attempts: number, failure: RequestFailure): Error {
    const { context, toError } = this.options;
    const count = `${attempts} attempt${attempts === 1 ? "" : "s"}`;
    const ctx = context ? ` (${context})` : "";
    let message: string;
    if (tries.size === 1) {
      const hint = failure.retryable ? " Check that the server is up and not overloaded, or raise maxRetries / timeoutMs." : "";
      message = `POST ${last.root}${path}${ctx} failed after ${count}: ${failure.reason}.${hint}`;
    } else {
      const where = [...tries].map(([m, n]) => `${m.baseURL} ×${n}`).join(", ");
      const hint = failure.retryable ? " Check that the servers are up and not overloaded, or raise maxRetries / timeoutMs." : "";
      message = `POST ${path}${ctx} failed after ${count} on ${tries.size} endpoints (${where}); the last, on ${last.baseURL}: ${failure.reason}.${hint}`;
    }
    return toError(message, { attempts, status: failure.status, cause: failure.cause });
  }

  /** Waits for a slot on the endpoint routing picks; the first call probes every endpoint first (health checks on). */
  private async acquire(exclude: ReadonlySet<number>, signal: AbortSignal | undefined): Promise<Member> {
    if (this.options.healthCheck.enabled) await (this.started ??= Promise.all(this.members.map((m) => this.probe(m))).then(() => {}));
    signal?.throwIfAborted();
    return new Promise<Member>((resolve, reject) => {
      let granted = false;
      const grant = (member: Member) => {
        granted = true;
        resolve(member);
      };
      const waiter: Waiter = { exclude, grant, reject, signal };
      this.queue.push(waiter);
      this.dispatch();
      if (signal && !granted) this.watch(signal).add(waiter);
    });
  }

  /**
   * The waiters queued under `signal`, behind one abort listener per signal: a stage passes one signal with every
   * request, and a listener per queued request would pile up on it.
   */
  private watch(signal: AbortSignal): Set<Waiter> {
    let waiters = this.watched.get(signal);
    if (!waiters) {
      const set = new Set<Waiter>();
      waiters = set;
      this.watched.set(signal, set);
      signal.addEventListener(
        "abort",
        () => {
          for (const w of set) {
            const at = this.queue.indexOf(w);
            if (at >= 0) this.queue.splice(at, 1);
            w.reject(signal.reason);
          }
          set.clear();
        },
        { once: true },
      );
    }
    return waiters;
  }

  private release(member: Member): void {
    member.inFlight--;
    this.dispatch();
  }

  /** Starts the probes that are due, then hands free slots to waiting requests in arrival order. */
  private dispatch(): void {
    const now = this.now();
    const { enabled, intervalMs } = this.options.healthCheck;
    for (const m of this.members) {
      if (m.state === "down" && now >= m.downUntil) {
        // Without probes, the next request routed to it is the probe.
        if (!enabled) m.state = "up";
        else if (!m.probing) void this.probe(m);
      } else if (enabled && m.state === "up" && !m.probing && now - m.lastOkAt >= intervalMs) {
        void this.probe(m);
      }
    }
    // Waiters that failed nowhere yet all rank endpoints alike: once one of them must wait, so do the others.
    let plainBlocked = false;
    for (let i = 0; i < this.queue.length; ) {
      const waiter = this.queue[i]!;
      const plain = waiter.exclude.size === 0;
      const at = plain && plainBlocked ? undefined : pickEndpoint(this.members, waiter.exclude);
      if (at === undefined) {
        if (plain) plainBlocked = true;
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      const member = this.members[at]!;
      member.inFlight++;
      member.requests++;
      if (waiter.signal) this.watched.get(waiter.signal)?.delete(waiter);
      waiter.grant(member);
    }
  }

  /** `GET <baseURL>/models`: any 2xx is up. Never rejects. */
  private async probe(member: Member): Promise<void> {
    const { dispatcher, healthCheck } = this.options;
    member.probing = true;
    try {
      const res = await request(`${member.root}/models`, { method: "GET", headers: member.headers, dispatcher, signal: AbortSignal.timeout(healthCheck.timeoutMs) });
      await res.body.text();
      if (res.statusCode >= 200 && res.statusCode < 300) {
        member.state = "up";
        member.lastOkAt = this.now();
      } else {
        this.markDown(member, `health check GET ${member.root}/models answered HTTP ${res.statusCode}`, true);
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      this.markDown(member, `health check GET ${member.root}/models failed (${code ? `${code}: ` : ""}${(error as Error).message})`, true);
    } finally {
      member.probing = false;
      member.probes++;
      this.dispatch();
    }
  }

  /**
   * Routes around `member` until `downMs · 2^(failures in a row − 1)` (at most `maxDownMs`) has passed. Requests
   * already in flight that fail too do not lengthen the wait: they report the same outage; a failed probe does.
   */
  private markDown(member: Member, reason: string, probe: boolean): void {
    member.lastError = reason;
    if (member.state === "down" && !probe) return;
    member.state = "down";
    member.failuresInRow++;
    const { downMs, maxDownMs } = this.options.healthCheck;
    member.downUntil = this.now() + Math.min(maxDownMs, downMs * 2 ** (member.failuresInRow - 1));
  }
}
