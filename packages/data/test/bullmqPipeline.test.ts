// End to end: runPipeline with executor "bullmq" and three `infialign-data worker` processes writes byte-identical
// outputs to a local run; the workers stop gracefully on SIGTERM.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { REDIS_SERVER_INSTALL, type RedisServer, runSnapshot, startRedis } from "@infialign/test-utils";
import { describeWhen, firstMissing, missingCommand, sharedDataFile } from "@infialign/test-utils/vitest";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type PipelineResult, resolveInputs, runPipeline, } from "../src/index.js";
import type { RecipeArgs } from "./fixtures/executor/recipe.js";

const here = dirname(fileURLToPath(import.meta.url));
const recipeModule = join(here, "fixtures", "executor", "recipe.ts");
const cliPath = join(here, "..", "src", "cli", "main.ts");
const quiet = { info() {}, warn() {}, debug() {} };
const pool = sharedDataFile("pools", "math-test.jsonl");
const gsm = sharedDataFile("pools", "gsm8k-train.jsonl");
const noRedis = missingCommand("redis-server", REDIS_SERVER_INSTALL);

/** GSM8K-style lines with duplicates and broken records. */
function lines(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 7 === 6 ? i - 3 : i;
    out.push(JSON.stringify({ question: `Tom has ${k} apples and buys ${k + 2} more. How many apples does he have?`, answer: `He has ${k} + ${k + 2} = ${2 * k + 2} apples.\n#### ${2 * k + 2}` }));
    if (i % 97 === 10) out.push("{not json");
  }
  return `${out.join("\n")}\n`;
}

const snapshot = runSnapshot;

let server: RedisServer;
let dir: string;
const workers: ChildProcess[] = [];
const queue = "e2e";

function startWorkers(n: number) {
  for (let i = 0; i < n; i++) {
    // A short lock and stalled check, so a killed worker's task comes back within seconds.
    const child = spawn(process.execPath, ["--import", "tsx", cliPath, "worker", "--redis", server.url, "--queue", queue, "--lock-ms", "2000", "--stalled-ms", "1000"], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, CI: "true" },
    });
    workers.push(child);
  }
}

async function run(name: string, files: string[], executor: "local" | "bullmq", args: RecipeArgs, extra: Partial<Parameters<typeof runPipeline>[0]> = {}): Promise<PipelineResult> {
  return runPipeline({
    name,
    runsDir: dir,
    source: { files: await resolveInputs(files) },
    recipe: { module: recipeModule, export: "stages", args },
    executor,
    bullmq: { redis: server.url, queue },
    workers: 3,
    logger: quiet,
    progress: false,
    ...extra,
  });
}

const describeRedis = describeWhen(noRedis);
describeRedis("bullmq executor end to end", () => {
  beforeAll(async () => {
    server = await startRedis();
    dir = await mkdtemp(join(tmpdir(), "infialign-bullmq-e2e-"));
    startWorkers(3);
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL");
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("3 worker processes write byte-identical outputs to local (source splits, rejects, duplicates, stats)", async () => {
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(3000));
    const args: RecipeArgs = { stats: true };
    const small = { shard: { maxRecords: 500 }, splitBytes: 16 * 1024 };
    const expected = await snapshot(await run("local", [input], "local", args, small));
    const result = await run("bullmq", [input], "bullmq", args, small);
    expect(await snapshot(result)).toEqual(expected);
    const normalize = result.stages[0]!.manifest.execution!;
    expect(normalize.executor).toBe("bullmq");
    expect(normalize.workers).toBe(3);
    expect(Object.keys(normalize.perWorker).length).toBeGreaterThan(1);
  }, 60_000);

  describeWhen(firstMissing(pool.missing, gsm.missing))("over the real pools", () => {
    it("normalize + dedup over GSM8K train + MATH test equals local", async () => {
      const files = [gsm.path, pool.path];
      const expected = await snapshot(await run("pools-local", files, "local", {}));
      expect(await snapshot(await run("pools-bullmq", files, "bullmq", {}))).toEqual(expected);
    }, 60_000);
  });

  it("a worker SIGKILLed mid-task (in a records task, then in a reduce) loses nothing: its task is re-delivered, the output is identical", async () => {
    const input = join(dir, "crash-pool.jsonl");
    await writeFile(input, lines(2000));
    const small = { shard: { maxRecords: 500 }, splitBytes: 16 * 1024 };
    const expected = await snapshot(await run("crash-local", [input], "local", {}, small));
    for (const stage of ["normalize", "dedup"]) {
      const marker = join(dir, `crashed-${stage}`);
      // Replace the worker that the previous round killed.
      const alive = workers.filter((w) => w.exitCode === null && w.signalCode === null).length;
      if (alive < 3) startWorkers(3 - alive);
      const result = await run(`crash-${stage}`, [input], "bullmq", { crashOnce: { stage, marker } }, small);
      expect(await readFile(marker, "utf8")).toMatch(/^\d+$/);
      expect(await snapshot(result)).toEqual(expected);
      expect(workers.some((w) => w.signalCode === "SIGKILL")).toBe(true);
    }
  }, 120_000);

  it("a coordinator SIGKILLed mid-run and restarted finishes the run with the same output", async () => {
    const alive = workers.filter((w) => w.exitCode === null && w.signalCode === null).length;
    if (alive < 3) startWorkers(3 - alive);
    const input = join(dir, "restart-pool.jsonl");
    await writeFile(input, lines(3000));
    const expected = await snapshot(await run("restart-local", [input], "local", {}, { shard: { maxRecords: 500 }, splitBytes: 16 * 1024 }));
    const coordinator = join(here, "fixtures", "executor", "coordinator.ts");
    const start = () => spawn(process.execPath, ["--import", "tsx", coordinator, input, dir, "restart", `bullmq:${server.url}:${queue}:3`, JSON.stringify({ slowMs: 2 })], { stdio: "inherit" });
    const tasksDir = join(dir, "restart", "normalize", ".tasks");
    const first = start();
    const finished = async () => ((await readdir(tasksDir).catch(() => [])) as string[]).filter((d) => /^records-\d+$/.test(d));
    while ((await finished()).length < 3) {
      if (first.exitCode !== null) throw new Error("the coordinator ended before it was killed");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    first.kill("SIGKILL");
    await once(first, "exit");
    const second = start();
    const [code] = (await once(second, "exit")) as [number];
    expect(code).toBe(0);
    const result = await run("restart", [input], "local", {}, { shard: { maxRecords: 500 } });
    expect(result.stages.every((s) => s.skipped)).toBe(true);
    expect(await snapshot(result)).toEqual(expected);
  }, 120_000);

  it("workers exit 0 on SIGTERM", async () => {
    const alive = workers.filter((w) => w.exitCode === null && w.signalCode === null);
    const exits = alive.map((w) => once(w, "exit") as Promise<[number | null, string | null]>);
    for (const w of alive) w.kill("SIGTERM");
    expect((await Promise.all(exits)).map(([code]) => code)).toEqual(alive.map(() => 0));
  }, 20_000);
});
