
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createInProcessExecutor, createProcessExecutor, type Executor, makeSample, type PipelineResult, resolveInputs, runPipeline, } from "@infialign/data";
import { LshIndex, MinHasher } from "@infialign/decontam";
import { l2NormalizeRows } from "@infialign/kernels";
import { runSnapshot } from "@infialign/test-utils";
import { describeWhen, sharedDataFile } from "@infialign/test-utils/vitest";
import { describe, expect, it } from "vitest";
import { nearestCentroid, sphericalKMeans } from "../src/cluster/index.js";
import { lshBucketKeys, type NearDupEdge, replayNearDuplicates } from "../src/select/nearDup.js";
import { nearDupStage } from "../src/select/stages/nearDupStage.js";
import type { ShardingRecipeArgs } from "./fixtures/sharding/recipe.js";
import { collect, fakeCtx, from } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url));
const recipeModule = join(here, "fixtures", "sharding", "recipe.ts");
const quiet = { info() {}, warn() {}, debug() {} };
// Workers import the TypeScript recipe: give them tsx's loader (the executor adds it only when it runs from sources).
const tsx = ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href];

async function run(runsDir: string, name: string, files: string[], executor: "local" | Executor, args: ShardingRecipeArgs): Promise<PipelineResult> {
  return runPipeline({
    name,
    runsDir,
    source: { files: await resolveInputs(files) },
    recipe: { module: recipeModule, export: "stages", args },
    executor,
    logger: quiet,
    progress: false,
    seed: 5,
    shard: { maxRecords: 1500 },
    splitBytes: 1 << 20,
  });
}

const snapshot = runSnapshot;

/** A pool variant of the MATH test split: near-duplicate prompts, wrong answers, looping solutions. */
async function variants(mathPath: string, target: string): Promise<void> {
  const lines = (await readFile(mathPath, "utf8")).split("\n").filter(Boolean);
  const out: string[] = [];
  lines.forEach((line, i) => {
    const r = JSON.parse(line) as { problem: string; solution: string };
    if (i % 20 === 3) out.push(JSON.stringify({ ...r, problem: `${r.problem} Explain briefly.` }));
    if (i % 50 === 7) out.push(JSON.stringify({ ...r, problem: `Variant ${i}: ${r.problem}`, answer: "-12345" }));
    if (i % 150 === 11) out.push(JSON.stringify({ ...r, problem: `Loop ${i}: ${r.problem}`, solution: `${"Wait, let me recompute this again.\n".repeat(40)}${r.solution}` }));
  });
  await writeFile(target, `${out.join("\n")}\n`);
}

const math = sharedDataFile("pools", "math-test.jsonl");
const gsm = sharedDataFile("pools", "gsm8k-train.jsonl");

describeWhen(math.missing ?? gsm.missing)("sharded quality, near-dup and select over the real pools", () => {
  it("2 worker processes write byte-identical outputs to local (shards, rejects, duplicates, manifest stats, report)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sampling-sharding-"));
    const extra = join(dir, "variants.jsonl");
    await variants(math.path, extra);
    const files = [gsm.path, math.path, extra];
    const args = (report: string): ShardingRecipeArgs => ({ stages: ["quality", "near-dup", "select"], select: { budget: 0.2, fitSample: 3000, reportPath: join(dir, report) } });
    const local = await run(dir, "local", files, "local", args("local.json"));
    const expected = await snapshot(local);
    const [, quality, nearDup, select] = local.stages.map((s) => s.manifest);
    expect(quality!.counts.rejectedByReason).toMatchObject({ answer_mismatch: expect.any(Number), repetition: expect.any(Number) });
    expect(nearDup!.counts.deduplicated).toBeGreaterThanOrEqual(250);
    expect(select!.counts.in).toBeGreaterThan(3000); // the fit sample is a part of the pool
    expect(select!.counts.rejected).toBeGreaterThan(0);

    const processes = createProcessExecutor({ workers: 2, execArgv: [...process.execArgv, ...tsx] });
    let multi: PipelineResult;
    try {
      multi = await run(dir, "processes", files, processes, args("processes.json"));
    } finally {
      await processes.close();
    }
    expect(await snapshot(multi)).toEqual(expected);
    expect(await readFile(join(dir, "processes.json"), "utf8")).toBe(await readFile(join(dir, "local.json"), "utf8"));
    const tasks = Object.fromEntries(multi.stages.map((s) => [s.name, s.manifest.execution?.tasks]));
    expect(tasks.quality).toEqual({ records: expect.any(Number) });
    expect(tasks["near-dup"]).toMatchObject({ map: expect.any(Number), reduce: 16, merge: 1 });
    expect(tasks.select).toMatchObject({ prepare: 1, reduce: 1 });
    expect(multi.stages.find((s) => s.name === "select")!.manifest.execution!.splits).toBeGreaterThan(4);
  }, 300_000);
});

describe("select sharded on a small pool", () => {
  it("in-process equals local, with and without a k-NN labeler built from the fit sample, which is the pool or a part of it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sampling-sharding-small-"));
    const subjects = ["Algebra", "Geometry", "Number Theory", "Counting & Probability"];
    // GSM8K-style and MATH-style records carry their domain (adapter, subject); instruction records carry none.
    const lines = Array.from({ length: 600 }, (_, i) =>
      JSON.stringify(
        i % 5 === 1
          ? { instruction: `Case ${i}: name entry ${i} of the registry.`, output: `${"Look it up. ".repeat(1 + (i % 4))}It is \\boxed{${i}}.` }
          : i % 3 === 0
            ? { question: `Tom has ${i} apples and buys ${i % 17} more. How many apples does he have now?`, answer: `${"He adds them. ".repeat(1 + (i % 6))}\n#### ${i + (i % 17)}` }
            : {
                problem: `Problem ${i} (${subjects[i % 4]}): compute ${i} times ${(i * 7) % 31} and add the case number ${i * 13}.`,
                solution: `${"We multiply and then add. ".repeat(1 + (i % 5))}The result is $\\boxed{${i * ((i * 7) % 31) + i * 13}}$.`,
                type: subjects[i % 4],
              },
      ),
    );
    const input = join(dir, "pool.jsonl");
    await writeFile(input, `${lines.join("\n")}\n`);
    for (const [knnFromSample, fitSample] of [
      [false, undefined],
      [true, undefined],
      [true, 200],
    ] as const) {
      const args: ShardingRecipeArgs = { stages: ["select"], select: { budget: 0.25, ...(fitSample && { fitSample }) }, knnFromSample };
      const local = await runPipeline({
        name: `local-${knnFromSample}-${fitSample}`,
        runsDir: dir,
        source: { files: await resolveInputs(input) },
        recipe: { module: recipeModule, export: "stages", args },
        executor: "local",
        logger: quiet,
        progress: false,
        shard: { maxRecords: 100 },
      });
      const sharded = await runPipeline({
        name: `sharded-${knnFromSample}-${fitSample}`,
        runsDir: dir,
        source: { files: await resolveInputs(input) },
        recipe: { module: recipeModule, export: "stages", args },
        executor: createInProcessExecutor(),
        logger: quiet,
        progress: false,
        shard: { maxRecords: 100 },
      });
      const expected = await snapshot(local);
      expect(await snapshot(sharded)).toEqual(expected);
      const select = local.stages[1]!.manifest;
      expect(select.counts.out).toBe(150);
      // Without keywords the instruction records are labeled by the k-NN labeler (never "other"); with them, some are "other".
      const domains = (select.stats as { composition: { domains: string[] } }).composition.domains;
      expect(domains.includes("other")).toBe(!knnFromSample);
    }
  }, 120_000);
});

describe("nearestCentroid", () => {
  it("gives a k-means fit's own assignments, whatever batch a row comes in", () => {
    let x = 7;
    const rand = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
    const n = 2001;
    const dim = 64;
    const data = l2NormalizeRows(Float32Array.from({ length: n * dim }, rand), dim);
    const fit = sphericalKMeans(data, dim, { k: 37, seed: 1, engine: "js" });
    const mine = Array.from({ length: n }, (_, i) => nearestCentroid(data, i * dim, fit.centroids, dim).cluster);
    expect(mine).toEqual(Array.from(fit.assignments));
    // A row alone gets the cluster and score it gets in the whole array.
    const alone = data.slice(1000 * dim, 1001 * dim);
    expect(nearestCentroid(alone, 0, fit.centroids, dim)).toEqual(nearestCentroid(data, 1000 * dim, fit.centroids, dim));
  });
});

describe("near-dup greedy replay", () => {
  const s = (prompt: string) => makeSample({ source: "t", prompt, response: "\\boxed{1}" });
  // A ~ B and B ~ C (one word apart), A ≁ C (two words apart): the streaming pass drops B (a duplicate of A) and keeps
  // C, whose only match is B. Connected components would merge all three.
  const a = s("one two three four five six seven eight");
  const b = s("one two three four five six seven eight nine");
  const c = s("one two three four five six seven eight nine ten eleven");
  const d = s("a completely different problem about rectangles and their areas in square meters");

  it("keeps C of the chain A~B, B~C, A≁C, in the stage and in the replay of its edges", async () => {
    const hasher = await MinHasher.create();
    const sig = (x: typeof a) => hasher.signature(x.prompt);
    const { estimateJaccard } = await import("@infialign/decontam");
    const threshold = nearDupStage().params.threshold;
    expect(estimateJaccard(sig(a), sig(b))).toBeGreaterThanOrEqual(threshold);
    expect(estimateJaccard(sig(b), sig(c))).toBeGreaterThanOrEqual(threshold);
    expect(estimateJaccard(sig(a), sig(c))).toBeLessThan(threshold);

    const { ctx, duplicates } = fakeCtx();
    const kept = await collect(nearDupStage().run(from([a, b, c, d]), ctx));
    expect(kept.map((x) => x.id)).toEqual([a.id, c.id, d.id]);
    expect(duplicates).toEqual([{ id: b.id, of: a.id }]);

    const edges: NearDupEdge[] = [
      [1, { order: 0, id: a.id, jaccard: estimateJaccard(sig(a), sig(b)) }],
      [2, { order: 1, id: b.id, jaccard: estimateJaccard(sig(b), sig(c)) }],
    ];
    expect(replayNearDuplicates(edges)).toEqual([[1, a.id]]);
    // The order edges arrive in (partitions, buckets) does not matter, nor do repeated edges.
    expect(replayNearDuplicates([edges[1]!, edges[0]!, edges[1]!])).toEqual([[1, a.id]]);
  });

  it("points a duplicate to the kept record with the highest Jaccard, ties to the earliest", () => {
    const e = (later: number, order: number, jaccard: number): NearDupEdge => [later, { order, id: `r${order}`, jaccard }];
    expect(replayNearDuplicates([e(5, 3, 0.8), e(5, 1, 0.8), e(5, 2, 0.9)])).toEqual([[5, "r2"]]);
    expect(replayNearDuplicates([e(5, 3, 0.8), e(5, 1, 0.8)])).toEqual([[5, "r1"]]);
    // r1 is itself a duplicate of r0, so r5 points to r3.
    expect(replayNearDuplicates([e(1, 0, 0.9), e(5, 1, 0.95), e(5, 3, 0.8)])).toEqual([
      [1, "r0"],
      [5, "r3"],
    ]);
  });

  it("sharded in-process equals local on the chain and on exact copies", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sampling-neardup-chain-"));
    const rows = [a, b, c, d, a, c, b, d].map((x, i) => ({ question: `${x.prompt}`, answer: `It is ${i}.\n#### ${i}` }));
    const input = join(dir, "chain.jsonl");
    await writeFile(input, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
    const files = await resolveInputs(input);
    const go = (name: string, executor: "local" | Executor) =>
      runPipeline({
        name,
        runsDir: dir,
        source: { files },
        recipe: { module: recipeModule, export: "stages", args: { stages: ["near-dup"] } satisfies ShardingRecipeArgs },
        executor,
        logger: quiet,
        progress: false,
        shard: { maxRecords: 3 },
      });
    const local = await go("local", "local");
    expect(local.stages[1]!.manifest.counts).toMatchObject({ in: 8, out: 3, deduplicated: 5 });
    expect(await snapshot(await go("sharded", createInProcessExecutor()))).toEqual(await snapshot(local));
  });

  it("bucket keys give LshIndex's candidates", async () => {
    const hasher = await MinHasher.create();
    const texts = [a, b, c, d].map((x) => x.prompt);
    const index = new LshIndex(hasher.config);
    const sigs = texts.map((t) => hasher.signature(t));
    sigs.forEach((sig, i) => {
      index.add(i, sig);
    });
    const keys = sigs.map((sig) => new Set(lshBucketKeys(sig, 14, 8)));
    for (let i = 0; i < sigs.length; i++) {
      const mine = sigs.flatMap((_, j) => ([...keys[i]!].some((k) => keys[j]!.has(k)) ? [j] : []));
      expect(mine.sort()).toEqual(index.query(sigs[i]!).sort());
    }
  });
});
