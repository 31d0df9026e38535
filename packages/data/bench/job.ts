// One measured job per process, so peak RSS belongs to that job alone.
// Usage: node --import tsx bench/job.ts <baseline|pipeline|pipeline-tokens> <input> <runsDir>
import { createReadStream, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { exactDedupStage, normalizeStage, resolveInputs, runPipeline } from "../src/index.js";

const [mode, input, runsDir] = process.argv.slice(2);
if (!mode || !input || !runsDir) throw new Error("usage: job.ts <mode> <input> <runsDir>");

/** CPU seconds of the main thread alone (Linux; undefined elsewhere): the JavaScript work, without GC helpers and I/O threads. */
function mainThreadCpuSeconds(): number | undefined {
  try {
    // Fields 14 and 15 of /proc/<pid>/stat (utime, stime) in clock ticks, 100 per second on Linux.
    const fields = readFileSync("/proc/thread-self/stat", "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

const started = process.hrtime.bigint();
const cpuAtStart = process.cpuUsage();
const mainCpuAtStart = mainThreadCpuSeconds();
let records = 0;
let out = 0;
if (mode === "baseline") {
  // The baseline the goal is stated against: a bare line-by-line JSON.parse loop.
  const lines = createInterface({ input: createReadStream(input), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.length === 0) continue;
    JSON.parse(line);
    records++;
  }
  out = records;
} else {
  const result = await runPipeline({
    name: mode,
    runsDir,
    source: { files: await resolveInputs(input) },
    stages: [normalizeStage(mode === "pipeline-tokens" ? { tokenizer: "qwen2.5" } : {}), exactDedupStage()],
    force: true,
    progress: false,
    logger: { info() {}, warn() {}, debug() {} },
  });
  records = result.stages[0]!.manifest.counts.in;
  out = result.stages.at(-1)!.manifest.counts.out;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
// CPU time of the whole process (all threads, so also the libuv pool's reads and writes), startup excluded:
// the per-core cost, which another process on a shared machine inflates far less than wall time.
const cpu = process.cpuUsage(cpuAtStart);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const mainCpu = mainThreadCpuSeconds();
const mainThreadCpuSecondsUsed = mainCpu === undefined || mainCpuAtStart === undefined ? undefined : Number((mainCpu - mainCpuAtStart).toFixed(2));
process.stdout.write(
  `${JSON.stringify({ mode, records, out, seconds, cpuSeconds, mainThreadCpuSeconds: mainThreadCpuSecondsUsed, peakRssMB: process.resourceUsage().maxRSS / 1024 })}\n`,
);
