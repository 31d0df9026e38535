import { type FileHandle, open } from "node:fs/promises";
import { type AsyncBuffer, type FileMetaData, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { DataError } from "../errors.js";
import type { RawRecord } from "../runtime/types.js";
import { emptyFile } from "./jsonl.js";
import type { ReadOptions } from "./types.js";

/**
 * Key-value metadata entry written by our Parquet writers: a JSON array naming the
 * columns that hold JSON text (nested values). Its presence also marks a file whose
 * nulls mean "field absent", so reading restores the written objects exactly.
 */
export const PARQUET_JSON_COLUMNS_KEY = "infialign.json_columns";

/**
 * Streams the rows of a Parquet file as plain objects, one row group at a time, so
 * memory depends on the largest row group, not on the file. BigInt values become
 * numbers when safe (else decimal strings), dates ISO strings, binary base64.
 * `loc.row` is the 0-based row index in the file.
 */
export async function* readParquet(path: string, opts: ReadOptions = {}): AsyncGenerator<RawRecord> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new DataError("parquet-reader", `file "${path}" does not exist. Check the path.`, { cause: error });
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const file = fileBuffer(handle, size);
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(file);
    } catch (error) {
      throw unreadable(path, error);
    }
    const { jsonColumns, ours } = ourMetadata(metadata);
    if (Number(metadata.num_rows) === 0) {
      yield emptyFile(path);
      return;
    }

    let rowStart = 0;
    for (const group of metadata.row_groups) {
      opts.signal?.throwIfAborted();
      const rows = Number(group.num_rows);
      const rowEnd = rowStart + rows;
      let objects: Record<string, unknown>[];
      try {
        objects = await parquetReadObjects({ file, metadata, rowStart, rowEnd, compressors });
      } catch (error) {
        throw unreadable(path, error, `row group starting at row ${rowStart}`);
      }
      const compressed = Number(group.total_compressed_size ?? group.columns.reduce((n, c) => n + Number(c.meta_data?.total_compressed_size ?? 0n), 0));
      const bytes = rows > 0 ? Math.max(1, Math.round(compressed / rows)) : 0;
      for (let i = 0; i < objects.length; i++) {
        const row = rowStart + i;
        let value: Record<string, unknown>;
        try {
          value = restoreRow(objects[i]!, jsonColumns, ours);
        } catch (error) {
          yield { ok: false, code: "malformed_json", message: `row ${row}: a JSON column does not hold valid JSON (${(error as Error).message}).`, loc: { file: path, row } };
          continue;
        }
        yield { ok: true, value, loc: { file: path, row }, bytes };
      }
      rowStart = rowEnd;
    }
  } finally {
    await handle.close();
  }
}

function fileBuffer(handle: FileHandle, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      const length = Math.max(0, Math.min(end, size) - start);
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return out.buffer;
    },
  };
}

function ourMetadata(metadata: FileMetaData): { jsonColumns: Set<string>; ours: boolean } {
  const entry = metadata.key_value_metadata?.find((kv) => kv.key === PARQUET_JSON_COLUMNS_KEY);
  if (entry?.value === undefined) return { jsonColumns: new Set(), ours: false };
  try {
    const names = JSON.parse(entry.value) as unknown;
    return { jsonColumns: new Set(Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : []), ours: true };
  } catch {
    return { jsonColumns: new Set(), ours: false };
  }
}

function restoreRow(row: Record<string, unknown>, jsonColumns: Set<string>, ours: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in row) {
    const value = row[key];
    if (value === null || value === undefined) {
      if (!ours) out[key] = null;
      continue;
    }
    out[key] = jsonColumns.has(key) && typeof value === "string" ? JSON.parse(value) : toJsonValue(value);
  }
  return out;
}

/** Turns what hyparquet decodes into plain JSON values. */
export function toJsonValue(value: unknown): unknown {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value;
    case "bigint":
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
    case "object": {
      if (value === null) return null;
      if (Array.isArray(value)) return value.map(toJsonValue);
      if (value instanceof Date) return value.toISOString();
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
      if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, toJsonValue);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v);
      return out;
    }
    default:
      return null;
  }
}

function unreadable(path: string, error: unknown, where?: string): DataError {
  const reason = error instanceof Error ? error.message : String(error);
  return new DataError(
    "parquet-reader",
    `"${path}" is not a readable Parquet file${where ? ` (${where})` : ""}: ${reason}. Check that the file is complete and really Parquet.`,
    { cause: error },
  );
}
