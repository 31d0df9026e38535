import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { endpointRunner } from "../src/run/endpointRunner.js";
import { RUN_FILES } from "../src/run/runDir.js";
import { runEvaluation } from "../src/run/runEvaluation.js";
import { acquireRunLock } from "../src/run/runLock.js";
import { fakeMathServer, mathBench, PROBLEMS, protocol, useTempDirs } from "./runHelpers.js";

const tmp = useTempDirs("eval-lock-");

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  return child.pid!;
}

const RUN_LOCK_FILE = RUN_FILES.lock;
const writeLock = (dir: string, owner: object) => writeFileSync(join(dir, RUN_LOCK_FILE), `${JSON.stringify(owner)}\n`);

describe("acquireRunLock", () => {
  it("holds pid, host and start time, refuses a second holder naming the first, and is free again once released", async () => {
    const dir = tmp();
    const lock = await acquireRunLock(dir, { pid: 4242, host: "h1", now: () => new Date(0), isProcessAlive: () => true });
    expect(JSON.parse(readFileSync(join(dir, RUN_LOCK_FILE), "utf8"))).toMatchObject({ pid: 4242, host: "h1", startedAt: "1970-01-01T00:00:00.000Z" });
    await expect(acquireRunLock(dir, { host: "h1", isProcessAlive: () => true })).rejects.toThrow(
      `[infialign/eval] run-lock: ${dir} is in use by another run (pid 4242 on host "h1" since 1970-01-01T00:00:00.000Z)`,
    );
    await lock.release();
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
    await (await acquireRunLock(dir)).release();
  });

  it("takes over a lock whose pid is dead on this host, with a warning", async () => {
    const dir = tmp();
    const pid = deadPid();
    writeLock(dir, { pid, host: hostname(), startedAt: "2026-01-01T00:00:00.000Z", token: "old" });
    const warnings: string[] = [];
    const lock = await acquireRunLock(dir, { warn: (m) => warnings.push(m) });
    expect(lock.owner.pid).toBe(process.pid);
    expect(JSON.parse(readFileSync(join(dir, RUN_LOCK_FILE), "utf8")).token).toBe(lock.owner.token);
    expect(warnings).toEqual([expect.stringContaining(`took over the stale lock of ${dir} (pid ${pid} on host "${hostname()}"`)]);
    // Nothing is left beside it.
    expect(readdirSync(dir)).toEqual([RUN_LOCK_FILE]);
    await lock.release();
  });

  it("refuses while another process of this host holding the lock is alive, and takes it over once it has exited", async () => {
    const dir = tmp();
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      writeLock(dir, { pid: child.pid, host: hostname(), startedAt: "2026-01-01T00:00:00.000Z", token: "child" });
      await expect(acquireRunLock(dir)).rejects.toThrow(`is in use by another run (pid ${child.pid} on host "${hostname()}"`);
    } finally {
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    }
    const warnings: string[] = [];
    const lock = await acquireRunLock(dir, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringContaining(`(pid ${child.pid} on host`)]);
    await lock.release();
  });

  it("takes over a lock naming this pid that this process does not hold (a restarted container reusing the pid)", async () => {
    const dir = tmp();
    writeLock(dir, { pid: process.pid, host: hostname(), startedAt: "2026-01-01T00:00:00.000Z", token: "previous-container" });
    const warnings: string[] = [];
    const lock = await acquireRunLock(dir, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringContaining(`took over the stale lock of ${dir} (pid ${process.pid}`)]);
    // While held, this process's own lock is live to a second acquirer in the same process.
    await expect(acquireRunLock(dir)).rejects.toThrow(/in use by another run/);
    await lock.release();
  });

  it("never takes over a lock of another host, whose pid cannot be checked", async () => {
    const dir = tmp();
    writeLock(dir, { pid: deadPid(), host: "elsewhere", startedAt: "2026-01-01T00:00:00.000Z", token: "old" });
    await expect(acquireRunLock(dir, { isProcessAlive: () => false })).rejects.toThrow(/in use by another run \(pid \d+ on host "elsewhere".*its host cannot be checked from here\), delete .*run\.lock/);
  });

  it("refuses an unreadable lock file rather than guessing", async () => {
    const dir = tmp();
    writeFileSync(join(dir, RUN_LOCK_FILE), "");
    await expect(acquireRunLock(dir)).rejects.toThrow(/run\.lock, which is unreadable/);
  });

  it("release leaves a lock taken over by another run alone", async () => {
    const dir = tmp();
    const lock = await acquireRunLock(dir);
    writeLock(dir, { pid: 1, host: "h", startedAt: "x", token: "someone-else" });
    await lock.release();
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(true);
  });
});

describe("runEvaluation on one --out twice", () => {
  it("lets exactly one of two concurrent runs write, so no sample is written twice", async () => {
    const server = await fakeMathServer();
    const spec = mathBench();
    const items = await spec.load();
    const runner = endpointRunner({ baseUrl: server.url, model: "m", sleep: async () => {} });
    const out = tmp();
    try {
      const run = () => runEvaluation({ benchmarks: [{ spec, items }], protocol: protocol(2), runner, outDir: out, progress: false });
      const [a, b] = await Promise.allSettled([run(), run()]);
      const failed = [a, b].filter((r) => r.status === "rejected");
      expect(failed).toHaveLength(1);
      expect(String((failed[0] as PromiseRejectedResult).reason.message)).toMatch(new RegExp(`is in use by another run \\(pid ${process.pid} on host`));
      const lines = readFileSync(join(out, "samples.jsonl"), "utf8").trimEnd().split("\n");
      expect(lines).toHaveLength(PROBLEMS * 2);
      expect(server.requests.filter((r) => r.path.endsWith("/chat/completions"))).toHaveLength(PROBLEMS * 2);
      // Released at the end: a rerun resumes.
      expect(existsSync(join(out, RUN_LOCK_FILE))).toBe(false);
      expect((await run()).resumedSamples).toBe(PROBLEMS * 2);
    } finally {
      await runner.close?.();
      await server.close();
    }
  });

  it("resumes after a run killed without releasing its lock, warning that it took the lock over", async () => {
    const server = await fakeMathServer();
    const spec = mathBench();
    const items = await spec.load();
    const runner = endpointRunner({ baseUrl: server.url, model: "m", sleep: async () => {} });
    const out = tmp();
    try {
      writeLock(out, { pid: deadPid(), host: hostname(), startedAt: "2026-01-01T00:00:00.000Z", token: "killed" });
      const warnings: string[] = [];
      const r = await runEvaluation({ benchmarks: [{ spec, items }], protocol: protocol(1), runner, outDir: out, progress: false, warn: (m) => warnings.push(m) });
      expect(r.newSamples).toBe(PROBLEMS);
      expect(warnings).toEqual([expect.stringContaining("took over the stale lock")]);
    } finally {
      await runner.close?.();
      await server.close();
    }
  });
});
