
import { mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createInProcessExecutor, createProcessExecutor, type Executor, type PipelineResult, resolveInputs, runPipeline, } from "@infialign/data";
import { runSnapshot } from "@infialign/test-utils";
import { describeWhen, sharedDataFile } from "@infialign/test-utils/vitest";
import { describe, expect, it } from "vitest";
import { loadShippedBenchmarks } from "../src/benchmarks/loadBenchmark.js";
import type { DecontamRecipeArgs } from "./fixtures/sharding/recipe.js";

const here = dirname(fileURLToPath(import.meta.url));
const recipeModule = join(here, "fixtures", "sharding", "recipe.ts");
const quiet = { info() {}, warn() {}, debug() {} };
// Workers import the TypeScript recipe: give them tsx's loader (the executor adds it only when it runs from sources).
const tsx = ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href];

async function run(runsDir: string, name: string, files: string[], executor: "local" | Executor, args: DecontamRecipeArgs, maxRecords = 1500): Promise<PipelineResult> {
  return runPipeline({
    name,
    runsDir,
    source: { files: await resolveInputs(files) },
    recipe: { module: recipeModule, export: "stages", args },
    executor,
    logger: quiet,
    progress: false,
    shard: { maxRecords },
    splitBytes: 1 << 20,
  });
}

const snapshot = runSnapshot;

const math = sharedDataFile("pools", "math-test.jsonl");
const gsm = sharedDataFile("pools", "gsm8k-train.jsonl");

describeWhen(math.missing ?? gsm.missing)("benchmarkDecontamStage sharded over the real pools", () => {
  it("learns from the input's head in a prepare task; 2 worker processes equal local byte for byte", async () => {
    const dir = await mkdtemp(join(tmpdir(), "decontam-sharding-"));
    // GSM8K train first, so the 10,000 learned records span both files and several splits.
    const files = [gsm.path, math.path];
    const local = await run(dir, "local", files, "local", {});
    const expected = await snapshot(local);
    const decontam = local.stages[1]!.manifest;
    expect(decontam.counts.in).toBe(12_473);
    expect(decontam.counts.rejectedByReason.contaminated).toBeGreaterThan(400); // MATH test holds MATH-500
    const processes = createProcessExecutor({ workers: 2, execArgv: [...process.execArgv, ...tsx] });
    try {
      const multi = await run(dir, "processes", files, processes, {});
      expect(await snapshot(multi)).toEqual(expected);
      const execution = multi.stages[1]!.manifest.execution!;
      expect(execution.tasks).toEqual({ prepare: 1, apply: execution.splits });
      expect(execution.splits).toBeGreaterThan(4);
      expect(Object.keys(execution.perWorker)).toHaveLength(2);
    } finally {
      await processes.close();
    }
  }, 300_000);
});

describe("benchmarkDecontamStage sharding plans", () => {
  // A small pool: clean records, benchmark copies in the prompt and in the response, and empty responses.
  async function pool(dir: string): Promise<string> {
    const items = (await loadShippedBenchmarks(["math500", "gsm8k"])).filter((_, i) => i % 40 === 0);
    const lines = Array.from({ length: 300 }, (_, i) => {
      const leaked = items[i % items.length]!.text;
      const question = i % 9 === 0 ? leaked : `Record ${i}: Tom has ${i} apples and buys ${(i * 7) % 13} more. How many apples does he have?`;
      const answer = i % 11 === 0 ? `Recall: ${leaked}\n#### ${i}` : `He adds them up.\n#### ${i + ((i * 7) % 13)}`;
      return JSON.stringify({ question, answer });
    });
    const path = join(dir, "pool.jsonl");
    await writeFile(path, `${lines.join("\n")}\n`);
    return path;
  }

  it("per-record without learning, prepare + apply with it, one task with an embedding layer; each equals local", async () => {
    const dir = await mkdtemp(join(tmpdir(), "decontam-sharding-small-"));
    const input = await pool(dir);
    const cases: Array<[DecontamRecipeArgs, Record<string, number> | ((splits: number) => Record<string, number>)]> = [
      [{ learnRecords: 0, fields: ["prompt", "response"], batchSize: 7 }, (splits) => ({ records: splits })],
      [{ learnRecords: 120, fields: ["prompt", "response"], batchSize: 7 }, (splits) => ({ prepare: 1, apply: splits })],
      [{ learnRecords: 0, embedding: true }, { whole: 1 }],
    ];
    for (const [i, [args, tasks]] of cases.entries()) {
      const local = await run(dir, `local-${i}`, [input], "local", args, 100);
      expect(local.stages[1]!.manifest.counts.rejected).toBeGreaterThan(0);
      const sharded = await run(dir, `sharded-${i}`, [input], createInProcessExecutor(), args, 100);
      expect(await snapshot(sharded)).toEqual(await snapshot(local));
      const execution = sharded.stages[1]!.manifest.execution!;
      expect(execution.tasks).toEqual(typeof tasks === "function" ? tasks(execution.splits) : tasks);
    }
  });
});
