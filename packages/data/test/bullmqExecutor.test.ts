// The BullMQ executor against a real redis-server, with a stand-in for runTask (fixtures/bullmq/fakeTask.ts) so the
// tests exercise the transport: ordering, worker death, coordinator restart, Redis restart and loss, failing tasks.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { REDIS_SERVER_INSTALL, type RedisServer, startRedis } from "@infialign/test-utils";
import { describeWhen, missingCommand } from "@infialign/test-utils/vitest";
import { Queue } from "bullmq";
import { afterEach, expect, it } from "vitest";
import { TaskFailedError } from "../src/index.js";
import { bullmqJobId, createBullmqExecutor } from "../src/runtime/executor/bullmq.js";
import { type BullmqWorkerEvent, runBullmqWorker } from "../src/runtime/executor/bullmqWorker.js";
import type { TaskEvent, TaskSpec } from "../src/runtime/executor/types.js";
import { calls, type FakeTaskOptions, fakeHandler, fakeTasks } from "./fixtures/bullmq/fakeTask.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "bullmq");
const quiet = { info() {}, warn() {}, debug() {} };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bullmq-test-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function redis(options: { appendonly?: boolean } = {}): Promise<RedisServer> {
  const server = await startRedis(options);
  cleanups.push(() => server.stop());
  return server;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** In-process workers with the fake task; stopped (gracefully) after the test. */
function startWorkers(url: string, queue: string, n: number, fake: FakeTaskOptions, concurrency = 1, onTask?: (event: BullmqWorkerEvent) => void): void {
  const stop = new AbortController();
  const running = Array.from({ length: n }, (_, i) =>
    runBullmqWorker({ redis: url, queue, concurrency, signal: stop.signal, worker: `w${i}`, lockMs: 2000, stalledIntervalMs: 1000, handler: fakeHandler(fake), logger: quiet, onTask }),
  );
  cleanups.push(async () => {
    stop.abort();
    await Promise.all(running);
  });
}

function spawnTsx(script: string, config: unknown): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", join(fixtures, script), JSON.stringify(config)], { stdio: ["ignore", "pipe", "inherit"] });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return child;
}

function executor(url: string, queue: string, extra: Partial<Parameters<typeof createBullmqExecutor>[0]> = {}) {
  const ex = createBullmqExecutor({ redis: url, queue, pollMs: 50, backoffMs: 50, logger: quiet, ...extra });
  cleanups.push(() => ex.close());
  return ex;
}

const signal = () => new AbortController().signal;
const runs = (countDir: string, tasks: TaskSpec[]) => tasks.map((t) => calls(countDir, t.index).length);

describeWhen(missingCommand("redis-server", REDIS_SERVER_INSTALL))("bullmq executor", () => {
  it("runs 30 tasks on 3 workers, once each, results in task order", async () => {
    const server = await redis();
    const dir = tempDir();
    const countDir = join(dir, "calls");
    const tasks = fakeTasks(dir, 30);
    const done: BullmqWorkerEvent[] = [];
    startWorkers(server.url, "q-order", 3, { countDir, sleepMs: 20 }, 2, (e) => done.push(e));
    const events: TaskEvent[] = [];
    const results = await executor(server.url, "q-order").execute(tasks, { signal: signal(), onEvent: (e) => events.push(e) });
    expect(results.map((r) => r.id)).toEqual(tasks.map((t) => t.id));
    expect(results.map((r) => r.records)).toEqual(tasks.map((t) => t.index));
    expect(runs(countDir, tasks)).toEqual(tasks.map(() => 1));
    expect(new Set(results.map((r) => r.worker)).size).toBeGreaterThan(1);
    expect(events.filter((e) => e.result).length).toBe(30);
    expect(done.map((e) => [e.attempt, e.result?.id]).sort()).toEqual(tasks.map((t) => [1, t.id]).sort());
    // Finished jobs are removed: result.json files mark the tasks done.
    const queue = new Queue("q-order", { connection: { url: server.url } });
    cleanups.push(() => queue.close());
    expect(await queue.getJobState(bullmqJobId(tasks[0]!))).toBe("unknown");
  });

  it("re-delivers the task of a worker killed mid-task to another worker", async () => {
    const server = await redis();
    const dir = tempDir();
    const countDir = join(dir, "calls");
    const config = { redis: server.url, queue: "q-kill", countDir, sleepMs: 2500, lockMs: 2000, stalledIntervalMs: 1000 };
    const children = [spawnTsx("worker.ts", config), spawnTsx("worker.ts", config)];
    const queue = new Queue("q-kill", { connection: { url: server.url } });
    cleanups.push(() => queue.close());
    await waitFor("two worker processes", async () => (await queue.getWorkersCount()) === 2);
    const tasks = fakeTasks(dir, 2);
    const done = executor(server.url, "q-kill").execute(tasks, { signal: signal() });
    await waitFor("both tasks started", () => runs(countDir, tasks).every((n) => n === 1));
    const victim = calls(countDir, 0)[0]!;
    const killed = children.find((c) => victim === `${hostname()}:${c.pid}`)!;
    const survivor = children.find((c) => c !== killed)!;
    killed.kill("SIGKILL");
    const results = await done;
    expect(calls(countDir, 0).sort()).toEqual([victim, `${hostname()}:${survivor.pid}`].sort());
    expect(results[0]!.worker).toBe(`${hostname()}:${survivor.pid}`);
    expect(runs(countDir, tasks)).toEqual([2, 1]);
  });

  it("a worker sent SIGTERM mid-task finishes the task, then exits 0", async () => {
    const server = await redis();
    const dir = tempDir();
    const countDir = join(dir, "calls");
    const child = spawnTsx("worker.ts", { redis: server.url, queue: "q-term", countDir, sleepMs: 1500, lockMs: 2000, stalledIntervalMs: 1000 });
    const tasks = fakeTasks(dir, 1);
    const done = executor(server.url, "q-term").execute(tasks, { signal: signal() });
    await waitFor("the task to start", () => calls(countDir, 0).length === 1);
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    expect(await exited).toEqual([0, null]);
    const [result] = await done;
    expect(result!.worker).toBe(`${hostname()}:${child.pid}`);
    expect(calls(countDir, 0)).toHaveLength(1);
  });

  it("a restarted coordinator waits for the jobs of the killed one instead of adding them again", async () => {
    const server = await redis();
    const dir = tempDir();
    const countDir = join(dir, "calls");
    const tasks = fakeTasks(dir, 6);
    const tasksFile = join(dir, "tasks.json");
    writeFileSync(tasksFile, JSON.stringify(tasks));
    startWorkers(server.url, "q-restart", 2, { countDir, sleepMs: 300 });
    const first = spawnTsx("coordinator.ts", { redis: server.url, queue: "q-restart", tasksFile });
    await waitFor("the first coordinator's jobs to run", () => runs(countDir, tasks).some((n) => n > 0));
    first.kill("SIGKILL");
    const results = await executor(server.url, "q-restart").execute(tasks, { signal: signal() });
    expect(results.map((r) => r.id)).toEqual(tasks.map((t) => t.id));
    expect(runs(countDir, tasks)).toEqual(tasks.map(() => 1));
  });

  it("retries a task on every try, fails naming it, and retries it again when rerun", async () => {
    const server = await redis();
    const dir = tempDir();
    const countDir = join(dir, "calls");
    const flag = join(dir, "fail");
    writeFileSync(flag, "");
    const tasks = fakeTasks(dir, 3);
    const tries: BullmqWorkerEvent[] = [];
    startWorkers(server.url, "q-fail", 1, { countDir, failIndexes: [1], failWhile: flag }, 1, (e) => tries.push(e));
    const events: TaskEvent[] = [];
    const failure = await executor(server.url, "q-fail", { attempts: 3 })
      .execute(tasks, { signal: signal(), onEvent: (e) => events.push(e) })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TaskFailedError);
    expect((failure as Error).message).toMatch(/task records-1 of stage "fake".* failed after 3 tries: boom at index 1 \(last try on worker w0\)/);
    expect(calls(countDir, 1)).toHaveLength(3);
    expect(events.filter((e) => e.task.index === 1 && e.error).map((e) => [e.error!.attempt, e.error!.final])).toEqual([
      [1, false],
      [2, false],
      [3, true],
    ]);

    expect(tries.filter((e) => e.task.index === 1).map((e) => [e.attempt, e.error?.final])).toEqual([
      [1, false],
      [2, false],
      [3, true],
    ]);

    // A new coordinator retries the job that failed for good; finished tasks are not run again.
    rmSync(flag);
    const warnings: string[] = [];
    const results = await executor(server.url, "q-fail", { logger: { ...quiet, warn: (m) => warnings.push(m) } }).execute(tasks, { signal: signal() });
    expect(results.map((r) => r.records)).toEqual([0, 1, 2]);
    expect(runs(countDir, tasks)).toEqual([1, 4, 1]);
    expect(warnings.join("\n")).toMatch(/records-1.* failed in an earlier run \(boom at index 1\); retrying it/);
  });

  it("completes when Redis restarts mid-run with its append-only file", async () => {
    const server = await redis({ appendonly: true });
    const dir = tempDir();
    const countDir = join(dir, "calls");
    const tasks = fakeTasks(dir, 9);
    startWorkers(server.url, "q-aof", 3, { countDir, sleepMs: 300 });
    const warnings: string[] = [];
    const done = executor(server.url, "q-aof", { logger: { ...quiet, warn: (m) => warnings.push(m) } }).execute(tasks, { signal: signal() });
    await waitFor("three tasks started", () => runs(countDir, tasks).filter((n) => n > 0).length >= 3);
    await server.restart({ downMs: 500 });
    const results = await done;
    expect(results.map((r) => r.id)).toEqual(tasks.map((t) => t.id));
    expect(warnings.filter((w) => w.includes("vanished"))).toEqual([]);
  });

  it("re-adds the jobs lost when Redis restarts without persistence, and completes", async () => {
    const server = await redis();
    const dir = tempDir();
    const countDir = join(dir, "calls");
    const tasks = fakeTasks(dir, 9);
    startWorkers(server.url, "q-lost", 3, { countDir, sleepMs: 300 });
    const warnings: string[] = [];
    const done = executor(server.url, "q-lost", { logger: { ...quiet, warn: (m) => warnings.push(m) } }).execute(tasks, { signal: signal() });
    await waitFor("three tasks started", () => runs(countDir, tasks).filter((n) => n > 0).length >= 3);
    await server.restart({ downMs: 500 });
    const results = await done;
    expect(results.map((r) => r.id)).toEqual(tasks.map((t) => t.id));
    // The six tasks not started before the restart lost their jobs; the coordinator said so and added them again.
    const vanished = warnings.filter((w) => w.includes("vanished from Redis"));
    expect(vanished.length).toBeGreaterThanOrEqual(6);
    expect(vanished[0]).toContain(server.url);
  });

  it("fails after `unreachableMs` without Redis, naming its URL", async () => {
    const server = await redis();
    const dir = tempDir();
    const tasks = fakeTasks(dir, 2);
    const ex = executor(server.url, "q-gone", { unreachableMs: 1500 });
    const done = ex.execute(tasks, { signal: signal() }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    await server.kill();
    const error = await done;
    expect((error as Error).message).toMatch(new RegExp(`Redis at ${server.url} unreachable for \\d+(\\.\\d)? s: .*ECONNREFUSED`));
  });
});
