import { basename } from "node:path";
import { DataError } from "../errors.js";
import { readRecords } from "../readers/readRecords.js";
import { resolveInputs } from "../readers/resolveInputs.js";
import type { InputFile } from "../readers/types.js";
import type { BenchmarkRecord } from "./types.js";

export function benchmarkError(message: string, cause?: unknown): DataError {
  return new DataError("benchmarks", message, cause === undefined ? undefined : { cause });
}

/** A message without the `[infialign/data] benchmarks: ` prefix, to be nested in another one. */
export function bareMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/^\[infialign\/data\] [\w-]+: /, "");
}

/**
 * Every record of a benchmark file (JSONL, JSON, CSV, Parquet; gzip/zstd too). A bad row throws: a benchmark with a
 * broken item is a broken reference set, not noise to skip.
 */
export async function* readBenchmarkRecords(path: string, opts: { label: string; expected?: string; maxRecordBytes?: number }): AsyncGenerator<BenchmarkRecord> {
  let files: InputFile[];
  try {
    files = await resolveInputs(path);
  } catch (e) {
    throw benchmarkError(`${opts.label} file "${path}" cannot be opened (${bareMessage(e)})`, e);
  }
  let n = 0;
  for (const file of files) {
    for await (const r of readRecords(file, opts.maxRecordBytes === undefined ? {} : { maxRecordBytes: opts.maxRecordBytes })) {
      n++;
      const local = String(r.loc.line ?? r.loc.row ?? n - 1);
      // Over several files a bare line number repeats: the position names its file too.
      const position = files.length > 1 ? `${basename(file.path)}:${local}` : local;
      const where = `${opts.label} file "${file.path}" ${r.loc.line !== undefined ? `line ${r.loc.line}` : `row ${local}`}`;
      if (!r.ok) {
        if (r.code === "empty_file") throw benchmarkError(`${opts.label} file "${file.path}" is empty${opts.expected ? `; expected ${opts.expected}` : ""}`);
        throw benchmarkError(`${where}: ${r.message}`);
      }
      const value = r.value;
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw benchmarkError(`${where} is not an object${opts.expected ? `; expected ${opts.expected}` : ""}`);
      }
      yield { value: value as Record<string, unknown>, where, position };
    }
  }
}

export function fieldsSeen(value: Record<string, unknown>): string {
  return Object.keys(value).join(", ") || "none";
}

const isNumber = (v: unknown): v is number | bigint => (typeof v === "number" && Number.isFinite(v)) || typeof v === "bigint";

/** A required non-empty text; numbers are taken as their decimal string (answers such as `27.0` in Parquet). */
export function requireText(rec: BenchmarkRecord, field: string, hint: string): string {
  const v = rec.value[field];
  if (isNumber(v)) return String(v);
  if (typeof v !== "string") {
    const what = v === undefined ? "field" : `string (got ${v === null ? "null" : typeof v})`;
    throw benchmarkError(`${rec.where} has no "${field}" ${what} (fields seen: ${fieldsSeen(rec.value)}). ${hint}`);
  }
  if (v.trim() === "") throw benchmarkError(`${rec.where} has an empty "${field}". ${hint}`);
  return v;
}

/** A required id: a non-empty string (trimmed) or a number. */
export function requireId(rec: BenchmarkRecord, field: string, hint: string): string {
  const v = rec.value[field];
  if (isNumber(v)) return String(v);
  if (typeof v === "string" && v.trim() !== "") return v.trim();
  throw benchmarkError(`${rec.where} has no usable "${field}" id (got ${v === undefined ? "nothing" : JSON.stringify(v)}; fields seen: ${fieldsSeen(rec.value)}). ${hint}`);
}

/** A text field when present and non-empty (numbers as their decimal string). */
export function optionalText(value: Record<string, unknown>, field: string): string | undefined {
  const v = value[field];
  if (isNumber(v)) return String(v);
  return typeof v === "string" && v.trim() !== "" ? v : undefined;
}

/** Id fields tried, in order, by formats without a fixed one; else the record's line or row. */
export const ID_FIELDS = ["id", "unique_id", "Record ID", "idx"] as const;

/** The record's id from `field` when the definition maps one, else the first of `ID_FIELDS` present, else its position. */
export function recordId(rec: BenchmarkRecord, field: string | undefined, hint: string): string {
  if (field !== undefined) return requireId(rec, field, hint);
  const found = ID_FIELDS.find((f) => isNumber(rec.value[f]) || (typeof rec.value[f] === "string" && (rec.value[f] as string).trim() !== ""));
  return found === undefined ? rec.position : requireId(rec, found, hint);
}

/** Drops undefined values so meta stays JSON-clean. */
export function defined(meta: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined));
}
