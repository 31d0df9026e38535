import { type Stats, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, join, relative, sep } from "node:path";
import fg from "fast-glob";
import { DataError } from "../errors.js";
import { type Compression, compressionFromPath } from "./decompress.js";
import type { InputFile, InputFormat } from "./types.js";

export interface ResolveInputsOptions {
  /** Keep only files of this split (Hugging Face layout: `data/<split>-*.parquet`, `<split>/*`, `<split>.jsonl`). @default all files */
  split?: string;
  /** Read every file as this format instead of detecting it from the extension. */
  format?: InputFormat;
}

const FORMAT_BY_EXTENSION: Record<string, InputFormat> = {
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
  ".json": "json",
  ".csv": "csv",
  ".parquet": "parquet",
};

/**
 * Expands input patterns into files: plain paths, globs (sorted by path) and
 * directories in Hugging Face dataset layout. Files keep the order of the patterns;
 * a file named twice is read once. Size and mtime are returned for fingerprints.
 */
export async function resolveInputs(patterns: string | string[], opts: ResolveInputsOptions = {}): Promise<InputFile[]> {
  const list = Array.isArray(patterns) ? patterns : [patterns];
  if (list.length === 0) throw new DataError("inputs", "no input given. Pass at least one file, directory or glob.");
  const seen = new Set<string>();
  const out: InputFile[] = [];
  for (const pattern of list) {
    for (const path of await expand(pattern, opts)) {
      if (seen.has(path)) continue;
      seen.add(path);
      out.push(await describe(path, opts.format));
    }
  }
  return out;
}

async function expand(pattern: string, opts: ResolveInputsOptions): Promise<string[]> {
  const stats = await stat(pattern).catch(() => undefined);
  if (stats?.isDirectory()) return datasetDir(pattern, opts.split);
  if (stats) return [pattern];
  if (!fg.isDynamicPattern(pattern)) throw new DataError("inputs", `file "${pattern}" does not exist. Check the path.`);

  const matches = (await fg(pattern, { onlyFiles: true, dot: false, followSymbolicLinks: true })).sort(byPath);
  const known = opts.format ? matches : matches.filter((path) => detectFormat(path) !== undefined);
  const files = opts.split === undefined ? known : known.filter((path) => splitOf(path) === opts.split);
  if (files.length === 0) {
    const detail = matches.length > known.length ? ` (${matches.length} file(s) matched, none with a readable extension: .jsonl, .ndjson, .json, .csv, .parquet, optionally .gz/.zst)` : "";
    const split = opts.split === undefined || known.length === 0 ? "" : ` with split "${opts.split}"`;
    throw new DataError("inputs", `no input matched "${pattern}"${split}${detail}; check the path or quote the glob so the shell does not expand it.`);
  }
  return files;
}

/**
 * Files of a dataset directory in Hugging Face layout. `data/` wins when it holds
 * data files (that is where the Hub keeps them); otherwise `<split>/` subdirectories
 * and top-level files are used.
 */
async function datasetDir(dir: string, split: string | undefined): Promise<string[]> {
  let files = await dataFilesIn(join(dir, "data"), true);
  if (files.length === 0) {
    files = await dataFilesIn(dir, false);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== "data" && !entry.name.startsWith(".")) files.push(...(await dataFilesIn(join(dir, entry.name), false)));
    }
  }
  files.sort(byPath);
  if (files.length === 0) {
    throw new DataError("inputs", `directory "${dir}" holds no data files (.jsonl, .ndjson, .json, .csv, .parquet, optionally .gz/.zst). Point at the files, or use a glob.`);
  }
  if (split === undefined) return files;
  const kept = files.filter((path) => splitOf(path, dir) === split);
  if (kept.length === 0) {
    const splits = [...new Set(files.map((path) => splitOf(path, dir)))].sort();
    throw new DataError("inputs", `directory "${dir}" has no split "${split}" (splits found: ${splits.join(", ")}). Pass one of those splits.`);
  }
  return kept;
}

/** Data files directly in `dir`, and with `nested` also one level below (`data/<split>/*`). */
async function dataFilesIn(dir: string, nested: boolean): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory() && nested) out.push(...(await dataFilesIn(path, false)));
    else if (isFile(entry, path) && detectFormat(entry.name) !== undefined) out.push(path);
  }
  return out;
}

function isFile(entry: { isFile(): boolean; isSymbolicLink(): boolean }, path: string): boolean {
  if (entry.isFile()) return true;
  if (!entry.isSymbolicLink()) return false;
  let target: Stats | undefined;
  try {
    target = statSync(path);
  } catch {
    return false;
  }
  return target.isFile();
}

/**
 * The split a file belongs to: its folder under `data/` or the dataset root when it
 * is nested (`train/0000.parquet`), else its name up to the first `-` or `.`
 * (`train-00000-of-00002.parquet`, `test.jsonl`).
 */
export function splitOf(path: string, root?: string): string {
  if (root !== undefined) {
    const parts = relative(root, path).split(sep);
    if (parts[0] === "data") parts.shift();
    if (parts.length > 1) return parts[0]!;
  }
  const name = basename(path);
  const cut = name.search(/[-.]/);
  return cut === -1 ? name : name.slice(0, cut);
}

/** Format and compression from a file name, or undefined when the extension is unknown. */
export function detectFormat(path: string): { format: InputFormat; compression: Compression } | undefined {
  const compression = compressionFromPath(path);
  let name = path.toLowerCase();
  if (compression === "gzip") name = name.slice(0, -3);
  else if (compression === "zstd") name = name.slice(0, -4);
  const dot = name.lastIndexOf(".");
  const format = dot === -1 ? undefined : FORMAT_BY_EXTENSION[name.slice(dot)];
  if (format === undefined) return undefined;
  // Parquet compresses its pages itself; a compressed container would need a full read into memory.
  if (format === "parquet" && compression !== "none") return undefined;
  return { format, compression };
}

async function describe(path: string, format: InputFormat | undefined): Promise<InputFile> {
  const detected = detectFormat(path);
  const compression = detected?.compression ?? compressionFromPath(path);
  const resolved = format ?? detected?.format;
  if (resolved === undefined) {
    const hint = /\.parquet\.(gz|zst)$/i.test(path) ? " Parquet files are compressed internally; decompress the outer .gz/.zst." : " Pass the format explicitly (jsonl, json, csv or parquet).";
    throw new DataError("inputs", `cannot tell the format of "${path}" from its extension.${hint}`);
  }
  if (resolved === "parquet" && compression !== "none") {
    throw new DataError("inputs", `"${path}" is a compressed Parquet file. Parquet compresses its pages itself; decompress the outer ${compression === "gzip" ? ".gz" : ".zst"} first.`);
  }
  const stats = await stat(path);
  return { path, format: resolved, compression, size: stats.size, mtimeMs: stats.mtimeMs };
}

function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
