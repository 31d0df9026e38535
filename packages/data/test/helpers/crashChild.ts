// Runs a normalize → dedup → stats pipeline with tiny shards; the test kills this
// process with SIGKILL mid-run and then resumes the same run in-process.
import { exactDedupStage, normalizeStage, resolveInputs, runPipeline, statsStage } from "../../src/index.js";

const [input, runsDir, delayEvery] = process.argv.slice(2);
if (!input || !runsDir) throw new Error("usage: crashChild.ts <input> <runsDir> [delayEvery]");
const every = Number(delayEvery ?? 0);

await runPipeline({
  name: "crash",
  runsDir,
  source: { files: await resolveInputs(input) },
  stages: [normalizeStage({}), exactDedupStage(), slowStatsStage(every), statsStage()],
  shard: { maxRecords: 50 },
  progress: false,
  logger: { info() {}, warn() {}, debug() {} },
});

// A pass-through stage that sleeps now and then, so the kill lands mid-stream.
function slowStatsStage(n: number) {
  return {
    name: "slow",
    params: {},
    async *run(records: AsyncIterable<unknown>) {
      let i = 0;
      for await (const r of records) {
        if (n > 0 && ++i % n === 0) await new Promise((res) => setTimeout(res, 5));
        yield r;
      }
    },
  };
}
