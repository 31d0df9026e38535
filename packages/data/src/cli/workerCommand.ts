// `infialign-data worker`: runs the tasks of pipelines executed with `executor: "bullmq"` until SIGTERM or SIGINT.
import type { Command } from "commander";
import { DataError } from "../errors.js";
import { DEFAULT_BULLMQ_QUEUE, redactRedisUrl } from "../runtime/executor/bullmq.js";
import { runBullmqWorker } from "../runtime/executor/bullmqWorker.js";
import { createLogger } from "../runtime/logger.js";

interface WorkerFlags {
  redis: string;
  queue: string;
  concurrency: string;
  lockMs: string;
  stalledMs: string;
}

function positiveInt(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new DataError("cli", `${option} must be a positive integer, got "${value}"`);
  return n;
}

export function addWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description("run tasks of pipelines executed with executor \"bullmq\" from a Redis queue, until SIGTERM/SIGINT (the run directory must be visible here at the coordinator's path)")
    .requiredOption("--redis <url>", "Redis URL of the coordinator, e.g. redis://10.0.0.5:6379")
    .option("--queue <name>", "queue to take tasks from (the coordinator's bullmq.queue)", DEFAULT_BULLMQ_QUEUE)
    .option("--concurrency <n>", "tasks at once in this process (one thread: for CPU-bound stages start one worker per core)", "1")
    .option("--lock-ms <n>", "a worker unheard of for this long loses its task to another worker", "60000")
    .option("--stalled-ms <n>", "how often this worker looks for tasks whose worker lost its lock", "30000")
    .action(async (flags: WorkerFlags) => {
      const concurrency = positiveInt(flags.concurrency, "--concurrency");
      const lockMs = positiveInt(flags.lockMs, "--lock-ms");
      const stalledIntervalMs = positiveInt(flags.stalledMs, "--stalled-ms");
      const quiet = process.env.CI === "true";
      const logger = createLogger({ quiet });
      const stop = new AbortController();
      const onSignal = (signal: NodeJS.Signals) => {
        if (stop.signal.aborted) {
          process.stderr.write(`[infialign/data] worker: ${signal} again, exiting without waiting for the running tasks (they will be re-delivered)\n`);
          process.exit(130);
        }
        logger.info(`[infialign/data] worker: ${signal}: finishing the running tasks, then exiting (send it again to exit now)`);
        stop.abort();
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
      logger.info(`[infialign/data] worker: taking tasks from queue "${flags.queue}" at ${redactRedisUrl(flags.redis)} (concurrency ${concurrency})`);
      try {
        const summary = await runBullmqWorker({
          redis: flags.redis,
          queue: flags.queue,
          concurrency,
          lockMs,
          stalledIntervalMs,
          signal: stop.signal,
          logger,
          onTask: ({ task, attempt, result, error }) => {
            if (error) process.stderr.write(`failed ${task.id} (try ${attempt}${error.final ? ", the last" : ""}): ${error.message}\n`);
            else if (result && !quiet) process.stdout.write(`done ${task.id}  ${result.records} records  ${result.seconds.toFixed(1)} s\n`);
          },
        });
        logger.info(`[infialign/data] worker ${summary.worker}: stopped after ${summary.completed} task(s), ${summary.failed} failed for good`);
      } finally {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
      }
    });
}
