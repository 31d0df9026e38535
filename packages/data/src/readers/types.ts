import type { RawRecord } from "../runtime/types.js";

export type InputFormat = "jsonl" | "json" | "csv" | "parquet";

export interface ReadOptions {
  /** Records larger than this (bytes of their source text) are rejected with `record_too_large`. @default 16 MiB */
  maxRecordBytes?: number;
  /** Records nesting arrays/objects deeper than this are rejected with `too_deep`. @default 256 */
  maxDepth?: number;
  /** Force a format instead of detecting it from the extension. */
  format?: InputFormat;
  signal?: AbortSignal;
}

/** A resolved input file with what is needed to fingerprint it for skip-if-done. */
export interface InputFile {
  path: string;
  format: InputFormat;
  compression: "none" | "gzip" | "zstd";
  size: number;
  mtimeMs: number;
}

export type RecordStream = AsyncIterable<RawRecord>;
