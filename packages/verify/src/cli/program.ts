import type { Readable, Writable } from "node:stream";
import { mapJsonLines } from "@infialign/data";
import { verifyChoice } from "../choice/extractChoice.js";
import { verifyMath } from "../math/verifyMath.js";

export const HELP = `infialign-verify — check answers, one JSON object per line

Usage:
  infialign-verify math   < pairs.jsonl   lines {"gold": "...", "prediction": "..."}
  infialign-verify choice < pairs.jsonl   lines {"gold": "C", "prediction": "...", "options"?: 4|10|["..."]}
  infialign-verify --help

Writes one JSON line per input line, in order: {"correct", "reason", "extracted"?}.
Blank lines are skipped. A malformed line gives {"correct": false, "reason": "parse_error", "error": "..."} and the run goes on.
`;

export interface ProgramIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

type Mode = "math" | "choice";

function judgeLine(mode: Mode, line: string): Record<string, unknown> {
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch (e) {
    return { correct: false, reason: "parse_error", error: `[infialign/verify] cli: invalid JSON (${(e as Error).message})` };
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { correct: false, reason: "parse_error", error: "[infialign/verify] cli: each line must be a JSON object" };
  }
  const rec = input as Record<string, unknown>;
  const missing = ["gold", "prediction"].filter((f) => typeof rec[f] !== "string");
  if (missing.length) {
    return {
      correct: false,
      reason: "parse_error",
      error: `[infialign/verify] cli: field(s) ${missing.join(", ")} missing or not a string (fields seen: ${Object.keys(rec).join(", ") || "none"})`,
    };
  }
  const gold = rec.gold as string;
  const prediction = rec.prediction as string;
  if (mode === "math") return { ...verifyMath(gold, prediction) };
  const options = rec.options ?? 4;
  const valid = (typeof options === "number" && Number.isInteger(options) && options >= 1 && options <= 26) || (Array.isArray(options) && options.every((o) => typeof o === "string"));
  if (!valid) return { correct: false, reason: "parse_error", error: '[infialign/verify] cli: "options" must be an integer 1–26 or an array of strings' };
  return { ...verifyChoice(gold, prediction, { options: options as number | string[] }) };
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2), io: ProgramIO = process): Promise<number> {
  const mode = argv[0];
  if (mode === undefined || mode === "--help" || mode === "-h" || argv.includes("--help")) {
    (mode === undefined ? io.stderr : io.stdout).write(HELP);
    return mode === undefined ? 2 : 0;
  }
  if (mode !== "math" && mode !== "choice") {
    io.stderr.write(`[infialign/verify] cli: unknown command "${mode}"; use "math" or "choice" (see --help)\n`);
    return 2;
  }
  await mapJsonLines(io.stdin, io.stdout, (line) => judgeLine(mode, line));
  return 0;
}
