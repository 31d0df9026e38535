import { type CsvError, type InfoRecord, parse } from "csv-parse";
import type { RawRecord } from "../runtime/types.js";
import { compressionFromPath, openDecompressed } from "./decompress.js";
import { DEFAULT_MAX_RECORD_BYTES, emptyFile } from "./jsonl.js";
import type { InputFile, ReadOptions } from "./types.js";

const RAW_PREVIEW_CHARS = 2048;

/**
 * Streams a CSV file with a header row as objects keyed by the header. Values stay
 * strings (no type guessing). A row with the wrong number of fields, or a quoting
 * error, becomes a `malformed_csv` entry and reading goes on; `loc.line` is the
 * 1-based line where the row starts.
 */
export async function* readCsv(path: string, opts: ReadOptions & { compression?: InputFile["compression"] } = {}): AsyncGenerator<RawRecord> {
  const maxBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const compression = opts.compression ?? compressionFromPath(path);

  // Records and errors are queued by the parser callbacks in source order; the parser's
  // readable side stays empty, so feeding it chunk by chunk keeps memory bounded.
  const queue: RawRecord[] = [];
  let header: string[] | undefined;
  let lastLine = 0;
  let sawRecord = false;

  const startLine = (endLine: number, raw: string | undefined): number => {
    if (raw === undefined) return endLine;
    const body = raw.replace(/^(?:\r?\n)+/, "").replace(/\r?\n$/, "");
    let inner = 0;
    for (let i = body.indexOf("\n"); i !== -1; i = body.indexOf("\n", i + 1)) inner++;
    return endLine - inner;
  };

  const parser = parse({
    bom: true,
    raw: true,
    skip_empty_lines: true,
    // Files that mix CRLF and LF (edited on two systems) still split into rows.
    record_delimiter: ["\r\n", "\n"],
    skip_records_with_error: true,
    max_record_size: maxBytes,
    // With `raw`, csv-parse hands `{ record, raw }` to on_record.
    on_record: (extended: unknown, info: InfoRecord) => {
      const { record } = extended as { record: string[] };
      const line = startLine(info.lines, info.raw);
      lastLine = info.lines;
      sawRecord = true;
      if (header === undefined) {
        header = record;
        return undefined;
      }
      const value: Record<string, string> = {};
      for (let i = 0; i < header.length; i++) value[header[i]!] = record[i]!;
      queue.push({ ok: true, value, loc: { file: path, line }, bytes: info.raw === undefined ? undefined : Buffer.byteLength(info.raw) });
      return undefined;
    },
    on_skip: (error: CsvError | undefined, raw: string | undefined) => {
      const endLine = typeof error?.lines === "number" ? error.lines : lastLine + 1;
      lastLine = endLine;
      sawRecord = true;
      const tooLarge = error?.code === "CSV_MAX_RECORD_SIZE";
      const line = error?.code === "CSV_RECORD_INCONSISTENT_FIELDS_LENGTH" ? startLine(endLine, raw) : endLine;
      queue.push({
        ok: false,
        code: tooLarge ? "record_too_large" : "malformed_csv",
        message: `line ${line}: ${error?.message ?? "unreadable row"}${tooLarge ? ". Raise maxRecordBytes if such records are expected." : ""}`,
        loc: { file: path, line },
        ...(raw === undefined ? {} : { raw: raw.slice(0, RAW_PREVIEW_CHARS) }),
      });
      return undefined;
    },
  });
  let failure: Error | undefined;
  parser.on("error", (error) => {
    failure = error;
  });
  // Drain the (always empty) readable side so the parser can end.
  parser.resume();

  for await (const chunk of openDecompressed(path, compression, opts.signal)) {
    await new Promise<void>((resolve) => parser.write(chunk, () => resolve()));
    if (failure) throw failure;
    if (queue.length > 0) yield* queue.splice(0);
  }
  await new Promise<void>((resolve) => parser.end(() => resolve()));
  if (failure) throw failure;
  if (queue.length > 0) yield* queue.splice(0);
  if (!sawRecord) yield emptyFile(path);
}
