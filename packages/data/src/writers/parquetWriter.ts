import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type ColumnSource, parquetWriteBuffer } from "hyparquet-writer";
import { DataError } from "../errors.js";
import { PARQUET_JSON_COLUMNS_KEY } from "../readers/parquet.js";
import { writeFileAtomic } from "./atomic.js";
import { DEFAULT_SHARD_MAX_RECORDS, type ShardInfo, shardFileName } from "./shardedJsonlWriter.js";

export interface ParquetWriteOptions {
  /** Rows per row group; readers hold one row group in memory at a time. @default 10_000 */
  rowGroupSize?: number;
  /** Page compression. @default "SNAPPY" */
  codec?: "SNAPPY" | "UNCOMPRESSED";
  /** Columns placed first, in this order (written even when every row lacks them); other fields follow in first-seen order. */
  columns?: string[];
}

export const DEFAULT_ROW_GROUP_SIZE = 10_000;

type ColumnKind = "STRING" | "BOOLEAN" | "INT64" | "DOUBLE" | "JSON";

/**
 * Encodes rows as a Parquet file in memory. Columns whose values are all strings,
 * booleans or numbers get that type; anything else (objects, arrays, explicit nulls,
 * mixed types) is stored as JSON text in a UTF8 column, and those columns are listed
 * in the `infialign.json_columns` metadata entry so `readParquet` restores the values
 * exactly. A missing field is stored as null and read back as absent.
 */
export function encodeParquet(rows: readonly Record<string, unknown>[], opts: ParquetWriteOptions = {}): Uint8Array {
  try {
    const jsonColumns: string[] = [];
    const columnData: ColumnSource[] = columnNames(rows, opts.columns).map((name) => {
      const kind = columnKind(rows, name);
      if (kind === "JSON") jsonColumns.push(name);
      return { name, type: kind === "JSON" ? "STRING" : kind, data: columnValues(rows, name, kind) };
    });
    const buffer = parquetWriteBuffer({
      columnData,
      codec: opts.codec ?? "SNAPPY",
      rowGroupSize: opts.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE,
      kvMetadata: [{ key: PARQUET_JSON_COLUMNS_KEY, value: JSON.stringify(jsonColumns) }],
      createdBy: "@infialign/data",
    });
    return new Uint8Array(buffer);
  } catch (error) {
    throw new DataError("parquet-writer", `cannot encode ${rows.length} rows as Parquet: ${(error as Error).message}. Check that the values are JSON-compatible.`, { cause: error });
  }
}

/** Writes rows to a Parquet file atomically; returns the file's size and sha256. */
export async function writeParquet(path: string, rows: readonly Record<string, unknown>[], opts: ParquetWriteOptions = {}): Promise<{ bytes: number; sha256: string }> {
  const data = encodeParquet(rows, opts);
  await writeFileAtomic(path, data);
  return { bytes: data.length, sha256: createHash("sha256").update(data).digest("hex") };
}

export interface ParquetShardWriterOptions extends ParquetWriteOptions {
  /** Directory of the shards; created when missing. */
  dir: string;
  /** File name prefix. @default "part" */
  prefix?: string;
  /** Rows per shard; a shard's rows are buffered in memory until it is written. @default 100_000 */
  maxRecords?: number;
  /** Index of the first shard. @default 0 */
  startIndex?: number;
  /** Awaited after each shard is renamed into place. */
  onShardClosed?: (info: ShardInfo) => void | Promise<void>;
}

/** Writes rows into numbered Parquet shards (`part-00000.parquet`), each written atomically. */
export class ParquetShardWriter {
  private readonly opts: ParquetShardWriterOptions;
  private readonly maxRecords: number;
  private readonly done: ShardInfo[] = [];
  private rows: Record<string, unknown>[] = [];
  private index: number;
  private closed = false;

  constructor(opts: ParquetShardWriterOptions) {
    this.opts = opts;
    this.maxRecords = opts.maxRecords ?? DEFAULT_SHARD_MAX_RECORDS;
    this.index = opts.startIndex ?? 0;
    if (!(this.maxRecords >= 1)) throw new DataError("parquet-writer", `maxRecords (${this.maxRecords}) must be at least 1. Pass a positive limit.`);
  }

  get shards(): ShardInfo[] {
    return [...this.done];
  }

  async write(row: Record<string, unknown>): Promise<void> {
    if (this.closed) throw new DataError("parquet-writer", "write after close(). Create a new writer.");
    this.rows.push(row);
    if (this.rows.length >= this.maxRecords) await this.flush();
  }

  async close(): Promise<ShardInfo[]> {
    if (!this.closed) {
      this.closed = true;
      if (this.rows.length > 0) await this.flush();
    }
    return this.shards;
  }

  private async flush(): Promise<void> {
    const rows = this.rows;
    this.rows = [];
    await mkdir(this.opts.dir, { recursive: true });
    const file = shardFileName(this.opts.prefix ?? "part", this.index, ".parquet");
    const path = join(this.opts.dir, file);
    const { bytes, sha256 } = await writeParquet(path, rows, this.opts);
    const info: ShardInfo = { index: this.index, file, path, records: rows.length, bytes, sha256 };
    this.done.push(info);
    this.index++;
    await this.opts.onShardClosed?.(info);
  }
}

function columnNames(rows: readonly Record<string, unknown>[], first: string[] | undefined): string[] {
  const names = new Set<string>(first);
  for (const row of rows) for (const key in row) if (row[key] !== undefined) names.add(key);
  return [...names];
}

function columnKind(rows: readonly Record<string, unknown>[], name: string): ColumnKind {
  let kind: ColumnKind | undefined;
  for (const row of rows) {
    const value = row[name];
    let next: ColumnKind;
    switch (typeof value) {
      case "undefined":
        continue;
      case "string":
        next = "STRING";
        break;
      case "boolean":
        next = "BOOLEAN";
        break;
      case "bigint":
        next = "INT64";
        break;
      case "number":
        next = Number.isSafeInteger(value) && !Object.is(value, -0) ? "INT64" : "DOUBLE";
        break;
      default:
        return "JSON";
    }
    if (kind === undefined || kind === next) kind = next;
    else if ((kind === "INT64" && next === "DOUBLE") || (kind === "DOUBLE" && next === "INT64")) kind = "DOUBLE";
    else return "JSON";
  }
  return kind ?? "STRING";
}

function columnValues(rows: readonly Record<string, unknown>[], name: string, kind: ColumnKind): unknown[] {
  const out = new Array<unknown>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const value = rows[i]![name];
    if (value === undefined) out[i] = null;
    else if (kind === "JSON") out[i] = JSON.stringify(value);
    else if (kind === "INT64") out[i] = BigInt(value as number | bigint);
    else if (kind === "DOUBLE" && typeof value === "bigint") out[i] = Number(value);
    else out[i] = value;
  }
  return out;
}
