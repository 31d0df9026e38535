// `pnpm bench` for @infialign/data: normalize + exact dedup throughput and peak RSS on the
// real pools and on a synthetic 1M-record (~1.7 GB) input, each next to a bare JSON.parse
// loop over the same file measured in the same run. Writes bench-results/data-*.json.
// Options: --quick (100k synthetic records), --records N, --repeats N (rounds on the synthetic input).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeSyntheticMath } from "./synthetic.js";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = resolve(here, "..");
const work = join(tmpdir(), "infialign-bench-data");
mkdirSync(work, { recursive: true });
const quick = process.argv.includes("--quick");
/** `--flag N` from the command line, else `fallback`. */
function numberFlag(flag: string, fallback: number): number {
  const at = process.argv.indexOf(flag);
  if (at === -1) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`[infialign/data] bench: ${flag} needs a positive integer, got "${process.argv[at + 1]}"`);
  return value;
}
const syntheticRecords = numberFlag("--records", quick ? 100_000 : 1_000_000);
/** Rounds on the synthetic input; each round runs the baseline and every job once, alternating, and medians are kept. */
const syntheticRepeats = numberFlag("--repeats", 1);

interface JobResult {
  mode: string;
  records: number;
  out: number;
  seconds: number;
  /** CPU seconds of the process (all threads) and of its main thread alone (Linux). */
  cpuSeconds: number;
  mainThreadCpuSeconds?: number;
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

function median(runs: JobResult[], value: (r: JobResult) => number): number {
  const sorted = runs.map(value).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function realPools(): string | undefined {
  const pools = resolve(pkgDir, "../../../shared/data/pools");
  if (!existsSync(pools)) return undefined;
  const file = join(work, "real-pools.jsonl");
  writeFileSync(file, Buffer.concat([readFileSync(join(pools, "gsm8k-train.jsonl")), readFileSync(join(pools, "math-test.jsonl"))]));
  return file;
}

const rows: Array<Record<string, unknown>> = [];
function measure(name: string, input: string, repeats: number, modes: string[]): void {
  const sizeMB = statSync(input).size / 2 ** 20;
  // Rounds alternate the baseline and the jobs, so a machine whose load changes slows them alike.
  const runs = new Map<string, JobResult[]>([["baseline", []], ...modes.map((m): [string, JobResult[]] => [m, []])]);
  for (let round = 0; round < repeats; round++) for (const [mode, done] of runs) done.push(job(mode, input));
  const baseline = runs.get("baseline")!;
  const baseSeconds = median(baseline, (r) => r.seconds);
  const baseCpu = median(baseline, (r) => r.cpuSeconds);
  const baseMain = median(baseline, (r) => r.mainThreadCpuSeconds ?? Number.NaN);
  for (const mode of modes) {
    const results = runs.get(mode)!;
    const seconds = median(results, (r) => r.seconds);
    const cpu = median(results, (r) => r.cpuSeconds);
    const main = median(results, (r) => r.mainThreadCpuSeconds ?? Number.NaN);
    const records = results[0]!.records;
    rows.push({
      input: name,
      sizeMB: Number(sizeMB.toFixed(1)),
      job: mode === "pipeline" ? "normalize+dedup" : "normalize(+qwen tokens)+dedup",
      runs: repeats,
      records,
      kept: results[0]!.out,
      seconds: Number(seconds.toFixed(2)),
      recordsPerSecond: Math.round(records / seconds),
      baselineRecordsPerSecond: Math.round(baseline[0]!.records / baseSeconds),
      timeVsBaseline: Number((seconds / baseSeconds).toFixed(2)),
      // Per core: CPU time against CPU time (the pipeline's write I/O and GC helpers run on other threads).
      cpuSeconds: Number(cpu.toFixed(2)),
      cpuVsBaseline: Number((cpu / baseCpu).toFixed(2)),
      mainThreadCpuVsBaseline: Number.isFinite(main / baseMain) ? Number((main / baseMain).toFixed(2)) : null,
      peakRssMB: Math.round(Math.max(...results.map((r) => r.peakRssMB))),
      baselinePeakRssMB: Math.round(Math.max(...baseline.map((r) => r.peakRssMB))),
    });
  }
}

const pools = realPools();
if (pools) measure("real pools (GSM8K train + MATH test)", pools, 3, ["pipeline", "pipeline-tokens"]);
else console.warn("../shared/data absent: skipping the real-pool benchmark");
const [synthetic] = await writeSyntheticMath({ dir: work, records: syntheticRecords });
measure(`synthetic ${syntheticRecords.toLocaleString("en-US")} records`, synthetic!, syntheticRepeats, ["pipeline"]);

console.table(rows);
const goals = rows
  .filter((r) => r.job === "normalize+dedup")
  // Issue 16's goal: per core, within 5× of the bare JSON.parse loop; and under 500 MB.
  .map((r) => ({
    input: r.input,
    withinFiveX: (r.timeVsBaseline as number) <= 5,
    cpuWithinFiveX: (r.cpuVsBaseline as number) <= 5,
    rssUnder500MB: (r.peakRssMB as number) < 500,
  }));
console.table(goals);
const outDir = join(pkgDir, "bench-results");
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `data-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(outFile, `${JSON.stringify({ package: "@infialign/data", node: process.versions.node, date: new Date().toISOString(), rows, goals }, null, 2)}\n`);
rmSync(join(work, "runs"), { recursive: true, force: true });
console.log(`wrote ${outFile}`);
