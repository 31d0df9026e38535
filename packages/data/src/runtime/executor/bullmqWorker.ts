// The BullMQ executor's worker: pulls task jobs from the queue and runs them (runTask), on any machine that sees the
// run directory at the coordinator's path. A worker that dies mid-task loses its job lock; another worker's stalled
// check then re-delivers the task (tasks are idempotent, so a half-done one is simply redone).

import { hostname } from "node:os";
import { DataError } from "../../errors.js";
import { createLogger } from "../logger.js";
import type { Logger } from "../types.js";
import { DEFAULT_BULLMQ_QUEUE, loadBullmq, redactRedisUrl, redisConnection } from "./bullmq.js";
import { isRetryable } from "./runTask.js";
import type { TaskResult, TaskSpec } from "./types.js";

/** Runs one task; {@link runTask} unless a test injects another. */
export type BullmqTaskHandler = (spec: TaskSpec, options: { worker: string; signal?: AbortSignal }) => Promise<TaskResult>;

/** A task this worker finished or failed (one try). */
export interface BullmqWorkerEvent {
  task: TaskSpec;
  /** Which try this was, from 1. */
  attempt: number;
  result?: TaskResult;
  /** `final`: no try is left, the coordinator's `execute` fails. */
  error?: { message: string; final: boolean };
}

/** Options of {@link runBullmqWorker}. */
export interface BullmqWorkerOptions {
  /** Redis URL, the coordinator's: `redis://host:6379`. */
  redis: string;
  /** Queue to take tasks from (the coordinator's `queue`). @default "infialign-data" */
  queue?: string;
  /**
   * Tasks run at once in this process. They share one thread: more than 1 helps stages that wait on the network
   * (teacher generation); for CPU-bound stages start one worker process per core instead.
   * @default 1
   */
  concurrency?: number;
  /** Aborting it stops taking tasks, lets the running ones finish, then resolves. */
  signal?: AbortSignal;
  /** Called after each try of a task. */
  onTask?: (event: BullmqWorkerEvent) => void;
  /** Runs a task. @default runTask */
  handler?: BullmqTaskHandler;
  /** Name recorded in task results and in Redis. @default "<hostname>:<pid>" */
  worker?: string;
  /**
   * Job lock in ms, renewed every half of it while a task runs. A worker unheard of for this long (killed, machine
   * lost, event loop blocked) loses the task, which is re-delivered.
   * @default 60000
   */
  lockMs?: number;
  /** How often this worker looks for tasks whose worker lost its lock, ms. @default 30000 */
  stalledIntervalMs?: number;
  /** Times a task may lose its worker before it fails for good. @default 5 */
  maxStalledCount?: number;
  /** Prefix of the queue's Redis keys (the coordinator's `prefix`). @default "bull" */
  prefix?: string;
  /** Where connection problems go. @default stderr */
  logger?: Logger;
}

/** What a worker did before it stopped. */
export interface BullmqWorkerSummary {
  worker: string;
  completed: number;
  failed: number;
}

const firstLine = (text: string | undefined) => (text ?? "").split("\n")[0] ?? "";
/** A time limit for a race; it does not keep the process alive. */
const guard = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Takes tasks from the queue and runs them until `signal` aborts (SIGTERM in `infialign-data worker`), then finishes
 * the running tasks and resolves. Redis going away is survived: the connection is retried until Redis is back.
 */
export async function runBullmqWorker(options: BullmqWorkerOptions): Promise<BullmqWorkerSummary> {
  const component = "bullmq worker";
  const queueName = options.queue ?? DEFAULT_BULLMQ_QUEUE;
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new DataError(component, `concurrency must be a positive integer, got ${concurrency}`);
  const lockMs = options.lockMs ?? 60_000;
  if (!(lockMs >= 100)) throw new DataError(component, `lockMs must be at least 100 ms, got ${lockMs}`);
  if (queueName.includes(":")) throw new DataError(component, `queue "${queueName}" contains ":", which BullMQ does not allow in queue names`);
  const identity = options.worker ?? `${hostname()}:${process.pid}`;
  const summary: BullmqWorkerSummary = { worker: identity, completed: 0, failed: 0 };
  if (options.signal?.aborted) return summary;
  const { UnrecoverableError, Worker } = loadBullmq(component);
  const handler: BullmqTaskHandler = options.handler ?? (async (spec, o) => (await import("./runTask.js")).runTask(spec, o));
  const logger = options.logger ?? createLogger();
  const url = redactRedisUrl(options.redis);

  let stopped = false;
  // The tasks this process runs, so that a stop can wait for them even when Redis is away.
  const inFlight = new Set<Promise<TaskResult>>();
  const worker = new Worker<TaskSpec, TaskResult>(
    queueName,
    (job, _token, signal) => {
      // A try that fails the same way every time (strict mode, other stages than the coordinator's) is not retried.
      const task = handler(job.data, { worker: identity, signal }).catch((error: unknown) => {
        if (isRetryable(error)) throw error;
        throw new UnrecoverableError(error instanceof Error ? error.message : String(error));
      });
      inFlight.add(task);
      return task.finally(() => inFlight.delete(task));
    },
    {
      connection: redisConnection(options.redis, () => stopped),
      prefix: options.prefix,
      name: identity,
      concurrency,
      lockDuration: lockMs,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      maxStalledCount: options.maxStalledCount ?? 5,
      autorun: false,
    },
  );
  worker.on("completed", (job, result) => {
    summary.completed++;
    options.onTask?.({ task: job.data, attempt: job.attemptsMade, result });
  });
  worker.on("failed", (job, error) => {
    if (!job) return;
    const final = job.finishedOn !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
    if (final) summary.failed++;
    options.onTask?.({ task: job.data, attempt: job.attemptsMade, error: { message: firstLine(error?.message), final } });
  });
  // Connection errors repeat while ioredis reconnects (it retries until Redis is back): say each once in 30 s.
  let lastLogged = "";
  let lastLoggedAt = 0;
  worker.on("error", (error) => {
    const message = firstLine(error?.message) || String(error);
    if (message === lastLogged && Date.now() - lastLoggedAt < 30_000) return;
    lastLogged = message;
    lastLoggedAt = Date.now();
    logger.warn(`[infialign/data] ${component} ${identity} (Redis at ${url}): ${message}`);
  });

  const abort = new Promise<void>((resolve) => options.signal?.addEventListener("abort", () => resolve(), { once: true }));
  const running = worker.run();
  try {
    await Promise.race([running, abort]);
  } finally {
    // Stop taking tasks, let the running ones finish. Closing also tells Redis, which never answers while it is away:
    // once no task runs, give it a few seconds, then drop the connection (a task left active is re-delivered).
    const closing = worker.close().catch(() => {});
    running.catch(() => {});
    await Promise.allSettled([...inFlight]);
    const closed = await Promise.race([closing.then(() => true), guard(5000).then(() => false)]);
    if (!closed) {
      stopped = true; // the connections end at their next failed reconnect, which ends close()
      await Promise.race([closing, guard(15_000)]);
    }
  }
  return summary;
}
