// One measured job per process, so peak RSS belongs to that job alone.
// Usage: node --import tsx bench/job.ts <baseline|pipeline|pipeline-tokens> <input> <runsDir>
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { exactDedupStage, normalizeStage, resolveInputs, runPipeline } from "../src/index.js";

const [mode, input, runsDir] = process.argv.slice(2);
if (!mode || !input || !runsDir) throw new Error("usage: job.ts <mode> <input> <runsDir>");

const started = process.hrtime.bigint();
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
process.stdout.write(`${JSON.stringify({ mode, records, out, seconds, peakRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
