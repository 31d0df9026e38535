import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runSnapshot } from "@infialign/test-utils";
import { describeWhen, sharedDataFile } from "@infialign/test-utils/vitest";
import { describe, expect, it } from "vitest";
import {
  createInProcessExecutor,
  createProcessExecutor,
  type Executor,
  type PipelineResult,
  resolveInputs,
  runPipeline,
  type StageManifest,
  StrictModeError,
} from "../src/index.js";
import type { RecipeArgs } from "./fixtures/executor/recipe.js";

const here = dirname(fileURLToPath(import.meta.url));
const recipeModule = join(here, "fixtures", "executor", "recipe.ts");
const quiet = { info() {}, warn() {}, debug() {} };

/** GSM8K-style lines with duplicates (every 7th, and prompt-only repeats) and broken records. */
function lines(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 7 === 6 ? i - 3 : i;
    const variant = i % 11 === 10 ? " Show your work." : "";
    out.push(JSON.stringify({ question: `Tom has ${k} apples and buys ${k + 2} more. How many apples does he have?`, answer: `He has ${k} + ${k + 2} = ${2 * k + 2} apples.${variant}\n#### ${2 * k + 2}` }));
    if (i % 97 === 10) out.push("{not json");
    if (i % 131 === 20) out.push(JSON.stringify({ question: "No final answer here", answer: "It is unclear." }));
  }
  return `${out.join("\n")}\n`;
}

async function run(runsDir: string, name: string, input: string[], executor: "local" | Executor, args: RecipeArgs, extra: Partial<Parameters<typeof runPipeline>[0]> = {}): Promise<PipelineResult> {
  return runPipeline({
    name,
    runsDir,
    source: { files: await resolveInputs(input) },
    recipe: { module: recipeModule, export: "stages", args },
    executor,
    logger: quiet,
    progress: false,
    shard: { maxRecords: 500 },
    splitBytes: 16 * 1024,
    ...extra,
  });
}

const snapshot = runSnapshot;

describe("sharded executors", () => {
  it("in-process and 2 worker processes write byte-identical outputs to local (splits of source, rejects, duplicates, stats)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(3000));
    const args: RecipeArgs = { stats: true };
    const local = await run(dir, "local", [input], "local", args);
    const inProcess = await run(dir, "in-process", [input], createInProcessExecutor(), args);
    const processes = createProcessExecutor({ workers: 2 });
    let multi: PipelineResult;
    try {
      multi = await run(dir, "processes", [input], processes, args);
    } finally {
      await processes.close();
    }
    const expected = await snapshot(local);
    expect(Object.keys(expected)).toContain("dedup/duplicates.jsonl");
    expect(local.stages[0]!.manifest.counts.rejected).toBeGreaterThan(0);
    expect(local.stages[1]!.manifest.counts.deduplicated).toBeGreaterThan(0);
    expect(await snapshot(inProcess)).toEqual(expected);
    expect(await snapshot(multi)).toEqual(expected);
    const normalize = multi.stages[0]!.manifest;
    expect(normalize.execution?.executor).toBe("processes");
    expect(normalize.execution?.splits).toBeGreaterThan(4);
    expect(Object.keys(normalize.execution!.perWorker).length).toBe(2);
    expect(multi.stages[1]!.manifest.execution?.tasks).toMatchObject({ map: expect.any(Number), reduce: 16, apply: expect.any(Number) });
    // A later local rerun finds every stage up to date: the keys do not depend on the executor.
    const again = await run(dir, "processes", [input], "local", args);
    expect(again.stages.every((s) => s.skipped)).toBe(true);
  }, 60_000);

  it("source splits read as the whole file does: blank stretches, a BOM inside the file, CRLF, no final newline", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    const body = lines(40).trimEnd().split("\n");
    body.splice(10, 0, ...Array.from({ length: 60 }, (_, i) => (i % 7 === 3 ? "   " : "")));
    body.splice(80, 1, `\ufeff${body[80]}`);
    await writeFile(input, `\ufeff${body.join("\r\n")}`);
    const args: RecipeArgs = {};
    const small = { splitBytes: 48 };
    const expected = await snapshot(await run(dir, "local", [input], "local", args, small));
    const sharded = await run(dir, "in-process", [input], createInProcessExecutor(), args, small);
    expect(sharded.stages[0]!.manifest.execution!.splits).toBeGreaterThan(20);
    expect(await snapshot(sharded)).toEqual(expected);
  });

  it("an empty input writes the stats a local run writes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, "{not json\n");
    const args: RecipeArgs = { stats: true };
    const expected = await snapshot(await run(dir, "local", [input], "local", args));
    expect(await snapshot(await run(dir, "in-process", [input], createInProcessExecutor(), args))).toEqual(expected);
  });

  it("prompt-keyed dedup names the first record of each prompt, as the streaming pass does", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(1500));
    const args: RecipeArgs = { dedupKey: "prompt" };
    const expected = await snapshot(await run(dir, "local", [input], "local", args));
    expect(await snapshot(await run(dir, "in-process", [input], createInProcessExecutor(), args))).toEqual(expected);
  }, 30_000);

  it("a worker killed mid-task (in a records task and in a reduce) is replaced and its task redone: same output", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(2000));
    const expected = await snapshot(await run(dir, "local", [input], "local", {}));
    for (const stage of ["normalize", "dedup"]) {
      const marker = join(dir, `crashed-${stage}`);
      const warnings: string[] = [];
      const processes = createProcessExecutor({ workers: 2, backoffMs: 10 });
      try {
        const result = await run(dir, `crash-${stage}`, [input], processes, { crashOnce: { stage, marker } }, { logger: { ...quiet, warn: (m) => warnings.push(m) } });
        expect(existsSync(marker)).toBe(true);
        expect(warnings.join("\n")).toMatch(/exited \(SIGKILL\)/);
        expect(result.stages.find((s) => s.name === stage)!.manifest.execution!.retries).toBe(1);
        expect(await snapshot(result)).toEqual(expected);
      } finally {
        await processes.close();
      }
    }
  }, 90_000);

  it("a coordinator killed mid-run and restarted picks the run up: finished tasks are kept, the output is identical", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(3000));
    const expected = await snapshot(await run(dir, "local", [input], "local", {}));
    const coordinator = join(here, "fixtures", "executor", "coordinator.ts");
    const start = () => spawn(process.execPath, ["--import", "tsx", coordinator, input, dir, "restart", "2", JSON.stringify({ slowMs: 2 })], { stdio: "inherit" });
    const tasksDir = join(dir, "restart", "normalize", ".tasks");
    const first = start();
    const finished = async () => ((await readdir(tasksDir).catch(() => [])) as string[]).filter((d) => /^records-\d+$/.test(d));
    while ((await finished()).length < 4) {
      if (first.exitCode !== null) throw new Error("the coordinator ended before it was killed");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    first.kill("SIGKILL");
    await once(first, "exit");
    const kept = await finished();
    const keptWorkers = await Promise.all(kept.map(async (d) => (JSON.parse(await readFile(join(tasksDir, d, "result.json"), "utf8")) as { worker: string }).worker));
    const second = start();
    const [code] = (await once(second, "exit")) as [number];
    expect(code).toBe(0);
    const result = await run(dir, "restart", [input], "local", {});
    expect(result.stages.every((s) => s.skipped)).toBe(true);
    expect(await snapshot(result)).toEqual(expected);
    // The restarted coordinator reused the tasks finished before the kill (their results name the first run's workers).
    expect(Object.keys(result.stages[0]!.manifest.execution!.perWorker)).toEqual(expect.arrayContaining([...new Set(keptWorkers)]));
  }, 90_000);

  it("a task failing on every try fails the run, naming the stage, task and shard", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(300));
    await expect(
      runPipeline({
        name: "fail",
        runsDir: dir,
        source: { files: await resolveInputs([input]) },
        recipe: { module: join(here, "fixtures", "executor", "missing-recipe.ts"), export: "stages" },
        executor: createInProcessExecutor({ backoffMs: 1 }),
        logger: quiet,
      }),
    ).rejects.toThrow(/cannot import the pipeline recipe/);
    const { stages } = await import("./fixtures/executor/recipe.js");
    await expect(run(dir, "fail2", [input], createInProcessExecutor({ backoffMs: 1 }), { stats: true }, { stages: await stages({ stats: true, dedupKey: "prompt" }) })).rejects.toThrow(
      /task map-0 of stage "dedup".*failed after 1 try: .*the worker built stage "dedup" with other params or version than the coordinator/,
    );
  });

  it("reports tasks done/total and records to the stage's progress, and each worker's tasks and records", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(1000));
    const events: Array<{ name: string; kind: string; total?: number; done?: number; records?: number }> = [];
    const result = await run(dir, "progress", [input], createInProcessExecutor(), {}, {
      progress: (name) => ({
        start: (total) => events.push({ name, kind: "start", ...(total === undefined ? {} : { total }) }),
        update: (done, records) => events.push({ name, kind: "update", done, ...(records === undefined ? {} : { records }) }),
        stop: () => events.push({ name, kind: "stop" }),
      }),
    });
    const normalize = result.stages[0]!.manifest;
    const tasks = normalize.execution!.tasks.records!;
    expect(events.find((e) => e.name === "normalize" && e.kind === "start")?.total).toBe(tasks);
    const last = events.filter((e) => e.name === "normalize" && e.kind === "update").at(-1)!;
    expect(last).toMatchObject({ done: tasks, records: normalize.counts.in });
    const worker = Object.keys(normalize.execution!.perWorker)[0]!;
    expect(events.filter((e) => e.name === `normalize ${worker}` && e.kind === "update").at(-1)).toMatchObject({ done: tasks, records: normalize.counts.in });
    expect(normalize.execution!.perWorker[worker]!.peakRssMB).toBeGreaterThan(10);
  });

  it("infialign-data run --executor processes writes what the local run writes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-cli-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(800));
    const tsx = pathToFileURL(join(here, "..", "node_modules", "tsx", "dist", "loader.mjs")).href;
    const cli = (name: string, ...extra: string[]) => {
      const r = spawnSync(process.execPath, ["--import", tsx, join(here, "..", "src", "cli", "main.ts"), "run", input, "--runs", dir, "--name", name, "--shard-records", "300", "--quiet", ...extra], { encoding: "utf8", env: { ...process.env, CI: "true" } });
      expect(r.status, r.stderr).toBe(0);
    };
    cli("local");
    cli("processes", "--executor", "processes", "--workers", "2");
    const read = async (name: string) => {
      const stages = ["normalize", "dedup", "stats"];
      const manifests = await Promise.all(stages.map(async (s) => JSON.parse(await readFile(join(dir, name, s, "manifest.json"), "utf8")) as StageManifest));
      return snapshot({ stages: stages.map((s, i) => ({ name: s, dir: join(dir, name, s), skipped: false, resumed: false, manifest: manifests[i]! })) });
    };
    expect(await read("processes")).toEqual(await read("local"));
    const manifest = JSON.parse(await readFile(join(dir, "processes", "dedup", "manifest.json"), "utf8")) as StageManifest;
    expect(manifest.execution).toMatchObject({ executor: "processes", workers: 2 });
  }, 60_000);

  it("a task failing for good stops the run at once: no task starts after it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(3000));
    const processes = createProcessExecutor({ workers: 2, backoffMs: 10, attempts: 2 });
    const warnings: string[] = [];
    const failed = run(dir, "stop", [input], processes, { failOn: "Tom has 3 apples", slowMs: 1 }, { logger: { ...quiet, warn: (m) => warnings.push(m) } }).finally(() => processes.close());
    await expect(failed).rejects.toThrow(
      /task records-0 of stage "normalize" \(.*pool\.jsonl bytes 0-\d+, from line 1\) failed after 2 tries: injected failure/,
    );
    const tasksDir = join(dir, "stop", "normalize", ".tasks");
    const finishedAtFailure = (await readdir(tasksDir)).filter((d) => /^records-\d+$/.test(d)).length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await readdir(tasksDir)).filter((d) => /^records-\d+$/.test(d)).length).toBe(finishedAtFailure);
    expect(warnings.filter((w) => /retrying/.test(w) && !/injected/.test(w))).toEqual([]);
  }, 30_000);

  it("--strict fails at the first reject with a StrictModeError, without retrying the task", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(300));
    const processes = createProcessExecutor({ workers: 2, backoffMs: 10 });
    const events: string[] = [];
    try {
      const error = await run(dir, "strict", [input], processes, {}, { strict: true, logger: { ...quiet, warn: (m) => events.push(m) } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StrictModeError);
      // Tasks run at once: the first reject any of them meets stops the run (not necessarily the earliest in the input).
      const entry = (error as StrictModeError).entry;
      expect(entry.stage).toBe("normalize");
      expect(["malformed_json", "missing_final_answer"]).toContain(entry.code);
      expect(entry.loc?.line).toBeGreaterThan(0);
      expect(events.join("\n")).toMatch(/try 1, giving up/);
    } finally {
      await processes.close();
    }
  }, 30_000);

  it("--force discards the finished tasks of an interrupted sharded stage", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(600));
    await expect(run(dir, "force", [input], createInProcessExecutor({ backoffMs: 1, attempts: 1 }), { failOn: "Tom has 500 apples" })).rejects.toThrow(/injected/);
    const tasksDir = join(dir, "force", "normalize", ".tasks");
    const finished = (await readdir(tasksDir)).filter((d) => /^records-\d+$/.test(d));
    expect(finished.length).toBeGreaterThan(0);
    const resumed = await run(dir, "force", [input], createInProcessExecutor(), {});
    expect(resumed.stages[0]!.manifest.timings.resumed).toBe(true);
    const forced = await run(dir, "force", [input], createInProcessExecutor(), {}, { force: true });
    expect(forced.stages[0]!.manifest.timings.resumed).toBe(false);
    expect(existsSync(tasksDir)).toBe(false);
  });

  it("a reduce whose map output cannot be seen fails instead of reading it as no rows", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, lines(600));
    const inner = createInProcessExecutor({ backoffMs: 1, attempts: 2 });
    // Stands for a stale view of a shared directory: a file the map wrote is not there for the reduce.
    const lossy: Executor = {
      ...inner,
      async execute(tasks, options) {
        const results = await inner.execute(tasks, options);
        if (tasks[0]?.phase === "map") {
          const victim = results[0]!.files!.find((f) => f.startsWith("rows-"))!;
          await rm(join(tasks[0].outDir, victim));
        }
        return results;
      },
    };
    await expect(run(dir, "lossy", [input], lossy, {})).rejects.toThrow(/rows-\d+\.jsonl is listed in .*result\.json but cannot be read here/);
  });

  it("refuses a sharded executor without a recipe", async () => {
    await expect(runPipeline({ name: "x", source: { files: [{ path: "/x.jsonl", size: 1, mtimeMs: 1, format: "jsonl", compression: "none" }] }, stages: [], executor: "processes" })).rejects.toThrow(/recipe/);
  });
});

const pool = sharedDataFile("pools", "math-test.jsonl");
const gsm = sharedDataFile("pools", "gsm8k-train.jsonl");
describeWhen(pool.missing ?? gsm.missing)("processes executor over the real pools", () => {
  it("normalize + dedup over GSM8K train + MATH test on 2 workers equals local", async () => {
    const dir = await mkdtemp(join(tmpdir(), "infialign-exec-pools-"));
    const files = [gsm.path, pool.path];
    const expected = await snapshot(await run(dir, "local", files, "local", {}, { shard: {}, splitBytes: undefined }));
    const processes = createProcessExecutor({ workers: 2 });
    try {
      expect(await snapshot(await run(dir, "processes", files, processes, {}, { shard: {}, splitBytes: undefined }))).toEqual(expected);
    } finally {
      await processes.close();
    }
  }, 60_000);
});
