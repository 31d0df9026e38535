// The BullMQ executor's coordinator: each task becomes a job of a Redis queue that `infialign-data worker` processes
// (runBullmqWorker), on this machine or others that share the run directory. Redis only transports tasks and
// results; a task's `result.json` in the run directory is the completion marker, so a job lost with Redis is re-added
// and a finished task is never redone because Redis forgot it.
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Job, Queue } from "bullmq";
import { DataError } from "../../errors.js";
import { canonicalJson, sha256Hex } from "../canonicalJson.js";
import { createLogger } from "../logger.js";
import type { Logger } from "../types.js";
import { TaskFailedError } from "./processes.js";
import { readResult } from "./runTask.js";
import type { ExecuteOptions, Executor, TaskEvent, TaskResult, TaskSpec } from "./types.js";

/** Queue that workers and coordinators use when none is named. */
export const DEFAULT_BULLMQ_QUEUE = "infialign-data";

/** Options of {@link createBullmqExecutor}. */
export interface BullmqExecutorOptions {
  /** Redis URL: `redis://host:6379`, `redis://:password@host:6379/0`, `rediss://` for TLS. */
  redis: string;
  /**
   * Queue the workers listen on (`infialign-data worker --queue`). Job ids hash the whole task (run directory
   * included), so runs sharing a queue never mix up their tasks; a queue per run keeps their workers apart.
   * @default "infialign-data"
   */
  queue?: string;
  /** Worker slots the fleet provides (recorded in manifests; this starts no worker). @default 1 */
  workers?: number;
  /** Tries per task before the stage fails. @default 3 */
  attempts?: number;
  /** Delay before the first retry in ms, doubled for each later one. @default 1000 */
  backoffMs?: number;
  /** Interval between polls of the job states, ms. @default 200 */
  pollMs?: number;
  /** How long Redis may stay unreachable before `execute` fails, ms. @default 60000 */
  unreachableMs?: number;
  /** Warn when no worker has listened on the queue for this long while tasks wait, ms. @default 30000 */
  noWorkerWarnMs?: number;
  /** Prefix of the queue's Redis keys. @default "bull" */
  prefix?: string;
  /** Where warnings go (vanished jobs, retried failed jobs, no worker listening). @default stderr */
  logger?: Logger;
}

type BullmqModule = typeof import("bullmq");

/**
 * bullmq (and the ioredis client it drives), loaded on first use: only the bullmq executor and worker need them, so
 * they are optional peers. Loaded with `require` because bullmq's CommonJS build is the one that finds ioredis itself.
 */
export function loadBullmq(user: string): BullmqModule {
  const require = createRequire(import.meta.url);
  try {
    require.resolve("ioredis");
    return require("bullmq") as BullmqModule;
  } catch (cause) {
    const reason = String((cause as Error)?.message ?? cause).split("\n")[0];
    throw new DataError(user, `needs the optional packages bullmq and ioredis, which could not be loaded (${reason}). Install them: npm install bullmq ioredis`, { cause });
  }
}

/** The URL without its password, for messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}

/**
 * ioredis connection options: reconnect quickly and keep commands queued while Redis is away, until `stopped()`:
 * then the next failed reconnect ends the connection, so closing never waits on a Redis that is gone.
 */
export function redisConnection(url: string, stopped: () => boolean): { url: string; maxRetriesPerRequest: null; retryStrategy: (times: number) => number | null } {
  return { url, maxRetriesPerRequest: null, retryStrategy: (times) => (stopped() ? null : Math.min(100 * 2 ** Math.min(times, 10), 2000)) };
}

/** Job id of a task: the hash of the whole spec, so re-adding after a coordinator restart is a no-op. */
export function bullmqJobId(task: TaskSpec): string {
  return `task-${sha256Hex(canonicalJson(task)).slice(0, 40)}`;
}

/** `<outDir>/result.json` when it exists and belongs to `task`. */
async function readTaskResult(task: TaskSpec): Promise<TaskResult | undefined> {
  const result = await readResult(task.outDir);
  return isResultOf(result, task) ? result : undefined;
}

function isResultOf(value: unknown, task: TaskSpec): value is TaskResult {
  return !!value && typeof value === "object" && (value as TaskResult).id === task.id && typeof (value as TaskResult).counts === "object";
}

function describeTask(task: TaskSpec): string {
  return `task "${task.id}" (stage "${task.stage}", phase ${task.phase}, index ${task.index})`;
}

const firstLine = (text: string | undefined | null) => (text ?? "").split("\n")[0] ?? "";

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A time limit for a race; it does not keep the process alive. */
const guard = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

interface Pending {
  index: number;
  task: TaskSpec;
  jobId: string;
  /** Failed tries already reported through `onEvent`. */
  reported: number;
}

/**
 * An {@link Executor} that runs tasks as BullMQ jobs. Workers (`infialign-data worker --redis <url>`, or
 * {@link runBullmqWorker}) must see the run directory at the same path. Every task is a job whose id hashes the
 * task, with `attempts` tries and exponential backoff; `execute` polls the jobs' states until all have completed.
 *
 * Restarts: tasks whose `result.json` exists are done without a job; jobs still queued or running from an earlier
 * coordinator are waited for, not doubled; jobs that failed for good earlier are retried. A job that vanished from
 * Redis (restarted without persistence) is added again, with a warning. Redis unreachable for `unreachableMs` fails
 * `execute` with a message naming the URL.
 */
export function createBullmqExecutor(options: BullmqExecutorOptions): Executor {
  const url = redactRedisUrl(options.redis);
  const queueName = options.queue ?? DEFAULT_BULLMQ_QUEUE;
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 1000;
  const pollMs = options.pollMs ?? 200;
  const unreachableMs = options.unreachableMs ?? 60_000;
  const noWorkerWarnMs = options.noWorkerWarnMs ?? 30_000;
  const logger = options.logger ?? createLogger();
  const component = "bullmq executor";
  if (!Number.isInteger(attempts) || attempts < 1) throw new DataError(component, `attempts must be a positive integer, got ${attempts}`);

  if (queueName.includes(":")) throw new DataError(component, `queue "${queueName}" contains ":", which BullMQ does not allow in queue names`);

  let queue: Queue | undefined;
  let closing = false;
  let lastError = "no answer";

  const open = (): Queue => {
    if (queue) return queue;
    const { Queue } = loadBullmq(component);
    closing = false;
    queue = new Queue(queueName, { connection: redisConnection(options.redis, () => closing), prefix: options.prefix });
    // Connection errors come here while ioredis reconnects; execute's deadline decides when they are fatal.
    queue.on("error", (error) => {
      lastError = firstLine(error?.message) || String(error);
    });
    return queue;
  };

  return {
    name: "bullmq",
    workers: options.workers ?? 1,

    async execute(tasks: TaskSpec[], { signal, onEvent }: ExecuteOptions): Promise<TaskResult[]> {
      signal.throwIfAborted();
      const q = open();
      const results: Array<TaskResult | undefined> = new Array(tasks.length);
      const pending = new Map<number, Pending>();
      const emit = (event: TaskEvent) => onEvent?.(event);
      const finish = (p: Pending, result: TaskResult) => {
        if (!pending.delete(p.index)) return;
        results[p.index] = result;
        emit({ task: p.task, result });
      };
      // Tries that failed since the last look (up to try `upTo`), from the job's stack traces, one per failed try.
      // BullMQ counts a successful try in `attemptsMade` too, so the failed ones are the stack traces.
      const reportTries = (p: Pending, job: Job, upTo = job.stacktrace?.length ?? 0) => {
        for (let attempt = p.reported + 1; attempt <= upTo; attempt++) {
          const message = firstLine(job.stacktrace?.[attempt - 1]) || firstLine(job.failedReason);
          emit({ task: p.task, error: { message, attempt, final: false } });
        }
        p.reported = Math.max(p.reported, upTo);
      };
      const addJobs = async (list: Pending[]) => {
        if (list.length === 0) return;
        await q.addBulk(list.map((p) => ({ name: p.task.id, data: p.task, opts: { jobId: p.jobId, attempts, backoff: { type: "exponential", delay: backoffMs } } })));
      };

      let lastAnswer = Date.now();
      const unreachable = () =>
        new DataError(
          component,
          `Redis at ${url} unreachable for ${Math.round((Date.now() - lastAnswer) / 100) / 10} s: ${lastError}. Check that Redis runs and is reachable from this machine, then rerun: finished tasks are kept.`,
        );
      // One look at the jobs. Commands wait while ioredis reconnects, so a look stuck longer than `unreachableMs`
      // after Redis last answered fails `execute`; a look that threw is repeated at the next poll.
      const look = async (step: () => Promise<void>): Promise<boolean> => {
        const run = step().then(
          () => true,
          (error: unknown) => {
            if (error instanceof DataError) throw error;
            lastError = firstLine((error as Error)?.message) || String(error);
            return false;
          },
        );
        for (;;) {
          const outcome = await Promise.race([run, sleep(250).then(() => "waiting" as const)]);
          if (outcome === true) lastAnswer = Date.now();
          if (outcome !== "waiting" && (outcome || Date.now() - lastAnswer <= unreachableMs)) return outcome;
          if (signal.aborted || Date.now() - lastAnswer > unreachableMs) {
            run.catch(() => {});
            signal.throwIfAborted();
            throw unreachable();
          }
        }
      };

      // First look: finished tasks need no job; the others' jobs are added, waited for, or retried.
      await Promise.all(
        tasks.map(async (task, index) => {
          const result = await readTaskResult(task);
          if (result) {
            results[index] = result;
            emit({ task, result });
          } else pending.set(index, { index, task, jobId: bullmqJobId(task), reported: 0 });
        }),
      );
      const firstLook = async () => {
        const toAdd: Pending[] = [];
        await Promise.all(
          [...pending.values()].map(async (p) => {
            const state = await q.getJobState(p.jobId);
            if (state === "unknown") toAdd.push(p);
            else if (state === "completed") {
              // Completed since the result.json check, or completed earlier in a run directory that was removed since.
              const result = await readTaskResult(p.task);
              if (result) return finish(p, result);
              await q.remove(p.jobId);
              toAdd.push(p);
            } else if (state === "failed") {
              const job = await q.getJob(p.jobId);
              logger.warn(`[infialign/data] ${component}: ${describeTask(p.task)} failed in an earlier run (${firstLine(job?.failedReason)}); retrying it`);
              await job?.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
            }
            // Waiting, delayed or active: queued or running since an earlier coordinator; wait for it.
          }),
        );
        toAdd.sort((a, b) => a.index - b.index);
        await addJobs(toAdd);
      };
      while (pending.size > 0 && !(await look(firstLook))) {
        await sleep(pollMs, signal);
        signal.throwIfAborted();
      }

      let workerSeen = Date.now();
      let workersChecked = 0;
      let warned = 0;
      const warnWithoutWorkers = async () => {
        const now = Date.now();
        if (noWorkerWarnMs <= 0 || now - workersChecked < 2000) return;
        workersChecked = now;
        // CLIENT LIST may be disabled on managed Redis: then assume workers listen.
        if ((await q.getWorkersCount().catch(() => 1)) > 0) workerSeen = now;
        else if (now - workerSeen > noWorkerWarnMs && now - warned > noWorkerWarnMs) {
          warned = now;
          logger.warn(
            `[infialign/data] ${component}: no worker has listened on queue "${queueName}" at ${url} for ${Math.round((now - workerSeen) / 1000)} s while ${pending.size} task(s) wait. Start workers: infialign-data worker --redis ${url} --queue ${queueName}`,
          );
        }
      };
      const poll = async () => {
        const failures: TaskFailedError[] = [];
        const vanished: Pending[] = [];
        await Promise.all(
          [...pending.values()].map(async (p) => {
            const state = await q.getJobState(p.jobId);
            if (state === "completed") {
              const job = await q.getJob(p.jobId);
              if (!job) return; // removed meanwhile: the next poll sees it missing
              reportTries(p, job);
              const result = isResultOf(job.returnvalue, p.task) ? job.returnvalue : await readTaskResult(p.task);
              if (!result) {
                throw new DataError(
                  component,
                  `${describeTask(p.task)} completed without a result for it (job ${p.jobId} returned ${String(JSON.stringify(job.returnvalue)).slice(0, 200)}; no matching ${join(p.task.outDir, "result.json")}). Do the workers run another version of @infialign/data?`,
                );
              }
              finish(p, result);
            } else if (state === "failed") {
              const job = await q.getJob(p.jobId);
              const tries = job?.attemptsMade || 1;
              if (job) reportTries(p, job, tries - 1);
              emit({ task: p.task, error: { message: firstLine(job?.failedReason), attempt: tries, final: true } });
              const where = job?.processedBy ? ` (last try on worker ${job.processedBy})` : "";
              failures.push(new TaskFailedError(p.task, tries, `${job?.failedReason ?? "unknown error"}${where}. Fix the cause and rerun: finished tasks are kept and this one is retried`));
            } else if (state === "unknown") {
              const result = await readTaskResult(p.task);
              if (result) finish(p, result);
              else vanished.push(p);
            } else if (state === "delayed") {
              const job = await q.getJob(p.jobId);
              if (job) reportTries(p, job);
            }
          }),
        );
        if (failures.length > 0) throw failures[0];
        vanished.sort((a, b) => a.index - b.index);
        for (const p of vanished) {
          logger.warn(`[infialign/data] ${component}: the job of ${describeTask(p.task)} vanished from Redis at ${url} (restarted without persistence?) and the task has no result.json; adding it again`);
        }
        await addJobs(vanished);
        if (pending.size > 0) await warnWithoutWorkers();
      };
      while (pending.size > 0) {
        await sleep(pollMs, signal);
        signal.throwIfAborted();
        await look(poll);
      }
      // result.json marks the tasks done: their jobs are not needed any more, and Redis stays small.
      await Promise.race([Promise.all(tasks.map((task) => q.remove(bullmqJobId(task)).catch(() => 0))), guard(5000)]);
      return results as TaskResult[];
    },

    async close(): Promise<void> {
      const q = queue;
      queue = undefined;
      if (!q) return;
      closing = true;
      // With Redis away, the connection ends at its next failed reconnect (at most 2 s away) and close() resolves.
      await Promise.race([q.close().catch(() => {}), guard(10_000)]);
    },
  };
}
