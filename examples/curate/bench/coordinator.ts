// One timed run of the executor benchmark (a child process, so its peak RSS is its own): prints one JSON line.
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { resolveInputs, runPipeline } from "@infialign/data";

const { values } = parseArgs({
  options: {
    input: { type: "string", multiple: true },
    runs: { type: "string" },
    name: { type: "string" },
    executor: { type: "string", default: "processes" },
    workers: { type: "string", default: "1" },
    redis: { type: "string" },
    queue: { type: "string" },
  },
});
const executor = values.executor as "local" | "processes" | "bullmq";
const started = performance.now();
const result = await runPipeline({
  name: values.name!,
  runsDir: values.runs!,
  source: { files: await resolveInputs(values.input!) },
  recipe: { module: fileURLToPath(new URL("./recipe.ts", import.meta.url)), export: "stages" },
  executor,
  workers: Number(values.workers),
  ...(values.redis ? { bullmq: { redis: values.redis, ...(values.queue ? { queue: values.queue } : {}) } } : {}),
  force: true,
  progress: false,
  logger: { info() {}, warn: (m) => process.stderr.write(`${m}\n`), debug() {} },
});
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  `${JSON.stringify({
    seconds,
    coordinatorPeakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    stages: result.stages.map((s) => ({ name: s.name, seconds: s.manifest.timings.seconds, counts: s.manifest.counts, execution: s.manifest.execution ?? null, shards: s.manifest.shards.map((x) => x.sha256) })),
  })}\n`,
);
