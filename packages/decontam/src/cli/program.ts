import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { type InputFile, type Logger, mapJsonLinesBatched, readRecords, resolveInputs, runPipeline, type StageManifest } from "@infialign/data";
import type { Decontaminator } from "../decontaminator.js";
import { benchmarkDecontamStage, DECONTAM_FIELDS, DEFAULT_LEARN_RECORDS, type DecontamField } from "../stage/decontamStage.js";
import { BENCHMARK_ARG_OPTIONS, BENCHMARK_HELP, intOption, loadBenchmarkSetup } from "./benchmarkOptions.js";
import type { EmbedderFactory } from "./embedderOption.js";

/** Lines answered per `checkBatch` call by `check`. */
const CHECK_BATCH = 256;

export const HELP = `infialign-decontam — flag texts and training records that overlap benchmark problems

Usage:
  infialign-decontam check [options] < texts.jsonl     lines {"text": "..."}
  infialign-decontam run --input <shards> --output <dir> [options]
  infialign-decontam --help

check: writes one JSON line per input line, in order:
  {"contaminated": true|false, "matches": [{"benchmark", "id", "method", "ngram", "overlap"}]}.
  Blank lines are skipped. A malformed line gives {"contaminated": false, "matches": [], "error": "..."} and the run goes on.
  Lines are answered in batches of ${CHECK_BATCH} (one embedding call per batch with --embedder).
  --background <file>       texts of the corpus being cleaned (JSONL/JSON/CSV/Parquet; field from --background-field, else
                            problem / question / Question / prompt / text): phrases recurring there are stock (repeatable)
  --background-field <name> text field of --background records

run: reads canonical Sample shards (the output of infialign-data normalize/dedup: a stage directory
  with a manifest.json stands for its shards; files and globs also work), writes <output>/decontam/
  with the clean shards, rejects.jsonl (code "contaminated", evidence in the message and in
  record.meta.decontam.matches) and manifest.json. Reruns with the same inputs, benchmarks and
  options do no work. Prints one summary line.
  --input <path>            canonical shards: stage directory, file or glob (repeatable)
  --output <dir>            run directory; the stage writes to <dir>/decontam/
  --fields <list>           Sample fields checked, comma-separated: ${DECONTAM_FIELDS.join(", ")} (default prompt)
  --batch-size <int>        records per batched check (default 64)
  --shard-records <int>     records per output shard (default 100000)
  --force                   rerun even when the manifest matches
  --learn-records <int>     input records read ahead to learn the corpus's stock phrases from (default ${DEFAULT_LEARN_RECORDS}; 0 = off)

${BENCHMARK_HELP}  --help                    this text
`;

export interface ProgramIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** Replaceable parts of the CLI (tests inject a local embedder). */
export interface ProgramDeps {
  /** Builds the `--embedder`. @default `createEmbedder` of `@infialign/sampling` */
  createEmbedder?: EmbedderFactory;
}


/** A failure while the pipeline runs (exit 1), as opposed to bad options or benchmark files (exit 2). */
class RunFailure extends Error {}

/** The text of a `check` input line, or the error answer for a malformed one. */
function parseLine(line: string): { text: string } | { error: Record<string, unknown> } {
  const fail = (error: string) => ({ error: { contaminated: false, matches: [], error } });
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch (e) {
    return fail(`[infialign/decontam] cli: invalid JSON (${(e as Error).message})`);
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) return fail("[infialign/decontam] cli: each line must be a JSON object");
  const text = (input as Record<string, unknown>).text;
  if (typeof text !== "string") return fail(`[infialign/decontam] cli: field "text" missing or not a string (fields seen: ${Object.keys(input).join(", ") || "none"})`);
  return { text };
}

/** Answers one batch of JSON lines in input order with one batched check (one embedding call with --embedder). */
async function checkLines(lines: readonly string[], checker: Decontaminator): Promise<unknown[]> {
  const parsed = lines.map(parseLine);
  const results = await checker.checkBatch(parsed.flatMap((b) => ("text" in b ? [b.text] : [])));
  let next = 0;
  return parsed.map((b) => {
    if (!("text" in b)) return b.error;
    const { contaminated, matches } = results[next++]!;
    return { contaminated, matches };
  });
}

/** Same resolution as `infialign-data`: a stage directory (with manifest.json) stands for the shards its manifest lists. */
async function resolveShardInputs(inputs: readonly string[]): Promise<InputFile[]> {
  const expanded: string[] = [];
  for (const input of inputs) {
    const manifestPath = join(input, "manifest.json");
    if (existsSync(manifestPath)) {
      const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as StageManifest;
      expanded.push(...manifest.shards.map((shard) => join(input, shard.file)));
    } else if (existsSync(join(input, "checkpoint.json"))) {
      throw new Error(`[infialign/decontam] cli: ${input} is a stage that has not finished (checkpoint.json, no manifest.json). Rerun its pipeline to complete it.`);
    } else expanded.push(input);
  }
  if (expanded.length === 0) throw new Error("[infialign/decontam] cli: --input names a stage with no shards (its manifest lists none); nothing to check");
  return resolveInputs(expanded);
}

function parseFields(value: string | undefined): DecontamField[] {
  if (value === undefined) return ["prompt"];
  const fields = value.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = fields.filter((f) => !(DECONTAM_FIELDS as readonly string[]).includes(f));
  if (bad.length || fields.length === 0) throw new Error(`[infialign/decontam] cli: --fields must list ${DECONTAM_FIELDS.join(", ")}, got "${value}"`);
  return fields as DecontamField[];
}

/** Fields a background record's text is taken from, first present wins (as for benchmark files). */
const BACKGROUND_TEXT_FIELDS = ["problem", "question", "Question", "prompt", "text"];

/**
 * A training corpus to learn stock phrases from: unlike a benchmark, repeated ids and records without text are
 * normal there, so those are skipped; an unreadable record still stops the run, naming file and line.
 */
async function readBackground(path: string, field: string | undefined): Promise<string[]> {
  const texts: string[] = [];
  for (const file of await resolveInputs(path)) {
    for await (const r of readRecords(file)) {
      if (!r.ok) throw new Error(`[infialign/decontam] cli: --background "${file.path}" line ${r.loc.line ?? r.loc.row}: ${r.message}`);
      const rec = (typeof r.value === "object" && r.value !== null ? r.value : {}) as Record<string, unknown>;
      const text = (field === undefined ? BACKGROUND_TEXT_FIELDS : [field]).map((f) => rec[f]).find((v): v is string => typeof v === "string" && v.trim() !== "");
      if (text !== undefined) texts.push(text);
    }
  }
  return texts;
}

async function runCheck(args: string[], io: ProgramIO, deps: ProgramDeps): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...BENCHMARK_ARG_OPTIONS, background: { type: "string", multiple: true }, "background-field": { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  const setup = await loadBenchmarkSetup(values, deps.createEmbedder);
  const background: string[] = [];
  for (const path of values.background ?? []) background.push(...(await readBackground(path, values["background-field"])));
  const checker = await setup.build(background);
  await mapJsonLinesBatched(io.stdin, io.stdout, (lines) => checkLines(lines, checker), CHECK_BATCH);
  return 0;
}

async function runRun(args: string[], io: ProgramIO, deps: ProgramDeps): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...BENCHMARK_ARG_OPTIONS,
      input: { type: "string", multiple: true },
      output: { type: "string" },
      fields: { type: "string" },
      "batch-size": { type: "string" },
      "shard-records": { type: "string" },
      force: { type: "boolean" },
      "learn-records": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.input?.length) throw new Error("[infialign/decontam] cli: run needs --input <canonical shards: stage directory, file or glob>");
  if (!values.output) throw new Error("[infialign/decontam] cli: run needs --output <dir>");
  const fields = parseFields(values.fields);
  const batchSize = intOption("batch-size", values["batch-size"]);
  const shardRecords = intOption("shard-records", values["shard-records"]);
  const learn = values["learn-records"];
  if (learn !== undefined && !/^\d+$/.test(learn)) throw new Error(`[infialign/decontam] cli: --learn-records must be a non-negative integer, got "${learn}"`);
  const setup = await loadBenchmarkSetup(values, deps.createEmbedder);
  const files = await resolveShardInputs(values.input);
  const output = resolve(values.output);
  const stderr = (m: string) => io.stderr.write(`${m}\n`);
  const logger: Logger = { info: stderr, warn: (m) => stderr(`warning: ${m}`), debug: () => {} };
  const result = await runPipeline({
    name: basename(output),
    runsDir: dirname(output),
    source: { files, decode: "samples" },
    stages: [
      benchmarkDecontamStage(setup.items, {
        config: setup.config,
        embedder: setup.embedder,
        fields,
        batchSize,
        learnRecords: learn === undefined ? undefined : Number(learn),
      }),
    ],
    force: !!values.force,
    shard: shardRecords === undefined ? undefined : { maxRecords: shardRecords },
    logger,
    progress: false,
  }).catch((e: unknown) => {
    throw new RunFailure((e as Error).message ?? String(e), { cause: e });
  });
  const s = result.stages[0]!;
  const c = s.manifest.counts;
  const contaminated = c.rejectedByReason.contaminated ?? 0;
  const other = c.rejected - contaminated;
  io.stdout.write(
    `decontam: in ${c.in}  out ${c.out}  rejected ${c.rejected} (contaminated ${contaminated}${other ? `, other ${other}` : ""})  → ${s.dir}${s.skipped ? "  [up to date]" : ""}\n`,
  );
  return 0;
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 failure while running, 2 bad usage or benchmark files). */
export async function main(argv: readonly string[] = process.argv.slice(2), io: ProgramIO = process, deps: ProgramDeps = {}): Promise<number> {
  const command = argv[0];
  if (command === undefined || command === "--help" || command === "-h" || argv.includes("--help")) {
    (command === undefined ? io.stderr : io.stdout).write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command !== "check" && command !== "run") {
    io.stderr.write(`[infialign/decontam] cli: unknown command "${command}"; use "check" or "run" (see --help)\n`);
    return 2;
  }
  const report = (e: unknown) => {
    const msg = (e as Error).message ?? String(e);
    io.stderr.write(`${msg.startsWith("[infialign/") ? msg : `[infialign/decontam] cli: ${msg} (see --help)`}\n`);
  };
  try {
    return await (command === "check" ? runCheck(argv.slice(1), io, deps) : runRun(argv.slice(1), io, deps));
  } catch (e) {
    report(e);
    return e instanceof RunFailure ? 1 : 2;
  }
}
