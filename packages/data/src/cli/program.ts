import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import { detectAdapter } from "../adapters/registry.js";
import { DataError } from "../errors.js";
import { DEFAULT_MAX_DEPTH } from "../readers/jsonDepth.js";
import { DEFAULT_MAX_RECORD_BYTES } from "../readers/jsonl.js";
import { readRecords } from "../readers/readRecords.js";
import { resolveInputs } from "../readers/resolveInputs.js";
import { createLogger } from "../runtime/logger.js";
import { readManifest } from "../runtime/manifest.js";
import { ensureWritableDir } from "../runtime/outputDir.js";
import { type PipelineResult, runPipeline } from "../runtime/pipeline.js";
import { SampleSchema } from "../schema/sample.js";
import { type DatasetStats, StatsCollector } from "../stages/statsStage.js";
import { VERSION } from "../version.js";
import { ParquetShardWriter } from "../writers/parquetWriter.js";
import { ShardedJsonlWriter } from "../writers/shardedJsonlWriter.js";
import { type CliStageSpec, cliStages } from "./recipe.js";
import { addWorkerCommand } from "./workerCommand.js";

interface RunFlags {
  name: string;
  runs: string;
  strict?: boolean;
  force?: boolean;
  shardRecords: string;
  maxRecordBytes: string;
  maxDepth: string;
  json?: boolean;
  quiet?: boolean;
  executor: "local" | "processes" | "bullmq";
  workers?: string;
  redis?: string;
  queue?: string;
}

function addRunOptions(cmd: Command, defaultName: string): Command {
  return cmd
    .option("--name <name>", "run name; outputs go to <runs>/<name>/<stage>/", defaultName)
    .option("--runs <dir>", "directory holding runs", "runs")
    .option("--strict", "stop at the first rejected record instead of continuing")
    .option("--force", "rerun stages even when their manifest matches the inputs and params")
    .option("--shard-records <n>", "records per output shard", "100000")
    .option("--max-record-bytes <n>", "reject source records larger than this (record_too_large)", String(DEFAULT_MAX_RECORD_BYTES))
    .option("--max-depth <n>", "reject source records nesting arrays/objects deeper than this (too_deep)", String(DEFAULT_MAX_DEPTH))
    .option("--json", "print the stage manifests as JSON on stdout")
    .option("--quiet", "print nothing but errors")
    .addOption(new Option("--executor <executor>", "who runs the stages: this process, worker processes on this machine, or workers on a Redis queue").choices(["local", "processes", "bullmq"]).default("local"))
    .option("--workers <n>", "worker processes (processes; default: the number of cores), or the workers' slots to plan tasks for (bullmq)")
    .option("--redis <url>", "Redis for --executor bullmq (workers: infialign-data worker --redis <url>)")
    .option("--queue <name>", "BullMQ queue for --executor bullmq (default: infialign-data)");
}

/** The CLI's recipe module: a build ships it as cliRecipe.js beside cli.js; the sources have recipe.ts here. */
function cliRecipeModule(): string {
  const built = new URL("./cliRecipe.js", import.meta.url);
  return fileURLToPath(existsSync(built) ? built : new URL("./recipe.ts", import.meta.url));
}

function printResult(result: PipelineResult, flags: RunFlags): void {
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(result.stages.map((s) => s.manifest), null, 2)}\n`);
    return;
  }
  if (flags.quiet) return;
  for (const s of result.stages) {
    const c = s.manifest.counts;
    const reasons = Object.entries(c.rejectedByReason).map(([k, v]) => `${k}: ${v}`).join(", ");
    process.stdout.write(
      `${s.name.padEnd(10)} in ${c.in}  out ${c.out}  rejected ${c.rejected}${reasons ? ` (${reasons})` : ""}  deduplicated ${c.deduplicated}${s.skipped ? "  [up to date]" : s.resumed ? "  [resumed]" : ""}\n`,
    );
  }
  process.stdout.write(`outputs: ${result.runDir}\n`);
}

async function runStages(inputs: string[], specs: CliStageSpec[], flags: RunFlags, decode: "raw" | "samples"): Promise<void> {
  const files = decode === "samples" ? await resolveShardInputs(inputs) : await resolveInputs(inputs);
  if (flags.executor === "bullmq" && !flags.redis) throw new DataError("cli", "--executor bullmq needs --redis <url> (e.g. redis://127.0.0.1:6379), the Redis your workers use");
  const result = await runPipeline({
    name: flags.name,
    runsDir: flags.runs,
    source: { files, decode, readOptions: { maxRecordBytes: positiveInt(flags.maxRecordBytes, "--max-record-bytes"), maxDepth: positiveInt(flags.maxDepth, "--max-depth") } },
    stages: cliStages(specs),
    recipe: { module: cliRecipeModule(), export: "cliStages", args: specs },
    executor: flags.executor,
    ...(flags.workers ? { workers: positiveInt(flags.workers, "--workers") } : {}),
    ...(flags.redis ? { bullmq: { redis: flags.redis, ...(flags.queue ? { queue: flags.queue } : {}) } } : {}),
    strict: !!flags.strict,
    force: !!flags.force,
    shard: { maxRecords: positiveInt(flags.shardRecords, "--shard-records") },
    logger: createLogger({ quiet: !!flags.quiet || !!flags.json }),
    versions: { "@infialign/data": VERSION },
  });
  printResult(result, flags);
}

/**
 * Inputs of commands that read canonical shards: a stage directory (one with a
 * manifest.json) stands for the shards its manifest lists, not its rejects or logs.
 */
async function resolveShardInputs(inputs: string[]) {
  const expanded: string[] = [];
  for (const input of inputs) {
    const manifest = await readManifest(join(input, "manifest.json"));
    if (manifest) expanded.push(...manifest.shards.map((shard) => join(input, shard.file)));
    else if (existsSync(join(input, "checkpoint.json"))) throw new DataError("cli", `${input} is a stage that has not finished (checkpoint.json, no manifest.json). Rerun its pipeline to complete it.`);
    else expanded.push(input);
  }
  return resolveInputs(expanded);
}

/** Options as JSON (the recipe travels to workers); an absent flag is left out rather than sent as undefined. */
function withoutUndefined<T extends Record<string, unknown>>(options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as T;
}

function positiveInt(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new DataError("cli", `${option} must be a positive integer, got "${value}"`);
  return n;
}

export function buildProgram(): Command {
  const program = new Command("infialign-data")
    .description("Canonicalize, deduplicate and inspect reasoning datasets (JSONL, JSON, CSV, Parquet, Hugging Face layouts)")
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();

  program
    .command("inspect")
    .description("detect each input's schema and report record counts and field statistics")
    .argument("<inputs...>", "files, directories (Hugging Face layout) or globs")
    .option("--limit <n>", "records to read per file (0 = all)", "0")
    .option("--json", "print JSON instead of a table")
    .action(async (inputs: string[], flags: { limit: string; json?: boolean }) => {
      const limit = Number(flags.limit) || Number.POSITIVE_INFINITY;
      const report = [];
      for (const file of await resolveInputs(inputs)) {
        const fields = new Map<string, { present: number; types: Record<string, number> }>();
        let records = 0;
        const problems: Record<string, number> = {};
        for await (const raw of readRecords(file)) {
          if (records >= limit) break;
          records++;
          if (!raw.ok) {
            problems[raw.code] = (problems[raw.code] ?? 0) + 1;
            continue;
          }
          if (!raw.value || typeof raw.value !== "object" || Array.isArray(raw.value)) {
            problems.not_an_object = (problems.not_an_object ?? 0) + 1;
            continue;
          }
          for (const [key, value] of Object.entries(raw.value)) {
            const entry = fields.get(key) ?? { present: 0, types: {} };
            const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
            entry.present++;
            entry.types[type] = (entry.types[type] ?? 0) + 1;
            fields.set(key, entry);
          }
        }
        let adapter: string;
        try {
          adapter = detectAdapter(fields.keys(), undefined, file.path).name;
        } catch (error) {
          adapter = `unknown (${error instanceof Error ? error.message : String(error)})`;
        }
        report.push({ file: file.path, format: file.format, compression: file.compression, bytes: file.size, records, problems, adapter, fields: Object.fromEntries(fields) });
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      for (const r of report) {
        process.stdout.write(`${r.file}\n  format ${r.format}${r.compression !== "none" ? `+${r.compression}` : ""}, ${r.bytes} bytes, ${r.records} records, adapter: ${r.adapter}\n`);
        for (const [code, n] of Object.entries(r.problems)) process.stdout.write(`  problem ${code}: ${n}\n`);
        for (const [name, f] of Object.entries(r.fields)) {
          const types = Object.entries(f.types).map(([t, n]) => `${t} ${n}`).join(", ");
          process.stdout.write(`  ${name.padEnd(24)} ${((100 * f.present) / Math.max(1, r.records)).toFixed(1).padStart(5)}%  ${types}\n`);
        }
      }
    });

  addRunOptions(
    program
      .command("normalize")
      .description("map source records to canonical Sample shards (schema detection, normalization, rejects)")
      .argument("<inputs...>", "files, directories (Hugging Face layout) or globs")
      .option("--adapter <name>", "force a source adapter instead of detecting it per file")
      .option("--source <name>", "value of Sample.source (default: each file's base name)")
      .option("--tokenizer <spec>", "add token counts: qwen2.5, qwen3 or a tokenizer.json path")
      .option("--no-require-answer", "keep records without a final answer")
      .option("--keep-think", "leave <think> blocks inside the response instead of moving them to reasoning"),
    "default",
  ).action(async (inputs: string[], flags: RunFlags & { adapter?: string; source?: string; tokenizer?: string; requireAnswer: boolean; keepThink?: boolean }) => {
    const options = { adapter: flags.adapter, source: flags.source, tokenizer: flags.tokenizer, requireAnswer: flags.requireAnswer, stripThink: !flags.keepThink };
    await runStages(inputs, [{ kind: "normalize", options: withoutUndefined(options) }], flags, "raw");
  });

  addRunOptions(
    program
      .command("dedup")
      .description("exact deduplication of canonical shards by normalized content hash")
      .argument("<shards...>", "canonical Sample JSONL shards (e.g. runs/default/normalize)")
      .addOption(new Option("--key <key>", "what makes records equal").choices(["content", "prompt"]).default("content")),
    "default",
  ).action(async (inputs: string[], flags: RunFlags & { key: "content" | "prompt" }) => {
    await runStages(inputs, [{ kind: "dedup", options: { key: flags.key } }], flags, "samples");
  });

  addRunOptions(
    program
      .command("run")
      .description("normalize → exact dedup → stats in one streaming pass")
      .argument("<inputs...>", "files, directories (Hugging Face layout) or globs")
      .option("--adapter <name>", "force a source adapter instead of detecting it per file")
      .option("--tokenizer <spec>", "add token counts: qwen2.5, qwen3 or a tokenizer.json path")
      .addOption(new Option("--key <key>", "dedup key").choices(["content", "prompt"]).default("content")),
    "default",
  ).action(async (inputs: string[], flags: RunFlags & { adapter?: string; tokenizer?: string; key: "content" | "prompt" }) => {
    const specs: CliStageSpec[] = [{ kind: "normalize", options: withoutUndefined({ adapter: flags.adapter, tokenizer: flags.tokenizer }) }, { kind: "dedup", options: { key: flags.key } }, { kind: "stats" }];
    await runStages(inputs, specs, flags, "raw");
  });

  program
    .command("export")
    .description("write canonical shards as a Hugging Face dataset folder: <out>/data/<split>-00000.parquet (or .jsonl)")
    .argument("<shards...>", "canonical Sample JSONL shards or directories")
    .requiredOption("--out <dir>", "output dataset directory")
    .addOption(new Option("--format <format>", "file format").choices(["parquet", "jsonl"]).default("parquet"))
    .option("--split <name>", "split name used in the file names", "train")
    .option("--shard-records <n>", "records per output file", "100000")
    .action(async (inputs: string[], flags: { out: string; format: "parquet" | "jsonl"; split: string; shardRecords: string }) => {
      if (!/^[\w.-]+$/.test(flags.split)) throw new DataError("cli", `--split must be a plain name such as train or test, got "${flags.split}"`);
      const dir = join(flags.out, "data");
      await ensureWritableDir(dir, { component: "export", purpose: "dataset directory", fix: "Pass a writable directory with --out, or fix the permissions of this one" });
      const maxRecords = positiveInt(flags.shardRecords, "--shard-records");
      const writer = flags.format === "parquet" ? new ParquetShardWriter({ dir, prefix: flags.split, maxRecords }) : new ShardedJsonlWriter({ dir, prefix: flags.split, maxRecords });
      let records = 0;
      for (const file of await resolveShardInputs(inputs)) {
        for await (const raw of readRecords(file)) {
          const parsed = raw.ok ? SampleSchema.safeParse(raw.value) : undefined;
          if (!parsed?.success) {
            const where = `${raw.loc.file}${raw.loc.line ? `:${raw.loc.line}` : ""}`;
            const why = raw.ok ? parsed!.error.issues.map((i) => `${i.path.join(".") || "(record)"}: ${i.message}`).join("; ") : raw.message;
            throw new DataError("export", `${where} is not a canonical Sample (${why}). Export reads the shards written by normalize/dedup/run.`);
          }
          await writer.write(parsed.data);
          records++;
        }
      }
      const shards = await writer.close();
      process.stdout.write(`exported ${records} records to ${shards.length} ${flags.format} file(s) in ${dir}\n`);
    });

  program
    .command("stats")
    .description("statistics of canonical shards: counts by source, domain, level; length distributions")
    .argument("<shards...>", "canonical Sample JSONL shards or directories")
    .option("--json", "print JSON")
    .action(async (inputs: string[], flags: { json?: boolean }) => {
      const collector = new StatsCollector();
      let invalid = 0;
      for (const file of await resolveShardInputs(inputs)) {
        for await (const raw of readRecords(file)) {
          const parsed = raw.ok ? SampleSchema.safeParse(raw.value) : undefined;
          if (parsed?.success) collector.add(parsed.data);
          else invalid++;
        }
      }
      const stats = collector.stats();
      if (flags.json) process.stdout.write(`${JSON.stringify({ ...stats, invalid }, null, 2)}\n`);
      else process.stdout.write(formatStats(stats, invalid));
    });

  addWorkerCommand(program);

  return program;
}

function formatStats(s: DatasetStats, invalid: number): string {
  const lines = [`records ${s.records}${invalid ? ` (+${invalid} not canonical Samples, skipped)` : ""}`];
  const table = (title: string, counts: Record<string, number>) => {
    lines.push(`${title}:`);
    for (const [k, v] of Object.entries(counts).sort((a, b) => b[1] - a[1])) lines.push(`  ${k.padEnd(32)} ${String(v).padStart(8)}  ${((100 * v) / Math.max(1, s.records)).toFixed(1)}%`);
  };
  table("source", s.bySource);
  table("domain", s.byDomain);
  table("level", s.byLevel);
  lines.push(`with reasoning ${s.withReasoning}, with answer ${s.withAnswer}, with gold ${s.withGold}`);
  const dist = (title: string, d: DatasetStats["promptChars"] | undefined) => {
    if (d) lines.push(`${title.padEnd(16)} min ${d.min}  p50 ${d.p50}  p90 ${d.p90}  p99 ${d.p99}  max ${d.max}  mean ${d.mean.toFixed(1)}`);
  };
  dist("prompt chars", s.promptChars);
  dist("response chars", s.responseChars);
  dist("prompt tokens", s.promptTokens);
  dist("response tokens", s.responseTokens);
  return `${lines.join("\n")}\n`;
}

export async function main(argv = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof DataError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    const fsError = error as NodeJS.ErrnoException;
    if (typeof fsError?.code === "string" && typeof fsError.syscall === "string") {
      // A file-system failure is the user's to fix (path, permissions, disk): no stack trace.
      const where = fsError.path ? ` "${fsError.path}"` : "";
      process.stderr.write(`[infialign/data] ${fsError.syscall}${where} failed: ${fsError.code} (${fsError.message}). Check that the path exists and is writable.\n`);
      return 1;
    }
    process.stderr.write(`[infialign/data] unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
