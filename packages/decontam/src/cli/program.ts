import { mapJsonLines } from "@infialign/data";
import type { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { type BenchmarkItem, loadBenchmarkFile, loadShippedBenchmarks, SHIPPED_BENCHMARKS, type ShippedBenchmark } from "../benchmarks/loadBenchmark.js";
import { DEFAULT_NGRAM_INDEX_CONFIG } from "../ngram/config.js";
import { NgramIndex } from "../ngram/ngramIndex.js";

export const HELP = `infialign-decontam — flag texts that overlap benchmark problems, one JSON object per line

Usage:
  infialign-decontam check [options] < texts.jsonl     lines {"text": "..."}
  infialign-decontam --help

Writes one JSON line per input line, in order: {"contaminated": true|false, "matches": [{"benchmark", "id", "ngram", "overlap"}]}.
Blank lines are skipped. A malformed line gives {"contaminated": false, "matches": [], "error": "..."} and the run goes on.

Options:
  --n <int>                 words per n-gram (default ${DEFAULT_NGRAM_INDEX_CONFIG.n}, as lm-evaluation-harness; open-r1 uses 8)
  --min-item-words <int>    items shorter than this are not indexed (default ${DEFAULT_NGRAM_INDEX_CONFIG.minItemWords})
  --benchmarks <list>       shipped benchmarks to check against, comma-separated (default all: ${SHIPPED_BENCHMARKS.join(",")})
  --benchmark-file <path>   also check against a JSONL/CSV file of your own (repeatable); name = file name
  --field <name>            text field of --benchmark-file records (default problem / question / Question / prompt / text)
  --help                    this text
`;

export interface ProgramIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

function checkLine(index: NgramIndex, line: string): Record<string, unknown> {
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch (e) {
    return { contaminated: false, matches: [], error: `[infialign/decontam] cli: invalid JSON (${(e as Error).message})` };
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { contaminated: false, matches: [], error: "[infialign/decontam] cli: each line must be a JSON object" };
  }
  const text = (input as Record<string, unknown>).text;
  if (typeof text !== "string") {
    return {
      contaminated: false,
      matches: [],
      error: `[infialign/decontam] cli: field "text" missing or not a string (fields seen: ${Object.keys(input).join(", ") || "none"})`,
    };
  }
  return { ...index.check(text) };
}

function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`[infialign/decontam] cli: --${name} must be a positive integer, got "${value}"`);
  return n;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2), io: ProgramIO = process): Promise<number> {
  const command = argv[0];
  if (command === undefined || command === "--help" || command === "-h" || argv.includes("--help")) {
    (command === undefined ? io.stderr : io.stdout).write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command !== "check") {
    io.stderr.write(`[infialign/decontam] cli: unknown command "${command}"; use "check" (see --help)\n`);
    return 2;
  }
  let index: NgramIndex;
  try {
    const { values } = parseArgs({
      args: argv.slice(1),
      options: {
        n: { type: "string" },
        "min-item-words": { type: "string" },
        benchmarks: { type: "string" },
        "benchmark-file": { type: "string", multiple: true },
        field: { type: "string" },
      },
      strict: true,
    });
    const names = values.benchmarks?.split(",").map((s) => s.trim()).filter(Boolean) ?? [...SHIPPED_BENCHMARKS];
    const unknown = names.filter((s) => !(SHIPPED_BENCHMARKS as readonly string[]).includes(s));
    if (unknown.length) throw new Error(`[infialign/decontam] cli: unknown benchmark(s) ${unknown.join(", ")} in --benchmarks; shipped: ${SHIPPED_BENCHMARKS.join(", ")}`);
    const items: BenchmarkItem[] = await loadShippedBenchmarks(names as ShippedBenchmark[]);
    for (const file of values["benchmark-file"] ?? []) {
      const name = file.replace(/^.*[\\/]/, "").replace(/\.(jsonl|csv|json)(\.gz|\.zst)?$/i, "");
      items.push(...(await loadBenchmarkFile(file, { name, field: values.field })));
    }
    index = await NgramIndex.build(items, { n: intOption("n", values.n), minItemWords: intOption("min-item-words", values["min-item-words"]) });
  } catch (e) {
    const msg = (e as Error).message;
    io.stderr.write(`${msg.startsWith("[infialign/decontam]") ? msg : `[infialign/decontam] cli: ${msg} (see --help)`}\n`);
    return 2;
  }
  await mapJsonLines(io.stdin, io.stdout, (line) => checkLine(index, line));
  return 0;
}
