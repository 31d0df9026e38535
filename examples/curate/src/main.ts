import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DataError, type DatasetStats, type PipelineResult, resolveInputs, runBullmqWorker } from "@infialign/data";
import { renderSelectionReportHtml, type SelectionReport } from "@infialign/sampling";
import { buildStages, type CurateOptions, runCurate } from "./pipeline.js";
import { type ReportExtras, renderReport } from "./report.js";

const HELP = `Usage: pnpm demo:curate [-- options]

Runs the InfiAlign data-selection pipeline on the embedded real pools (GSM8K train,
MATH test and MATH500 slices):

  normalize → exact dedup → decontaminate → quality control → near-dup removal
  → diversity + difficulty selection under a budget → stats

and writes curated shards, rejects with reasons, manifests and runs/<name>/report.html.

Options:
  --pools              use the full pools in ../shared/data/pools instead of the embedded slices
  --inputs <glob>      use your own files (JSONL/JSON/CSV/Parquet, HF layouts); repeatable
  --budget <n|f>       records to keep: a count (1000) or a fraction of the pool (0.12) (default: 0.25)
  --quotas <q>         "balanced" or domain proportions, e.g. "math/algebra=0.3,math/geometry=0.2,..." (default: balanced)
  --embedder <spec>    hashing | hashing:<dim> | onnx:<model dir> | openai:<base url>#<model> (default: hashing)
  --name <name>        run name (default: curate)
  --runs <dir>         runs directory (default: <repo>/runs)
  --seed <n>           seed for every random choice (default: 0)
  --no-tokens          skip Qwen2.5 token counts (difficulty then uses response characters)
  --executor <e>       local (default: one process, stages fused), processes (worker processes on
                       this machine) or bullmq (tasks on Redis, run by workers on any machine)
  --workers <n>        worker processes for --executor processes (default: the number of cores);
                       with --worker, tasks this worker runs at once (default 1; start one worker per core)
  --redis <url>        Redis for --executor bullmq, e.g. redis://127.0.0.1:6379
  --worker             run as a BullMQ worker for this pipeline (with --redis) instead of a run
  --force              rerun every stage
  --smoke              CI check: run; rerun and fail unless it did no work; then kill a
                       fresh run mid-way with SIGKILL, resume it and fail unless its
                       output is byte-identical to the first run's
  -h, --help           this help
`;

const repoRoot = resolve(import.meta.dirname, "../../..");

function parseBudget(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (value >= 1 && !Number.isInteger(value))) throw new DataError("example-curate", `--budget "${text}": expected a record count (1000) or a fraction in (0, 1) (0.12)`);
  return value;
}

function parseQuotas(text: string): "balanced" | Record<string, number> {
  if (text === "balanced") return text;
  const out: Record<string, number> = {};
  for (const part of text.split(",")) {
    const [domain, share] = part.split("=");
    const value = Number(share);
    if (!domain || !Number.isFinite(value) || value < 0) throw new DataError("example-curate", `--quotas "${text}": expected "balanced" or domain=share pairs such as "math/algebra=0.5,math/geometry=0.5"`);
    out[domain.trim()] = value;
  }
  return out;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    // `pnpm demo:curate -- --smoke` forwards the "--" itself; drop it.
    args: process.argv.slice(2).filter((arg) => arg !== "--"),
    options: {
      pools: { type: "boolean", default: false },
      inputs: { type: "string", multiple: true },
      budget: { type: "string", default: "0.25" },
      quotas: { type: "string", default: "balanced" },
      embedder: { type: "string", default: "hashing" },
      name: { type: "string", default: "curate" },
      runs: { type: "string", default: join(repoRoot, "runs") },
      seed: { type: "string", default: "0" },
      "no-tokens": { type: "boolean", default: false },
      "shard-records": { type: "string" },
      force: { type: "boolean", default: false },
      executor: { type: "string", default: "local" },
      workers: { type: "string" },
      redis: { type: "string" },
      worker: { type: "boolean", default: false },
      smoke: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }

  const executor = values.executor;
  if (executor !== "local" && executor !== "processes" && executor !== "bullmq") throw new DataError("example-curate", `--executor "${executor}": expected local, processes or bullmq`);
  if ((executor === "bullmq" || values.worker) && !values.redis) throw new DataError("example-curate", "--executor bullmq and --worker need --redis <url> (e.g. redis://127.0.0.1:6379)");
  if (values.worker) {
    // Tasks carry the recipe (this example's pipeline module), so one worker serves every run on the queue.
    const stop = new AbortController();
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stop.abort());
    await runBullmqWorker({ redis: values.redis!, signal: stop.signal, ...(values.workers ? { concurrency: Number(values.workers) } : {}) });
    return 0;
  }

  let patterns = values.inputs ?? [join(import.meta.dirname, "../data/*.jsonl*")];
  if (values.pools) {
    const pools = resolve(repoRoot, "../shared/data/pools");
    if (!existsSync(pools)) throw new DataError("example-curate", `--pools needs ${pools} (the project's shared data); it is absent on this machine`);
    patterns = [join(pools, "*.jsonl")];
  }
  const options: CurateOptions = {
    name: values.name,
    runsDir: values.runs,
    files: await resolveInputs(patterns),
    budget: parseBudget(values.budget),
    quotas: parseQuotas(values.quotas),
    embedder: values.embedder,
    seed: Number(values.seed),
    tokens: !values["no-tokens"],
    force: values.force,
    // Small shards give the smoke test's kill many checkpoints to land between.
    shardRecords: values["shard-records"] ? Number(values["shard-records"]) : values.smoke ? 500 : undefined,
    executor,
    ...(values.workers ? { workers: Number(values.workers) } : {}),
    ...(values.redis ? { redis: values.redis } : {}),
  };

  const result = await runCurate(options);
  await writeReport(result);
  printSummary(result);

  if (values.smoke) return smoke(options, result);
  return 0;
}

async function writeReport(result: PipelineResult): Promise<void> {
  const stats = result.stages.at(-1)!.manifest.stats as unknown as DatasetStats;
  const extras: ReportExtras = {};
  const decontam = result.stages.find((s) => s.name === "decontam");
  if (decontam) {
    const s = decontam.manifest.stats as { byBenchmark?: Record<string, number>; byMethod?: Record<string, number> };
    const rejects = join(decontam.dir, "rejects.jsonl");
    const lines = existsSync(rejects) ? (await readFile(rejects, "utf8")).split("\n").filter(Boolean).slice(0, 20) : [];
    const samples = lines.map((line) => JSON.parse(line) as { id?: string; message: string }).map((r) => ({ id: r.id ?? "", message: r.message }));
    extras.decontam = { byBenchmark: s.byBenchmark ?? {}, byMethod: s.byMethod ?? {}, samples };
  }
  const select = result.stages.find((s) => s.name === "select");
  if (select) {
    // Every drop before selection too, by stage and reason, so the page accounts for the whole pool.
    const extraDrops: Record<string, number> = {};
    for (const s of result.stages) {
      if (s.name === "select") break;
      for (const [code, n] of Object.entries(s.manifest.counts.rejectedByReason)) extraDrops[`${s.name}: ${code}`] = n;
      if (s.manifest.counts.deduplicated) extraDrops[`${s.name}: duplicate`] = s.manifest.counts.deduplicated;
    }
    const report = select.manifest.stats as unknown as SelectionReport;
    await writeFile(join(result.runDir, "selection.html"), renderSelectionReportHtml(report, { title: "InfiAlign curate: selection", extraDrops }));
    extras.selectionHref = "selection.html";
  }
  await writeFile(join(result.runDir, "report.html"), renderReport(result, stats, extras));
}

function printSummary(result: PipelineResult): void {
  for (const s of result.stages) {
    const c = s.manifest.counts;
    const reasons = Object.entries(c.rejectedByReason)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    process.stdout.write(`${s.name.padEnd(10)} in ${String(c.in).padStart(6)}  out ${String(c.out).padStart(6)}  rejected ${c.rejected}${reasons ? ` (${reasons})` : ""}  deduplicated ${c.deduplicated}${s.skipped ? "  [up to date]" : s.resumed ? "  [resumed]" : ""}\n`);
  }
  process.stdout.write(`curated shards, rejects and manifests: ${result.runDir}\nreport: ${join(result.runDir, "report.html")}\n`);
}

/** The rerun must do nothing; a run killed mid-way and resumed must reproduce the first run byte for byte. */
async function smoke(options: CurateOptions, first: PipelineResult): Promise<number> {
  const again = await runCurate(options);
  const redone = again.stages.filter((s) => !s.skipped).map((s) => s.name);
  if (redone.length > 0) {
    process.stderr.write(`smoke: rerun with unchanged inputs redid ${redone.join(", ")}; expected every stage to be skipped\n`);
    return 1;
  }
  process.stdout.write("smoke: rerun skipped every stage (manifests matched)\n");

  const crashName = `${options.name}-killed`;
  const crashDir = join(options.runsDir, crashName);
  await rm(crashDir, { recursive: true, force: true });
  const args = process.argv.slice(2).filter((a) => a !== "--" && a !== "--smoke" && a !== "--force");
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args, "--name", crashName, "--shard-records", String(options.shardRecords)], { stdio: "ignore", env: { ...process.env, CI: "true" } });
  // Kill right after the first checkpoint: the first stage has committed a shard, later ones have not finished.
  const firstStage = (await buildStages(options)).stages[0]!.name;
  const checkpoint = join(crashDir, firstStage, "checkpoint.json");
  const deadline = Date.now() + 120_000;
  while (!existsSync(checkpoint) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  const killedMidway = child.exitCode === null && child.kill("SIGKILL");
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once("exit", r)));
  if (!killedMidway) {
    process.stderr.write("smoke: the run finished before it could be killed mid-way; nothing was checked\n");
    return 1;
  }
  const resumed = await runCurate({ ...options, name: crashName, force: false });
  if (!resumed.stages.some((s) => s.resumed)) {
    process.stderr.write("smoke: the killed run was not resumed from its checkpoint\n");
    return 1;
  }
  for (const stage of first.stages) {
    for (const kind of ["part", "rejects", "duplicates"] as const) {
      const [a, b] = await Promise.all([stageOutput(join(first.runDir, stage.name), kind), stageOutput(join(crashDir, stage.name), kind)]);
      if (!a.equals(b)) {
        process.stderr.write(`smoke: ${stage.name}: ${kind === "part" ? "output shards" : `${kind}.jsonl`} differ after kill + resume\n`);
        return 1;
      }
    }
  }
  process.stdout.write(`smoke: killed a run mid-way (SIGKILL after the first ${firstStage} checkpoint), resumed it: output byte-identical to the uninterrupted run\n`);
  await rm(crashDir, { recursive: true, force: true });
  return 0;
}

/** A stage's output shards concatenated in order (shard boundaries may differ between runs), or one of its logs. */
async function stageOutput(dir: string, kind: "part" | "rejects" | "duplicates"): Promise<Buffer> {
  if (kind !== "part") return existsSync(join(dir, `${kind}.jsonl`)) ? readFile(join(dir, `${kind}.jsonl`)) : Buffer.alloc(0);
  const parts = (await readdir(dir)).filter((f) => /^part-\d+\.jsonl$/.test(f)).sort();
  return Buffer.concat(await Promise.all(parts.map((f) => readFile(join(dir, f)))));
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
