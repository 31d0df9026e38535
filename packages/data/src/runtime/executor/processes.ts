import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DataError } from "../../errors.js";
import { StrictModeError } from "../decode.js";
import type { RejectEntry } from "../types.js";
import { isRetryable, runTask } from "./runTask.js";
import type { ExecuteOptions, Executor, TaskResult, TaskSpec } from "./types.js";

/** A task that failed on every try. */
export class TaskFailedError extends DataError {
  constructor(
    readonly task: TaskSpec,
    readonly attempts: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("pipeline", `task ${task.phase}-${task.index} of stage "${task.stage}"${describeInput(task)} failed after ${attempts} tr${attempts === 1 ? "y" : "ies"}: ${message}`, options);
  }
}

function describeInput(task: TaskSpec): string {
  const input = task.inputs?.length === 1 ? task.inputs[0] : undefined;
  if (!input) return "";
  if (input.kind === "shards") return ` (shard ${input.files.map((f) => f.file).join(", ")})`;
  return ` (${input.file.path}${input.start !== undefined ? ` bytes ${input.start}-${input.end}, from line ${input.firstLine}` : ""})`;
}

export interface RetryOptions {
  /** Tries per task before the run fails. @default 3 */
  attempts?: number;
  /** First retry delay; doubled for each later try. @default 200 */
  backoffMs?: number;
}

/** Runs tasks one at a time in this process (tests, debugging: the sharded path without worker processes). */
export function createInProcessExecutor(options: RetryOptions = {}): Executor {
  return {
    name: "in-process",
    workers: 1,
    async execute(tasks, { signal, onEvent }) {
      const results: TaskResult[] = [];
      for (const task of tasks) {
        results.push(await withRetries(task, options, signal, onEvent, () => runTask(task, { signal, worker: `in-process:${process.pid}` })));
      }
      return results;
    },
    async close() {},
  };
}

async function withRetries(task: TaskSpec, options: RetryOptions, signal: AbortSignal, onEvent: ExecuteOptions["onEvent"], attempt: () => Promise<TaskResult>): Promise<TaskResult> {
  const attempts = options.attempts ?? 3;
  for (let i = 1; ; i++) {
    signal.throwIfAborted();
    try {
      const result = await attempt();
      onEvent?.({ task, result });
      return result;
    } catch (error) {
      // A stopped run (a failed task elsewhere, an abort, close()) is not this task's failure: no retry, no report.
      signal.throwIfAborted();
      const message = error instanceof Error ? error.message : String(error);
      const final = i >= attempts || !isRetryable(error);
      onEvent?.({ task, error: { message, attempt: i, final } });
      if (error instanceof StrictModeError) throw error;
      if (final) throw new TaskFailedError(task, i, message, { cause: error });
      await sleep((options.backoffMs ?? 200) * 2 ** (i - 1), signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export interface ProcessExecutorOptions extends RetryOptions {
  /** Worker processes. @default the number of cores (`os.availableParallelism()`) */
  workers?: number;
  /** Extra Node flags for the workers. @default this process's flags (so a TypeScript loader carries over) */
  execArgv?: string[];
}

type WorkerMessage =
  | { type: "ready" }
  | { type: "result"; id: string; result: TaskResult }
  | { type: "error"; id: string; message: string; stack?: string; retryable?: boolean; strict?: RejectEntry };

/**
 * N worker processes on this machine, each running one task at a time (`runTask`), so a plain run uses every core
 * without a server. A worker that dies mid-task is replaced and its task retried with backoff; a task that fails on
 * every try fails the run, naming the task, its shard and the error.
 */
export function createProcessExecutor(options: ProcessExecutorOptions = {}): Executor {
  const workers = Math.max(1, Math.floor(options.workers ?? availableParallelism()));
  const pool: ChildProcess[] = [];
  let closed = false;
  const spawnWorker = (typescript: boolean): ChildProcess => {
    const { entry, execArgv } = workerEntry(options.execArgv, typescript);
    const child = fork(entry, [], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"], serialization: "advanced" });
    idle(child);
    return child;
  };
  const running = new Set<AbortController>();
  return {
    name: "processes",
    workers,
    async execute(tasks, { signal, onEvent }) {
      if (closed) throw new DataError("pipeline", "the processes executor was closed");
      // Stops every slot at the first task that fails for good, on abort and on close(): no task starts after that.
      const stop = new AbortController();
      const onOuterAbort = () => stop.abort(signal.reason);
      if (signal.aborted) onOuterAbort();
      else signal.addEventListener("abort", onOuterAbort, { once: true });
      running.add(stop);
      const results: TaskResult[] = new Array(tasks.length);
      let next = 0;
      const runOn = async (slot: number): Promise<void> => {
        while (next < tasks.length && !stop.signal.aborted) {
          const i = next++;
          const task = tasks[i]!;
          try {
            results[i] = await withRetries(task, options, stop.signal, onEvent, () => {
              let child = pool[slot];
              if (!child || child.exitCode !== null || child.signalCode !== null || !child.connected) {
                if (closed) throw new DataError("pipeline", "the processes executor was closed");
                child = spawnWorker(/\.[cm]?tsx?$/.test(task.recipe.module));
                pool[slot] = child;
              }
              return sendTask(child, task, stop.signal);
            });
          } catch (error) {
            if (!stop.signal.aborted) stop.abort(error);
            throw error;
          }
        }
      };
      try {
        const settled = await Promise.allSettled(Array.from({ length: Math.min(workers, tasks.length) }, (_, slot) => runOn(slot)));
        // The first cause of the stop: the failed task, or the caller's abort.
        if (stop.signal.aborted) throw stop.signal.reason;
        const failed = settled.find((r) => r.status === "rejected");
        if (failed) throw (failed as PromiseRejectedResult).reason;
        return results;
      } finally {
        signal.removeEventListener("abort", onOuterAbort);
        running.delete(stop);
      }
    },
    async close() {
      closed = true;
      for (const stop of running) stop.abort(new DataError("pipeline", "the processes executor was closed"));
      for (const child of pool.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      }
    },
  };
}

/** Sends one task to a worker and waits for its answer; the worker's death rejects (the caller retries). */
function sendTask(child: ChildProcess, task: TaskSpec, signal: AbortSignal): Promise<TaskResult> {
  return new Promise<TaskResult>((resolve, reject) => {
    busy(child);
    const cleanup = () => {
      idle(child);
      child.off("message", onMessage);
      child.off("exit", onExit);
      child.off("error", onError);
      signal.removeEventListener("abort", onAbort);
    };
    const onMessage = (message: WorkerMessage) => {
      if (message.type === "result" && message.id === task.id) {
        cleanup();
        resolve(message.result);
      } else if (message.type === "error" && message.id === task.id) {
        cleanup();
        const error: Error & { retryable?: boolean } = message.strict ? new StrictModeError(message.strict) : new Error(message.message);
        if (message.stack) error.stack = message.stack;
        if (message.retryable === false) error.retryable = false;
        reject(error);
      }
    };
    const onExit = (code: number | null, sig: NodeJS.Signals | null) => {
      cleanup();
      reject(new Error(`worker process ${child.pid} exited (${sig ?? `code ${code}`}) while running the task`));
    };
    const onAbort = () => {
      cleanup();
      child.kill("SIGTERM");
      reject(signal.reason);
    };
    // A failed fork or a send to a worker that just died: the worker is replaced and the task retried.
    const onError = (error: Error) => {
      cleanup();
      child.kill("SIGKILL");
      reject(new Error(`worker process ${child.pid ?? "(not started)"}: ${error.message}`));
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
    child.once("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
    child.send({ type: "task", spec: task });
  });
}

/** A worker with a task keeps this process alive until it answers; an idle one does not hold it open. */
function busy(child: ChildProcess): void {
  child.ref();
  (child.channel as { ref?: () => void } | undefined)?.ref?.();
}

function idle(child: ChildProcess): void {
  child.unref();
  (child.channel as { unref?: () => void } | undefined)?.unref?.();
}

/**
 * The worker script next to this module: `processWorker.js` in a build, `processWorker.ts` in the sources. TypeScript
 * (the sources, or a `.ts` recipe) runs through tsx, added to the flags unless they already load it.
 */
function workerEntry(execArgv: string[] | undefined, typescriptRecipe: boolean): { entry: string; execArgv: string[] } {
  const flags = execArgv ?? process.execArgv;
  const js = new URL("./processWorker.js", import.meta.url);
  const ts = new URL("./processWorker.ts", import.meta.url);
  const built = existsSync(js);
  if (!built && !existsSync(ts)) throw new DataError("pipeline", `the worker script is missing next to ${fileURLToPath(import.meta.url)} (processWorker.js); reinstall @infialign/data`);
  const entry = fileURLToPath(built ? js : ts);
  if ((built && !typescriptRecipe) || flags.some((f) => f.includes("tsx"))) return { entry, execArgv: flags };
  let loader: string;
  try {
    loader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  } catch (error) {
    throw new DataError("pipeline", "the recipe is TypeScript and tsx cannot be found to load it in the worker processes: install tsx, run the coordinator with tsx, or point the recipe at JavaScript", { cause: error });
  }
  return { entry, execArgv: [...flags, "--import", loader] };
}

/** The worker side of the processes executor: answers task messages on the IPC channel until told to stop. */
export function serveProcessWorker(): void {
  if (!process.send) throw new DataError("pipeline", "processWorker must be started by the processes executor (no IPC channel)");
  const worker = `${process.pid}`;
  process.on("message", (message: { type: string; spec: TaskSpec }) => {
    if (message.type !== "task") return;
    const spec = message.spec;
    runTask(spec, { worker: `process:${worker}` }).then(
      (result) => process.send!({ type: "result", id: spec.id, result }),
      (error: unknown) =>
        process.send!({
          type: "error",
          id: spec.id,
          message: error instanceof Error ? error.message : String(error),
          stack: error instanceof Error ? error.stack : undefined,
          ...(isRetryable(error) ? {} : { retryable: false }),
          ...(error instanceof StrictModeError ? { strict: error.entry } : {}),
        } satisfies WorkerMessage),
    );
  });
  process.on("disconnect", () => process.exit(0));
}
