// Deterministic MATH-style JSONL input for the data benchmarks (and the executor benchmarks built on them).
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

export interface SyntheticMathOptions {
  /** Directory the files are written to; created when missing. */
  dir: string;
  /** Number of records in all files together. */
  records: number;
  /** Chance that a record (after the first) repeats an earlier one exactly. @default 0.05 */
  duplicateFraction?: number;
  /** Seed of the generator that picks which records repeat. @default 42 */
  seed?: number;
  /** Number of files; records are split into consecutive ranges of near-equal size. @default 1 */
  files?: number;
}

const WORDS =
  "let the number of ways be computed by counting each case separately then we add the results and simplify using the identity so that".split(" ");
const TYPES = ["Algebra", "Geometry", "Number Theory", "Counting & Probability", "Precalculus", "Intermediate Algebra", "Prealgebra"];

/** The same 32-bit LCG for every seed, so a given seed always gives the same bytes. */
function lcg(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state / 2 ** 32;
  };
}

const sentence = (rand: () => number, length: number) => Array.from({ length }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(" ");

/** The JSON line of the record with text id `id` (~1.7 KB: a 40-word problem, a 260-word solution with a boxed answer). */
export function syntheticMathLine(id: number): string {
  const rand = lcg(id + 1);
  const problem = `Problem ${id}: ${sentence(rand, 40)} $x^2 + ${id % 97}x = ${id % 31}$?`;
  const solution = `${sentence(rand, 260)}\n\nTherefore the answer is $\\boxed{${id % 1000}}$.`;
  return JSON.stringify({ problem, solution, level: `Level ${1 + (id % 5)}`, type: TYPES[id % TYPES.length], idx: id });
}

/**
 * Writes `records` MATH-style records as JSON Lines and returns the file paths, in order. One generator (seeded by
 * `seed`) picks which records repeat an earlier one; each record's text comes from a generator seeded by its own
 * text id, so a repeat is an exact duplicate, also across files. Files already present are reused (their names
 * carry every option), and each is written to a temp name first, so a killed run never leaves a partial file.
 * With the defaults and one file the bytes are those of the `synthetic-v2` input that the README's numbers use.
 */
export async function writeSyntheticMath(opts: SyntheticMathOptions): Promise<string[]> {
  const { dir, records } = opts;
  const duplicateFraction = opts.duplicateFraction ?? 0.05;
  const seed = opts.seed ?? 42;
  const files = opts.files ?? 1;
  if (!Number.isInteger(records) || records < 1) throw new Error(`[infialign/data] bench synthetic: records must be a positive integer, got ${records}`);
  if (!Number.isInteger(files) || files < 1 || files > records) throw new Error(`[infialign/data] bench synthetic: files must be an integer in 1..records (${records}), got ${files}`);
  if (!(duplicateFraction >= 0 && duplicateFraction < 1)) throw new Error(`[infialign/data] bench synthetic: duplicateFraction must be in [0, 1), got ${duplicateFraction}`);
  mkdirSync(dir, { recursive: true });
  const stem = duplicateFraction === 0.05 && seed === 42 ? `synthetic-v2-${records}` : `synthetic-v2-${records}-d${duplicateFraction}-s${seed}`;
  const paths = Array.from({ length: files }, (_, i) => join(dir, files === 1 ? `${stem}.jsonl` : `${stem}-${String(i).padStart(5, "0")}-of-${String(files).padStart(5, "0")}.jsonl`));
  if (paths.every((p) => existsSync(p))) return paths;

  const pick = lcg(seed);
  let next = 0;
  for (let f = 0; f < files; f++) {
    const end = Math.round(((f + 1) * records) / files);
    const tmp = `${paths[f]}.tmp`;
    const stream = createWriteStream(tmp);
    let chunk: string[] = [];
    for (; next < end; next++) {
      const id = pick() < duplicateFraction && next > 0 ? Math.floor(pick() * next) : next;
      chunk.push(syntheticMathLine(id));
      if (chunk.length === 2000) {
        if (!stream.write(`${chunk.join("\n")}\n`)) await once(stream, "drain");
        chunk = [];
      }
    }
    if (chunk.length) stream.write(`${chunk.join("\n")}\n`);
    stream.end();
    await once(stream, "finish");
    renameSync(tmp, paths[f]!);
  }
  return paths;
}

// CLI: tsx bench/synthetic.ts <dir> <records> [files] [duplicateFraction] [seed] → prints the paths, one a line.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [dir, records, files, duplicateFraction, seed] = process.argv.slice(2);
  if (!dir || !records) throw new Error("usage: tsx bench/synthetic.ts <dir> <records> [files] [duplicateFraction] [seed]");
  const paths = await writeSyntheticMath({
    dir,
    records: Number(records),
    files: files ? Number(files) : undefined,
    duplicateFraction: duplicateFraction ? Number(duplicateFraction) : undefined,
    seed: seed ? Number(seed) : undefined,
  });
  process.stdout.write(`${paths.join("\n")}\n`);
}
