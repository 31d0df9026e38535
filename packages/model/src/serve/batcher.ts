// Static batching for the server (`batching: "static"`): requests that arrive while a generation runs wait in a FIFO
// queue and are merged into the next GenerateFn call, so one decode loop serves many HTTP clients. A GenerateFn call is
// the unit, which keeps the generator unaware of the server and lets a caller plug in its own GenerateFn; the default,
// continuousBatcher.ts, batches per decode step as vLLM does.
import type { GeneratedSample, GenerateOptions, GenerationRequest } from "../engine.js";
import { ApiError } from "./apiError.js";

/** The work of one HTTP request: its prompts (each with its own sampling options) and how to follow its tokens. */
export interface BatchJob {
  requests: readonly GenerationRequest[];
  /** Called with each sampled token of this job (indices local to `requests`). */
  onToken?: (requestIndex: number, sampleIndex: number, tokenId: number) => void;
  /** Aborting drops the job: removed from the queue, or its rows ignored (and the call aborted once no job needs it). */
  signal?: AbortSignal;
}

/** What the server needs of a batcher; the static {@link Batcher} and the ContinuousBatcher implement it. */
export interface JobQueue {
  /** Jobs waiting to be generated. */
  readonly queued: number;
  /** Queues `job`; resolves with `result[i][j]` = sample j of `job.requests[i]`. Throws an ApiError at once when refused. */
  submit(job: BatchJob): Promise<GeneratedSample[][]>;
  /** Refuses new jobs, answers the waiting and running ones with 503, and waits for the running generation to stop. */
  close(): Promise<void>;
}

export interface BatcherOptions {
  /** Runs one merged batch (the server binds model and tokenizer to its GenerateFn). */
  run: (requests: readonly GenerationRequest[], options: GenerateOptions) => Promise<GeneratedSample[][]>;
  /** Most rows (prompts × n) merged into one call; a larger job runs alone. @default 16 */
  maxBatchSize?: number;
  /** Most jobs waiting (not counting the running batch); one more is refused with 429. @default 256 */
  maxQueue?: number;
}

interface Pending {
  job: BatchJob;
  rows: number;
  resolve: (samples: GeneratedSample[][]) => void;
  reject: (error: unknown) => void;
  settled: boolean;
  /** Tokens of this job have been passed to its onToken: it cannot be replayed after a failed batch. */
  started: boolean;
  /** Retried alone after its batch failed, so that one bad request cannot fail the others. */
  alone: boolean;
}

/** Counts of what the batcher has done, for logs and tests. */
export interface BatcherStats {
  /** GenerateFn calls made. */
  batches: number;
  /** Jobs per call, in call order (the last 1000). */
  jobsPerBatch: number[];
}

const rowsOf = (job: BatchJob) => job.requests.reduce((sum, r) => sum + (r.n ?? 1), 0);

/**
 * Static batching: a FIFO queue of generation jobs drained by one loop that merges waiting jobs into each GenerateFn
 * call; a job that arrives during a call waits for the whole call to end (see ContinuousBatcher for per-step joining).
 */
export class Batcher implements JobQueue {
  readonly maxBatchSize: number;
  readonly maxQueue: number;
  readonly stats: BatcherStats = { batches: 0, jobsPerBatch: [] };
  readonly #run: BatcherOptions["run"];
  #queue: Pending[] = [];
  #loop: Promise<void> | undefined;
  #current: AbortController | undefined;
  #closed = false;

  constructor(options: BatcherOptions) {
    this.maxBatchSize = options.maxBatchSize ?? 16;
    this.maxQueue = options.maxQueue ?? 256;
    if (!Number.isInteger(this.maxBatchSize) || this.maxBatchSize < 1) throw new Error(`[infialign/model] serve: maxBatchSize must be a positive integer, got ${this.maxBatchSize}`);
    if (!Number.isInteger(this.maxQueue) || this.maxQueue < 1) throw new Error(`[infialign/model] serve: maxQueue must be a positive integer, got ${this.maxQueue}`);
    this.#run = options.run;
  }

  /** Jobs waiting for a batch. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Queues `job`; resolves with `result[i][j]` = sample j of `job.requests[i]`. Throws at once (an ApiError: 429 when
   * the queue is full, 503 after close, 499 when already aborted), so a streaming reply can still get a real status.
   */
  submit(job: BatchJob): Promise<GeneratedSample[][]> {
    if (this.#closed) throw new ApiError(503, "The server is shutting down.", null, "server_shutting_down");
    if (this.#queue.length >= this.maxQueue) {
      throw new ApiError(429, `The server's queue is full (${this.maxQueue} requests waiting); retry later.`, null, "rate_limit_exceeded");
    }
    if (job.signal?.aborted) throw abortError();
    return new Promise((resolve, reject) => {
      const pending: Pending = { job, rows: rowsOf(job), resolve, reject, settled: false, started: false, alone: false };
      this.#queue.push(pending);
      job.signal?.addEventListener("abort", () => this.#onAbort(pending), { once: true });
      // Started on the next macrotask, so requests that arrive in the same event-loop turn share the first batch too.
      this.#loop ??= new Promise<void>((done) => setImmediate(done)).then(() => this.#drain());
    });
  }

  /** Refuses new jobs, rejects the waiting ones with 503, aborts the running batch and waits for it to settle. */
  async close(): Promise<void> {
    this.#closed = true;
    const shutdown = new ApiError(503, "The server is shutting down.", null, "server_shutting_down");
    for (const p of this.#queue.splice(0)) settle(p, undefined, shutdown);
    this.#current?.abort();
    await this.#loop;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#runBatch(this.#take());
    } finally {
      this.#loop = undefined;
    }
  }

  /** The next batch: queued jobs in order while their rows fit `maxBatchSize` (at least one job; an `alone` job alone). */
  #take(): Pending[] {
    const first = this.#queue.shift() as Pending;
    const batch = [first];
    if (first.alone) return batch;
    let rows = first.rows;
    while (this.#queue.length > 0) {
      const next = this.#queue[0] as Pending;
      if (next.alone || rows + next.rows > this.maxBatchSize) break;
      batch.push(this.#queue.shift() as Pending);
      rows += next.rows;
    }
    return batch;
  }

  async #runBatch(batch: Pending[]): Promise<void> {
    const requests: GenerationRequest[] = [];
    const owner: { pending: Pending; local: number }[] = [];
    const offsets: number[] = [];
    for (const p of batch) {
      offsets.push(requests.length);
      p.job.requests.forEach((r, local) => {
        requests.push(r);
        owner.push({ pending: p, local });
      });
    }
    const controller = new AbortController();
    this.#current = controller;
    const onToken = (requestIndex: number, sampleIndex: number, tokenId: number) => {
      const o = owner[requestIndex];
      if (!o || o.pending.settled) return;
      o.pending.started = true;
      o.pending.job.onToken?.(o.local, sampleIndex, tokenId);
    };
    const stopIfUnneeded = () => {
      if (batch.every((p) => p.settled)) controller.abort();
    };
    for (const p of batch) p.job.signal?.addEventListener("abort", stopIfUnneeded, { once: true });
    this.stats.batches++;
    this.stats.jobsPerBatch.push(batch.length);
    if (this.stats.jobsPerBatch.length > 1000) this.stats.jobsPerBatch.shift();
    try {
      const result = await this.#run(requests, { maxBatchSize: this.maxBatchSize, onToken, signal: controller.signal });
      // Cut short by close(): the samples are truncated, so they are not answered as if complete.
      if (this.#closed) throw new Error("closed");
      if (!Array.isArray(result) || result.length !== requests.length) {
        throw new Error(`[infialign/model] serve: generateFn returned ${Array.isArray(result) ? result.length : typeof result} results for ${requests.length} requests`);
      }
      batch.forEach((p, k) => {
        const slice = result.slice(offsets[k], (offsets[k] as number) + p.job.requests.length);
        const bad = slice.findIndex((samples, i) => !Array.isArray(samples) || samples.length !== (p.job.requests[i]?.n ?? 1));
        if (bad >= 0) settle(p, undefined, new Error(`[infialign/model] serve: generateFn returned a wrong number of samples for request ${bad}`));
        else settle(p, slice);
      });
    } catch (error) {
      if (this.#closed) {
        for (const p of batch) settle(p, undefined, new ApiError(503, "The server is shutting down.", null, "server_shutting_down"));
      } else if (batch.length === 1) {
        settle(batch[0] as Pending, undefined, error);
      } else {
        // The failing request is unknown: jobs that have not streamed anything yet are retried one by one (in their
        // order, ahead of the queue), so only the request that breaks generation gets the error.
        const retry = batch.filter((p) => !p.settled && !p.started);
        for (const p of batch) if (p.started) settle(p, undefined, error);
        for (const p of retry) p.alone = true;
        this.#queue.unshift(...retry);
      }
    } finally {
      this.#current = undefined;
      for (const p of batch) p.job.signal?.removeEventListener("abort", stopIfUnneeded);
    }
  }

  #onAbort(pending: Pending): void {
    const at = this.#queue.indexOf(pending);
    if (at >= 0) this.#queue.splice(at, 1);
    settle(pending, undefined, abortError());
  }
}

function settle(p: Pending, value: GeneratedSample[][] | undefined, error?: unknown): void {
  if (p.settled) return;
  p.settled = true;
  if (value !== undefined && error === undefined) p.resolve(value);
  else p.reject(error);
}

/** 499 is nginx's "client closed request": nobody reads it, but logs show why the request ended. */
function abortError(): ApiError {
  return new ApiError(499, "The client closed the request.", null, "client_closed_request");
}
