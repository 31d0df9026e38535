// `pnpm bench` for @infialign/data: normalize + exact dedup throughput and peak RSS on the
// real pools and on a synthetic 1M-record (~2 GB) input, each next to a bare JSON.parse
// loop over the same file measured in the same run. Writes bench-results/data-*.json.
import { execFileSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = resolve(here, "..");
const work = join(tmpdir(), "infialign-bench-data");
mkdirSync(work, { recursive: true });
const quick = process.argv.includes("--quick");
const syntheticRecords = quick ? 100_000 : 1_000_000;

interface JobResult {
  mode: string;
  records: number;
  out: number;
  seconds: number;
  peakRssMB: number;
}

function job(mode: string, input: string): JobResult {
  const out = execFileSync(process.execPath, ["--import", "tsx", join(here, "job.ts"), mode, input, join(work, "runs")], {
    cwd: pkgDir,
    encoding: "utf8",
    env: { ...process.env, CI: "true" },
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split("\n").at(-1)!) as JobResult;
}

/** Median of `n` runs by time (the real pools are small, so single runs are noisy). */
function median(mode: string, input: string, n: number): JobResult {
  const runs = Array.from({ length: n }, () => job(mode, input)).sort((a, b) => a.seconds - b.seconds);
  return runs[Math.floor(n / 2)]!;
}

function realPools(): string | undefined {
  const pools = resolve(pkgDir, "../../../shared/data/pools");
  if (!existsSync(pools)) return undefined;
  const file = join(work, "real-pools.jsonl");
  writeFileSync(file, Buffer.concat([readFileSync(join(pools, "gsm8k-train.jsonl")), readFileSync(join(pools, "math-test.jsonl"))]));
  return file;
}

/** Deterministic MATH-style records of ~2 KB with 5% exact duplicates. */
async function synthetic(n: number): Promise<string> {
  const file = join(work, `synthetic-v2-${n}.jsonl`);
  if (existsSync(file)) return file;
  const tmp = `${file}.tmp`;
  const stream = createWriteStream(tmp);
  // One generator picks which records repeat; each record's text comes from a generator
  // seeded by its own id, so a repeated id is an exact duplicate.
  const lcg = (seed: number) => () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const pick = lcg(42);
  const words = "let the number of ways be computed by counting each case separately then we add the results and simplify using the identity so that".split(" ");
  const sentence = (rand: () => number, len: number) => Array.from({ length: len }, () => words[Math.floor(rand() * words.length)]).join(" ");
  const types = ["Algebra", "Geometry", "Number Theory", "Counting & Probability", "Precalculus", "Intermediate Algebra", "Prealgebra"];
  let chunk: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = pick() < 0.05 && i > 0 ? Math.floor(pick() * i) : i;
    const rand = lcg(id + 1);
    const problem = `Problem ${id}: ${sentence(rand, 40)} $x^2 + ${id % 97}x = ${id % 31}$?`;
    const solution = `${sentence(rand, 260)}\n\nTherefore the answer is $\\boxed{${id % 1000}}$.`;
    chunk.push(JSON.stringify({ problem, solution, level: `Level ${1 + (id % 5)}`, type: types[id % types.length], idx: id }));
    if (chunk.length === 2000) {
      if (!stream.write(`${chunk.join("\n")}\n`)) await once(stream, "drain");
      chunk = [];
    }
  }
  if (chunk.length) stream.write(`${chunk.join("\n")}\n`);
  stream.end();
  await once(stream, "finish");
  execFileSync("mv", [tmp, file]);
  return file;
}

const rows: Array<Record<string, unknown>> = [];
function measure(name: string, input: string, repeats: number, modes: string[]): void {
  const sizeMB = statSync(input).size / 2 ** 20;
  const baseline = median("baseline", input, repeats);
  for (const mode of modes) {
    const result = median(mode, input, repeats);
    rows.push({
      input: name,
      sizeMB: Number(sizeMB.toFixed(1)),
      job: mode === "pipeline" ? "normalize+dedup" : "normalize(+qwen tokens)+dedup",
      records: result.records,
      kept: result.out,
      seconds: Number(result.seconds.toFixed(2)),
      recordsPerSecond: Math.round(result.records / result.seconds),
      baselineRecordsPerSecond: Math.round(baseline.records / baseline.seconds),
      timeVsBaseline: Number((result.seconds / baseline.seconds).toFixed(2)),
      peakRssMB: Math.round(result.peakRssMB),
      baselinePeakRssMB: Math.round(baseline.peakRssMB),
    });
  }
}

const pools = realPools();
if (pools) measure("real pools (GSM8K train + MATH test)", pools, 3, ["pipeline", "pipeline-tokens"]);
else console.warn("../shared/data absent: skipping the real-pool benchmark");
measure(`synthetic ${syntheticRecords.toLocaleString("en-US")} records`, await synthetic(syntheticRecords), 1, ["pipeline"]);

console.table(rows);
const goals = rows
  .filter((r) => r.job === "normalize+dedup")
  .map((r) => ({ input: r.input, withinThreeX: (r.timeVsBaseline as number) <= 3, rssUnder500MB: (r.peakRssMB as number) < 500 }));
console.table(goals);
const outDir = join(pkgDir, "bench-results");
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `data-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(outFile, `${JSON.stringify({ package: "@infialign/data", node: process.versions.node, date: new Date().toISOString(), rows, goals }, null, 2)}\n`);
rmSync(join(work, "runs"), { recursive: true, force: true });
console.log(`wrote ${outFile}`);
