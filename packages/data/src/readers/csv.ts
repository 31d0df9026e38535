import { isUtf8 } from "node:buffer";
import type { RawRecord } from "../runtime/types.js";
import { compressionFromPath, openDecompressed } from "./decompress.js";
import { DEFAULT_MAX_RECORD_BYTES, emptyFile } from "./jsonl.js";
import type { InputFile, ReadOptions } from "./types.js";

const RAW_PREVIEW_CHARS = 2048;
/** Enough bytes for RAW_PREVIEW_CHARS characters of any UTF-8 text. */
const RAW_PREVIEW_BYTES = RAW_PREVIEW_CHARS * 4;

const BROKEN = Symbol("broken header");

const QUOTE = 0x22;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const CR = 0x0d;

// Where the splitter is inside the current row (RFC 4180 quoting).
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** A quote inside a quoted field: the next byte says whether it was `""` or the closing quote. */
const QUOTE_IN_QUOTED = 3;

/**
 * Streams a CSV file with a header row as objects keyed by the header. Values stay
 * strings (no type guessing). Rows end at LF or CRLF outside quotes; a quoted field may
 * hold newlines, commas and `""`. A row with the wrong number of fields or a quoting
 * error becomes one `malformed_csv` entry, a row larger than `maxRecordBytes` one
 * `record_too_large` entry, and reading goes on with the next row; `loc.line` is the
 * 1-based line where the row starts.
 *
 * Rows are cut by a byte-level state machine that keeps at most `maxRecordBytes` of the
 * current row: an oversized row is counted to its end, never buffered, so memory stays
 * bounded however long a field is (csv-parse re-parsed the rest of such a row as new rows).
 */
export async function* readCsv(path: string, opts: ReadOptions & { compression?: InputFile["compression"] } = {}): AsyncGenerator<RawRecord> {
  yield* parseCsvChunks(openDecompressed(path, opts.compression ?? compressionFromPath(path), opts.signal), path, opts);
}

/** The row splitter of `readCsv` over any byte chunks; `path` only labels locations. */
export async function* parseCsvChunks(chunks: AsyncIterable<Uint8Array>, path: string, opts: Pick<ReadOptions, "maxRecordBytes"> = {}): AsyncGenerator<RawRecord> {
  const maxBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  // BROKEN: the header row was rejected, so no later row can be keyed (each is rejected).
  let header: string[] | typeof BROKEN | undefined;
  let headerLine = 1;
  let sawRow = false;

  let state = FIELD_START;
  let line = 1; // line of the byte being scanned
  let rowLine = 1; // line where the current row starts
  let pieces: Buffer[] = [];
  let rowBytes = 0; // bytes of the current row so far, kept or not
  let oversized = false;
  let preview = ""; // first bytes of an oversized row, for its reject
  let first = true;

  const finishRow = (atEof = false): RawRecord | undefined => {
    const size = rowBytes;
    const at = { file: path, line: rowLine };
    const body = oversized ? undefined : pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, size);
    const wasOversized = oversized;
    pieces = [];
    rowBytes = 0;
    oversized = false;
    if (wasOversized) {
      sawRow = true;
      if (header === BROKEN) return headerBroken(at);
      if (header === undefined) breakHeader(at.line);
      return {
        ok: false,
        code: "record_too_large",
        message: `line ${at.line}: the row has ${size} bytes, more than maxRecordBytes (${maxBytes}).${atEof && state === QUOTED ? " The file ends inside a quoted field of this row: a quote is probably never closed." : ""} Raise maxRecordBytes (--max-record-bytes) if such rows are expected.`,
        loc: at,
        raw: preview,
      };
    }
    let end = body!.length;
    if (end > 0 && body![end - 1] === NEWLINE) end--;
    if (end > 0 && body![end - 1] === CR) end--;
    if (end === 0) return undefined; // empty line
    sawRow = true;
    const text = body!.subarray(0, end);
    if (header === BROKEN) return headerBroken(at);
    if (!isUtf8(text)) {
      if (header === undefined) breakHeader(at.line);
      return { ok: false, code: "invalid_utf8", message: `line ${at.line} is not valid UTF-8. Re-encode the file as UTF-8.`, loc: at, raw: text.toString("latin1").slice(0, RAW_PREVIEW_CHARS) };
    }
    const parsed = parseRow(text);
    if (typeof parsed === "string") {
      if (header === undefined) breakHeader(at.line);
      return { ok: false, code: "malformed_csv", message: `line ${at.line}: ${parsed}`, loc: at, raw: text.toString("utf8", 0, RAW_PREVIEW_CHARS) };
    }
    if (header === undefined) {
      header = parsed;
      headerLine = at.line;
      return undefined;
    }
    if (parsed.length !== header.length) {
      return {
        ok: false,
        code: "malformed_csv",
        message: `line ${at.line}: wrong number of fields: expect ${header.length}, got ${parsed.length} (the header has ${header.length}). Quote fields that contain commas or newlines.`,
        loc: at,
        raw: text.toString("utf8", 0, RAW_PREVIEW_CHARS),
      };
    }
    const value: Record<string, string> = {};
    for (let i = 0; i < header.length; i++) value[header[i]!] = parsed[i]!;
    return { ok: true, value, loc: at, bytes: size };
  };

  const breakHeader = (line: number) => {
    header = BROKEN;
    headerLine = line;
  };

  const headerBroken = (at: { file: string; line: number }): RawRecord => ({
    ok: false,
    code: "malformed_csv",
    message: `line ${at.line}: the header row (line ${headerLine}) was rejected, so this row cannot be keyed by column names. Fix the header row.`,
    loc: at,
  });

  const keep = (chunk: Buffer, from: number, to: number) => {
    if (to <= from) return;
    rowBytes += to - from;
    if (oversized) return;
    if (rowBytes > maxBytes) {
      oversized = true;
      pieces.push(chunk.subarray(from, to));
      const head: Buffer[] = [];
      let headBytes = 0;
      for (const piece of pieces) {
        if (headBytes >= RAW_PREVIEW_BYTES) break;
        head.push(piece.subarray(0, RAW_PREVIEW_BYTES - headBytes));
        headBytes += head[head.length - 1]!.length;
      }
      preview = Buffer.concat(head).toString("utf8").slice(0, RAW_PREVIEW_CHARS);
      pieces = [];
      return;
    }
    pieces.push(chunk.subarray(from, to));
  };

  for await (const bytes of chunks) {
    let chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (first && chunk.length > 0) {
      first = false;
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === NEWLINE) {
        line++;
        if (state === QUOTED) continue;
        keep(chunk, start, i + 1);
        start = i + 1;
        const entry = finishRow();
        state = FIELD_START;
        rowLine = line;
        if (entry) yield entry;
        continue;
      }
      switch (state) {
        case FIELD_START:
          state = c === QUOTE ? QUOTED : c === COMMA ? FIELD_START : UNQUOTED;
          break;
        case UNQUOTED:
          if (c === COMMA) state = FIELD_START;
          break;
        case QUOTED:
          if (c === QUOTE) state = QUOTE_IN_QUOTED;
          break;
        case QUOTE_IN_QUOTED:
          // `""` is an escaped quote; anything but `,` or a line end after a closing quote
          // is malformed and reported by parseRow, so the row still ends at its newline.
          state = c === QUOTE ? QUOTED : c === COMMA ? FIELD_START : c === CR ? QUOTE_IN_QUOTED : UNQUOTED;
          break;
      }
    }
    keep(chunk, start, chunk.length);
  }
  if (rowBytes > 0) {
    const entry = finishRow(true);
    if (entry) yield entry;
  }
  if (!sawRow) yield emptyFile(path);
}

/** The fields of one row (no line end), or what is wrong with its quoting. */
function parseRow(row: Buffer): string[] | string {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (row[i] === QUOTE) {
      let value = "";
      let from = i + 1;
      for (;;) {
        const q = row.indexOf(QUOTE, from);
        if (q === -1) return `field ${fields.length + 1} opens a quote that is never closed. Close it, or double quotes inside quoted fields ("").`;
        value += row.toString("utf8", from, q);
        if (row[q + 1] === QUOTE) {
          value += '"';
          from = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === row.length) return fields;
      if (row[i] !== COMMA) return `field ${fields.length} has characters after its closing quote. Double quotes inside quoted fields ("").`;
      i++;
    } else {
      const comma = row.indexOf(COMMA, i);
      const end = comma === -1 ? row.length : comma;
      const q = row.indexOf(QUOTE, i);
      if (q !== -1 && q < end) return `field ${fields.length + 1} has a quote but does not start with one. Quote the whole field and double the quotes inside it ("").`;
      fields.push(row.toString("utf8", i, end));
      if (comma === -1) return fields;
      i = comma + 1;
    }
  }
}
