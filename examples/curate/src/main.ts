import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  DataError,
  type DatasetStats,
  exactDedupStage,
  normalizeStage,
  resolveInputs,
  runPipeline,
  statsStage,
} from "@infialign/data";
import { renderReport } from "./report.js";

const HELP = `Usage: pnpm demo [-- options]

Runs the InfiAlign data pipeline (normalize → exact dedup → stats) on the embedded
real pools (GSM8K train, MATH test, MATH500 slices) and writes runs/<name>/report.html.

Options:
  --pools            use the full pools in ../shared/data/pools instead of the embedded slices
  --inputs <glob>    use your own files (JSONL/JSON/CSV/Parquet, HF layouts); repeatable
  --name <name>      run name (default: curate)
  --runs <dir>       runs directory (default: <repo>/runs)
  --no-tokens        skip Qwen2.5 token counts
  --force            rerun every stage
  --smoke            CI check: run, rerun, and fail unless the rerun did no work
  -h, --help         this help
`;

const repoRoot = resolve(import.meta.dirname, "../../..");

async function main(): Promise<number> {
  const { values } = parseArgs({
    // `pnpm demo -- --smoke` forwards the "--" itself; drop it.
    args: process.argv.slice(2).filter((arg) => arg !== "--"),
    options: {
      pools: { type: "boolean", default: false },
      inputs: { type: "string", multiple: true },
      name: { type: "string", default: "curate" },
      runs: { type: "string", default: join(repoRoot, "runs") },
      "no-tokens": { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      smoke: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }

  let patterns = values.inputs ?? [join(import.meta.dirname, "../data/*.jsonl*")];
  if (values.pools) {
    const pools = resolve(repoRoot, "../shared/data/pools");
    if (!existsSync(pools)) throw new DataError("example-curate", `--pools needs ${pools} (the project's shared data); it is absent on this machine`);
    patterns = [join(pools, "*.jsonl")];
  }
  const files = await resolveInputs(patterns);
  const run = async () =>
    runPipeline({
      name: values.name,
      runsDir: values.runs,
      source: { files },
      stages: [
        normalizeStage(values["no-tokens"] ? {} : { tokenizer: "qwen2.5" }),
        exactDedupStage({ key: "content" }),
        statsStage(),
      ],
      force: values.force,
      seed: 0,
    });

  const result = await run();
  const stats = result.stages.at(-1)!.manifest.stats as unknown as DatasetStats;
  const reportPath = join(result.runDir, "report.html");
  await writeFile(reportPath, renderReport(result, stats));

  for (const s of result.stages) {
    const c = s.manifest.counts;
    const reasons = Object.entries(c.rejectedByReason).map(([k, v]) => `${k} ${v}`).join(", ");
    process.stdout.write(`${s.name.padEnd(10)} in ${String(c.in).padStart(6)}  out ${String(c.out).padStart(6)}  rejected ${c.rejected}${reasons ? ` (${reasons})` : ""}  deduplicated ${c.deduplicated}${s.skipped ? "  [up to date]" : ""}\n`);
  }
  process.stdout.write(`curated shards, rejects and manifests: ${result.runDir}\nreport: ${reportPath}\n`);

  if (values.smoke) {
    const again = await run();
    const redone = again.stages.filter((s) => !s.skipped).map((s) => s.name);
    if (redone.length > 0) {
      process.stderr.write(`smoke: rerun with unchanged inputs redid ${redone.join(", ")}; expected every stage to be skipped\n`);
      return 1;
    }
    process.stdout.write("smoke: rerun skipped every stage (manifests matched)\n");
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof DataError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
