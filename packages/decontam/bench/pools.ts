// Precision on the real pools, both paraphrase evaluation sets, and records/s of the pipeline stage.
//  1. MATH test pool (5,000) against all shipped benchmarks, with stock phrases learned from the pool and without:
//     MATH-500 problems flagged against their own item, other flags, and those outside template siblings (with reasons).
//  2. Recall / false positives of the n-gram + paraphrase layers on both halves of test/fixtures (generated + hand
//     leaks) and of the independent set test/fixtures/rewrites (dev, frozen held-out).
//  3. benchmarkDecontamStage through runPipeline over both pools (12,473 records): records/s, learning from the input or not.
// Writes bench-results/pools.json. Needs ../shared/data (INFIALIGN_SHARED_DATA).
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeSample, resolveInputs, runPipeline, silentLogger } from "@infialign/data";
import { sharedDataPath } from "@infialign/test-utils";
import { benchmarkDecontamStage, Decontaminator, loadShippedBenchmarks } from "../src/index.js";
import { readJsonl } from "../test/fixtures/jsonl.js";
import { classifyPoolFlags, type PoolFlag } from "../test/fixtures/poolFlags.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, "..", "test", "fixtures");
const shared = (file: string) => {
  const path = sharedDataPath("pools", file);
  if (!path) throw new Error("[infialign/decontam] bench: shared data not found; set INFIALIGN_SHARED_DATA");
  return path;
};
// The fixtures name GSM8K by its former name.
const sameBenchmark = (row: unknown, match: string) => row === match || (row === "gsm8k-test" && match === "gsm8k");

const items = await loadShippedBenchmarks();
const mathPool = readJsonl(shared("math-test.jsonl"));
const gsmPool = readJsonl(shared("gsm8k-train.jsonl"));

function poolFlags(dec: Decontaminator) {
  const { own, others, outside } = classifyPoolFlags(dec, mathPool, items);
  const row = (o: PoolFlag) => ({ idx: o.idx, templateSimilarity: +o.similarity.toFixed(2), sibling: o.sibling, match: o.reason.slice(0, 240) });
  return { math500Flagged: own.size, others: others.length, outsideTemplateSiblings: outside.length, outside: outside.map(row), siblings: others.filter((o) => o.sibling).map(row) };
}

let t = performance.now();
const learned = await Decontaminator.build(items, {}, { background: mathPool.map((r) => r.problem as string) });
const learnedBuildMs = +(performance.now() - t).toFixed(1);
const alone = await Decontaminator.build(items);
const pools = {
  learnedFromPool: { buildMs: learnedBuildMs, learnedStockNgrams: learned.ngram.backgroundStockCount, ...poolFlags(learned) },
  benchmarkStockOnly: poolFlags(alone),
};
for (const [name, p] of Object.entries(pools)) {
  console.log(`MATH pool, ${name}: ${p.math500Flagged}/500 MATH-500 flagged, ${p.others} others, ${p.outsideTemplateSiblings} outside template siblings`);
  for (const o of p.outside) console.log(`  OTHER idx ${o.idx} (template similarity ${o.templateSimilarity}): ${o.match}`);
}

function evalHalves(rows: Record<string, unknown>[], halfOf: (r: Record<string, unknown>) => string, isLeak: (r: Record<string, unknown>) => boolean) {
  const out: Record<string, { recall: number; leaks: number; caught: number; falsePositiveRate: number; clean: number; falsePositives: number }> = {};
  for (const r of rows) {
    const h = halfOf(r);
    const s = (out[h] ??= { recall: 0, leaks: 0, caught: 0, falsePositiveRate: 0, clean: 0, falsePositives: 0 });
    const res = alone.check(r.text as string);
    if (isLeak(r)) {
      s.leaks++;
      if (res.matches.some((m) => sameBenchmark(r.benchmark, m.benchmark) && m.id === r.id)) s.caught++;
    } else {
      s.clean++;
      if (res.contaminated) s.falsePositives++;
    }
  }
  for (const s of Object.values(out)) {
    s.recall = +(s.caught / s.leaks).toFixed(3);
    s.falsePositiveRate = +(s.falsePositives / s.clean).toFixed(3);
  }
  return out;
}
const fnv = (s: string) => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
};
const generated = [...readJsonl(join(fixtures, "leaks-generated.jsonl")), ...readJsonl(join(fixtures, "leaks-handwritten.jsonl")), ...readJsonl(join(fixtures, "clean.jsonl"))];
const rewrites = ["dev", "heldout"].flatMap((half) => readJsonl(join(fixtures, "rewrites", `${half}.jsonl`)).map((r) => ({ ...r, half })));
const paraphrase = {
  generatedSet: evalHalves(generated, (r) => ((fnv(r.text as string) & 1) === 0 ? "dev" : "heldOut"), (r) => r.benchmark !== undefined),
  independentSet: evalHalves(rewrites, (r) => r.half as string, (r) => r.label === "leak"),
  independentHeldOutSha256: createHash("sha256").update(readFileSync(join(fixtures, "rewrites", "heldout.jsonl"))).digest("hex"),
};
console.log(JSON.stringify(paraphrase, null, 2));

// The stage end to end: both pools as canonical Samples, one run per setting in a fresh directory.
const dir = mkdtempSync(join(tmpdir(), "decontam-bench-stage-"));
const samples = [...gsmPool.map((r) => r.question as string), ...mathPool.map((r) => r.problem as string)].map((prompt) => makeSample({ source: "pool", prompt }));
writeFileSync(join(dir, "pool.jsonl"), `${samples.map((s) => JSON.stringify(s)).join("\n")}\n`);
const files = await resolveInputs(join(dir, "pool.jsonl"));
const stage: Record<string, { recordsPerSec: number; wallMs: number; rejected: number }> = {};
for (const [name, learnRecords] of [
  ["learnRecords0", 0],
  ["learnRecords10000", 10_000],
  ["learnRecordsAll", samples.length],
] as const) {
  t = performance.now();
  const res = await runPipeline({ name, runsDir: dir, source: { files, decode: "samples" }, stages: [benchmarkDecontamStage(items, { learnRecords })], logger: silentLogger, progress: false });
  const wallMs = performance.now() - t;
  stage[name] = { recordsPerSec: Math.round(samples.length / (wallMs / 1000)), wallMs: +wallMs.toFixed(0), rejected: res.stages[0]!.manifest.counts.rejected };
}
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(stage, null, 2));

const result = { date: new Date().toISOString(), node: process.version, records: samples.length, benchmarkItems: items.length, pools, paraphrase, stage, peakRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(1) };
const outDir = join(here, "..", "bench-results");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "pools.json"), `${JSON.stringify(result, null, 2)}\n`);
