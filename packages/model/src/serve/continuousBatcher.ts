// Continuous batching for the server, as vLLM schedules: one loop owns a running batch of rows (prompt × sample) and
// its KV cache. Between decode steps it prefills waiting requests (a step of their own) and merges their cache rows
// into the running cache (DecodeModel.mergeCaches left-pads the shorter rows), and a row leaves the batch as soon as it
// finishes, so a request never waits for another one's generation to end and the decode step stays full under load.
// Sampling, stop strings, log-probs and seeds are generate()'s own (src/generate/generate.ts): a request's samples do
// not depend on what else is in the batch, so greedy output equals a solo run.
import type { CacheRows, DecodeModel, GeneratedSample, KvCache, ModelTokenizer } from "../engine.js";
import { ModelError } from "../errors.js";
import { accept, batchInput, finishRow, newRow, padIdOf, type Row, resolveSampling } from "../generate/generate.js";
import { ApiError } from "./apiError.js";
import type { BatchJob, JobQueue } from "./batcher.js";

export interface ContinuousBatcherOptions {
  /** Must implement `mergeCaches` (both engines do). */
  model: DecodeModel;
  tokenizer: ModelTokenizer;
  /** Most rows (prompts × n) decoded together; waiting rows join as running rows finish. @default 16 */
  maxBatchSize?: number;
  /** Most jobs waiting to join the batch; one more is refused with 429. @default 256 */
  maxQueue?: number;
  /**
   * Awaited before every scheduler iteration, so that new requests are read, SSE chunks flushed and disconnects noticed
   * between steps (tfjs cpu/wasm steps never return to the event loop on their own). @default one setImmediate turn
   */
  yieldTurn?: () => Promise<void>;
}

/** Counts of what the continuous batcher has done, for logs, tests and benchmarks. */
export interface ContinuousBatcherStats {
  /** Decode steps run (one new token for every running row). */
  steps: number;
  /** Prefill steps run (prompts joining the batch). */
  prefills: number;
  /** Rows in each decode step, in step order (the last 1000). */
  rowsPerStep: number[];
}

interface Job {
  job: BatchJob;
  /** `samples[i][j]`: the row of sample j of `job.requests[i]`. */
  samples: JobRow[][];
  /** Rows not yet admitted to the running batch, in order. */
  waiting: JobRow[];
  resolve: (samples: GeneratedSample[][]) => void;
  reject: (error: unknown) => void;
  settled: boolean;
}

interface JobRow extends Row {
  job: Job;
}

/** Rows of one prefill step and the rows of its cache that hold them (a prompt with n samples fills n rows from one). */
interface Part {
  cache: KvCache;
  rows: JobRow[];
  cacheRows: number[];
}

const yieldMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A FIFO queue of generation jobs and one scheduler loop that, each iteration, (1) retires finished rows and admits
 * waiting ones up to `maxBatchSize` (prefilling their prompts and merging their caches into the running cache), then
 * (2) runs one decode step for every running row. A job resolves as soon as its last row finishes.
 */
export class ContinuousBatcher implements JobQueue {
  readonly maxBatchSize: number;
  readonly maxQueue: number;
  readonly stats: ContinuousBatcherStats = { steps: 0, prefills: 0, rowsPerStep: [] };
  readonly #model: DecodeModel;
  readonly #mergeCaches: NonNullable<DecodeModel["mergeCaches"]>;
  readonly #tokenizer: ModelTokenizer;
  readonly #yieldTurn: () => Promise<void>;
  readonly #padId: number;
  #queue: Job[] = [];
  /** Running rows; row b of `#cache` holds the keys of `#running[b]` (all but its last sampled token). */
  #running: JobRow[] = [];
  #cache: KvCache | undefined;
  #loop: Promise<void> | undefined;
  #closed = false;

  constructor(options: ContinuousBatcherOptions) {
    this.maxBatchSize = options.maxBatchSize ?? 16;
    this.maxQueue = options.maxQueue ?? 256;
    if (!Number.isInteger(this.maxBatchSize) || this.maxBatchSize < 1) throw new ModelError("serve", `maxBatchSize must be a positive integer, got ${this.maxBatchSize}`);
    if (!Number.isInteger(this.maxQueue) || this.maxQueue < 1) throw new ModelError("serve", `maxQueue must be a positive integer, got ${this.maxQueue}`);
    const { model } = options;
    if (model.mergeCaches === undefined) throw new ModelError("serve", 'continuous batching needs DecodeModel.mergeCaches, which this model does not implement; use batching "static".');
    this.#model = model;
    this.#mergeCaches = model.mergeCaches.bind(model);
    this.#tokenizer = options.tokenizer;
    this.#yieldTurn = options.yieldTurn ?? yieldMacrotask;
    this.#padId = padIdOf(model, options.tokenizer);
  }

  /** Jobs waiting to join the batch (a job with some rows admitted still counts). */
  get queued(): number {
    return this.#queue.length;
  }

  /** Rows in the running batch. */
  get running(): number {
    return this.#running.length;
  }

  /**
   * Queues `job`; resolves with `result[i][j]` = sample j of `job.requests[i]`. Throws at once (an ApiError: 429 when
   * the queue is full, 503 after close, 499 when already aborted); rejects with a ModelError for an invalid request.
   */
  submit(job: BatchJob): Promise<GeneratedSample[][]> {
    if (this.#closed) throw shuttingDown();
    if (this.#queue.length >= this.maxQueue) {
      throw new ApiError(429, `The server's queue is full (${this.maxQueue} requests waiting); retry later.`, null, "rate_limit_exceeded");
    }
    if (job.signal?.aborted) throw abortError();
    let resolved: ReturnType<typeof resolveSampling>[];
    try {
      resolved = job.requests.map((r, i) => resolveSampling(r, i, this.#model, this.#tokenizer));
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const entry: Job = { job, samples: [], waiting: [], resolve, reject, settled: false };
      entry.samples = resolved.map((r, request) => Array.from({ length: r.n }, (_, sample) => ({ ...newRow(r, request, sample, this.#model, this.#tokenizer), job: entry })));
      entry.waiting = entry.samples.flat().filter((row) => row.finishReason === undefined);
      if (entry.waiting.length === 0) {
        settleDone(entry);
        return;
      }
      this.#queue.push(entry);
      job.signal?.addEventListener("abort", () => this.#onAbort(entry), { once: true });
      this.#loop ??= this.#drain();
    });
  }

  /** Refuses new jobs, rejects the waiting and running ones with 503 and waits for the loop to stop. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) settle(job, undefined, shuttingDown());
    for (const row of this.#running) settle(row.job, undefined, shuttingDown());
    await this.#loop;
  }

  async #drain(): Promise<void> {
    try {
      for (;;) {
        // Also lets the requests of the submitting turn arrive before the first prefill, so they share it.
        await this.#yieldTurn();
        if (this.#closed) return;
        try {
          await this.#schedule();
          if (this.#running.length > 0) await this.#decode();
        } catch (error) {
          // Not a step (those are retried row by row) but the cache bookkeeping: the running rows cannot go on.
          fail(this.#running, error);
          this.#cache?.dispose();
          this.#cache = undefined;
          this.#running = [];
        }
        if (this.#running.length === 0 && this.#queue.length === 0) return;
      }
    } finally {
      // After close(): rows admitted while it ran (their prefill in flight) still need their 503.
      for (const row of this.#running) settle(row.job, undefined, shuttingDown());
      this.#cache?.dispose();
      this.#cache = undefined;
      this.#running = [];
      this.#loop = undefined;
    }
  }

  /** Retires finished rows (and rows of settled jobs), admits waiting rows up to maxBatchSize, and rebuilds the cache. */
  async #schedule(): Promise<void> {
    const room = this.maxBatchSize - this.#running.filter(isLive).length;
    const admitted = this.#admit(room);
    let parts: Part[] = [];
    try {
      parts = admitted.length > 0 ? await this.#prefill(admitted) : [];
      this.#rebuild(parts);
    } catch (error) {
      // Rows taken from the queue are in no list the caller fails.
      fail(admitted, error);
      throw error;
    } finally {
      for (const part of parts) part.cache.dispose();
    }
  }

  /** Rebuilds the running cache from its live rows and the joining ones (`parts`), when either changed. */
  #rebuild(parts: readonly Part[]): void {
    // After the prefill: a job may have been aborted while it ran.
    const keep = this.#running.flatMap((row, b) => (isLive(row) ? [b] : []));
    const old = this.#cache;
    const merged: CacheRows[] = [];
    const running: JobRow[] = [];
    if (old !== undefined && keep.length > 0) {
      const kept = keep.map((b) => this.#running[b] as JobRow);
      merged.push({ cache: old, rows: keep, lengths: kept.map(cachedLength) });
      running.push(...kept);
    }
    for (const part of parts) {
      const live = part.rows.flatMap((row, i) => (isLive(row) ? [i] : []));
      if (live.length === 0) continue;
      const joining = live.map((i) => part.rows[i] as JobRow);
      merged.push({ cache: part.cache, rows: live.map((i) => part.cacheRows[i] as number), lengths: joining.map(cachedLength) });
      running.push(...joining);
    }
    const unchanged = parts.length === 0 && keep.length === this.#running.length;
    if (!unchanged) {
      // Leading positions that are padding in every row are dropped: a long row leaving shortens the cache.
      this.#cache = running.length > 0 ? this.#mergeCaches(merged, Math.max(...running.map(cachedLength))) : undefined;
      this.#running = running;
      old?.dispose();
    }
  }

  /** Takes up to `room` waiting rows, in queue order; a job leaves the queue once all its rows are taken. */
  #admit(room: number): JobRow[] {
    const taken: JobRow[] = [];
    while (taken.length < room && this.#queue.length > 0) {
      const job = this.#queue[0] as Job;
      taken.push(...job.waiting.splice(0, room - taken.length));
      if (job.waiting.length === 0) this.#queue.shift();
    }
    return taken;
  }

  /**
   * Prefills the prompts of `rows` (each distinct prompt once, left-padded) and samples each row's first token. When
   * the step fails, each prompt is retried alone, so that only the jobs whose prompt breaks it get the error.
   */
  async #prefill(rows: JobRow[]): Promise<Part[]> {
    const prompts: JobRow[] = [];
    const promptOf = rows.map((row) => {
      const i = prompts.findIndex((p) => p.job === row.job && p.request === row.request);
      if (i >= 0) return i;
      prompts.push(row);
      return prompts.length - 1;
    });
    const vocab = this.#model.vocabSize;
    const promptLength = Math.max(...prompts.map((p) => p.prompt.length));
    let out: Awaited<ReturnType<DecodeModel["step"]>>;
    try {
      this.stats.prefills++;
      out = await this.#model.step(batchInput(prompts, promptLength, this.#padId, 0, false));
    } catch (error) {
      if (prompts.length === 1) {
        fail(rows, error);
        return [];
      }
      const parts: Part[] = [];
      for (const p of prompts) parts.push(...(await this.#prefill(rows.filter((_, i) => prompts[promptOf[i] as number] === p))));
      return parts;
    }
    rows.forEach((row, i) => {
      const b = promptOf[i] as number;
      if (isLive(row)) accept(row, out.logits.subarray(b * vocab, (b + 1) * vocab), row.job.job);
    });
    settleFinished(rows);
    return [{ cache: out.cache, rows, cacheRows: promptOf }];
  }

  /** One decode step for every running row. When it fails, each row is stepped alone so that only failing rows' jobs fail. */
  async #decode(): Promise<void> {
    const rows = this.#running;
    const cache = this.#cache as KvCache;
    const vocab = this.#model.vocabSize;
    this.stats.steps++;
    this.stats.rowsPerStep.push(rows.length);
    if (this.stats.rowsPerStep.length > 1000) this.stats.rowsPerStep.shift();
    try {
      const out = await this.#model.step({ ...decodeInput(rows, cache.length), cache });
      cache.dispose();
      this.#cache = out.cache;
      rows.forEach((row, b) => {
        if (isLive(row)) accept(row, out.logits.subarray(b * vocab, (b + 1) * vocab), row.job.job);
      });
      settleFinished(rows);
      return;
    } catch (error) {
      if (rows.length === 1) {
        fail(rows, error);
        return;
      }
    }
    const parts: CacheRows[] = [];
    const stepped: JobRow[] = [];
    try {
      for (const row of rows) {
        if (!isLive(row)) continue;
        const single = this.#model.selectRows(cache, [rows.indexOf(row)]);
        try {
          const out = await this.#model.step({ ...decodeInput([row], cache.length), cache: single });
          parts.push({ cache: out.cache, rows: [0] });
          stepped.push(row);
          accept(row, out.logits.subarray(0, vocab), row.job.job);
        } catch (error) {
          fail([row], error);
        } finally {
          single.dispose();
        }
      }
      this.#cache = parts.length > 0 ? this.#mergeCaches(parts, cache.length + 1) : undefined;
      this.#running = stepped;
      cache.dispose();
      settleFinished(stepped);
    } finally {
      for (const part of parts) part.cache.dispose();
    }
  }

  #onAbort(job: Job): void {
    const at = this.#queue.indexOf(job);
    if (at >= 0) this.#queue.splice(at, 1);
    // Its running rows leave the batch at the next iteration.
    settle(job, undefined, abortError());
  }
}

/** A row still decoding for a job that still wants it. */
const isLive = (row: JobRow) => row.finishReason === undefined && !row.job.settled;

/** Key positions of `row` in the cache: its prompt and every sampled token but the last (which the next step feeds). */
const cachedLength = (row: Row) => row.prompt.length + row.tokenIds.length - 1;

/** One new token per row (its last sampled one) on top of a cache of `cacheLength` positions, each row left-padded. */
function decodeInput(rows: readonly Row[], cacheLength: number) {
  const batch = rows.length;
  const total = cacheLength + 1;
  const ids = new Int32Array(batch);
  const positionIds = new Int32Array(batch);
  const keyMask = new Uint8Array(batch * total);
  rows.forEach((row, b) => {
    const real = cachedLength(row);
    ids[b] = row.tokenIds.at(-1) as number;
    positionIds[b] = real;
    keyMask.fill(1, b * total + cacheLength - real, (b + 1) * total);
  });
  return { ids, positionIds, keyMask, batch, newTokens: 1 };
}

/** Resolves the jobs of `rows` whose every row has finished. */
function settleFinished(rows: readonly JobRow[]): void {
  for (const row of rows) {
    if (row.finishReason !== undefined && !row.job.settled && row.job.waiting.length === 0 && row.job.samples.every((s) => s.every((r) => r.finishReason !== undefined))) {
      settleDone(row.job);
    }
  }
}

function settleDone(job: Job): void {
  settle(
    job,
    job.samples.map((samples) => samples.map(finishRow)),
  );
}

function fail(rows: readonly JobRow[], error: unknown): void {
  for (const row of rows) settle(row.job, undefined, error);
}

function settle(job: Job, value: GeneratedSample[][] | undefined, error?: unknown): void {
  if (job.settled) return;
  job.settled = true;
  if (value !== undefined && error === undefined) job.resolve(value);
  else job.reject(error);
}

function shuttingDown(): ApiError {
  return new ApiError(503, "The server is shutting down.", null, "server_shutting_down");
}

/** 499 is nginx's "client closed request": nobody reads it, but logs show why the request ended. */
function abortError(): ApiError {
  return new ApiError(499, "The client closed the request.", null, "client_closed_request");
}
