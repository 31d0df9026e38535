import { isUtf8 } from "node:buffer";
import type { RawRecord } from "../runtime/types.js";
import { compressionFromPath, openDecompressed } from "./decompress.js";
import { DEFAULT_MAX_DEPTH, exceedsJsonDepth } from "./jsonDepth.js";
import type { InputFile, ReadOptions } from "./types.js";

export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** How much of a bad line is kept on its reject entry. */
const RAW_PREVIEW_CHARS = 2048;

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Streams a JSON Lines file (optionally .gz/.zst) record by record in constant memory.
 *
 * This is the hot path of every pipeline, so lines are cut on Buffers (no string
 * decoder, no readline) and each line is validated with the native `isUtf8` before
 * it is decoded. Bad lines become `{ ok: false }` entries and reading goes on.
 * `bytes` is the line's size in the (decompressed) source, newline included.
 */
export function readJsonl(path: string, opts: ReadOptions & { compression?: InputFile["compression"] } = {}): AsyncGenerator<RawRecord> {
  return parseJsonlChunks(openDecompressed(path, opts.compression ?? compressionFromPath(path), opts.signal), path, opts);
}

/** The line splitter of `readJsonl` over any byte chunks (a pipe, a socket); `file` only labels locations. */
export async function* parseJsonlChunks(chunks: AsyncIterable<Uint8Array>, path: string, opts: Pick<ReadOptions, "maxRecordBytes" | "maxDepth"> = {}): AsyncGenerator<RawRecord> {
  const maxBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;

  let line = 0;
  let content = false;
  // Pieces of a line that spans chunks; `skipping` once it is known to exceed the limit.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let skipping = false;

  for await (const bytes of chunks) {
    const chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let start = 0;
    let nl = chunk.indexOf(NEWLINE);
    while (nl !== -1) {
      line++;
      let entry: RawRecord | undefined;
      if (skipping) {
        entry = tooLarge(path, line, pendingBytes + nl - start, maxBytes);
        skipping = false;
        pendingBytes = 0;
      } else if (pendingBytes > 0) {
        pending.push(chunk.subarray(start, nl));
        const size = pendingBytes + nl - start;
        entry = size > maxBytes ? tooLarge(path, line, size, maxBytes) : parseLine(Buffer.concat(pending, size), path, line, maxDepth);
        pending = [];
        pendingBytes = 0;
      } else if (nl - start > maxBytes) {
        entry = tooLarge(path, line, nl - start, maxBytes);
      } else {
        entry = parseLine(chunk.subarray(start, nl), path, line, maxDepth);
      }
      if (entry !== undefined) {
        content = true;
        yield entry;
      }
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) {
      const rest = chunk.length - start;
      if (skipping) pendingBytes += rest;
      else if (pendingBytes + rest > maxBytes) {
        // Over the limit before its end: stop buffering, count the bytes up to the newline.
        skipping = true;
        pending = [];
        pendingBytes += rest;
      } else {
        pending.push(chunk.subarray(start));
        pendingBytes += rest;
      }
    }
  }

  if (pendingBytes > 0) {
    line++;
    const entry = skipping ? tooLarge(path, line, pendingBytes, maxBytes) : parseLine(Buffer.concat(pending, pendingBytes), path, line, maxDepth, false);
    if (entry !== undefined) {
      content = true;
      yield entry;
    }
  }
  if (!content) yield emptyFile(path);
}

/** Parses one line (without its newline); undefined for a blank line. */
function parseLine(buf: Buffer, file: string, line: number, maxDepth: number, newline = true): RawRecord | undefined {
  let end = buf.length;
  if (end > 0 && buf[end - 1] === CR) end--;
  let begin = 0;
  if (line === 1 && end >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) begin = 3;
  if (begin === end || (isSpace(buf[begin]!) && isBlank(buf, begin, end))) return undefined;
  const bytes = buf.length + (newline ? 1 : 0);
  const body = begin === 0 && end === buf.length ? buf : buf.subarray(begin, end);
  if (!isUtf8(body)) {
    return {
      ok: false,
      code: "invalid_utf8",
      message: `line ${line} is not valid UTF-8. Re-encode the file as UTF-8.`,
      loc: { file, line },
      raw: body.toString("latin1").slice(0, RAW_PREVIEW_CHARS),
    };
  }
  if (exceedsJsonDepth(body, 0, body.length, maxDepth)) return tooDeep(file, line, maxDepth, body.toString("utf8", 0, RAW_PREVIEW_CHARS));
  const text = body.toString("utf8");
  try {
    return { ok: true, value: JSON.parse(text), loc: { file, line }, bytes };
  } catch (error) {
    return {
      ok: false,
      code: "malformed_json",
      message: `line ${line} is not valid JSON: ${(error as Error).message}`,
      loc: { file, line },
      raw: text.slice(0, RAW_PREVIEW_CHARS),
    };
  }
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === CR || byte === 0x0c || byte === 0x0b;
}

function isBlank(buf: Buffer, begin: number, end: number): boolean {
  for (let i = begin; i < end; i++) if (!isSpace(buf[i]!)) return false;
  return true;
}

function tooLarge(file: string, line: number, size: number, max: number): RawRecord {
  return {
    ok: false,
    code: "record_too_large",
    message: `line ${line} has ${size} bytes, more than maxRecordBytes (${max}). Raise maxRecordBytes if such records are expected.`,
    loc: { file, line },
  };
}

/** A record nesting deeper than `maxDepth`; `raw` is a bounded preview of its text. */
export function tooDeep(file: string, line: number, max: number, raw: string, what = `line ${line}`): RawRecord {
  return {
    ok: false,
    code: "too_deep",
    message: `${what} nests arrays/objects more than maxDepth (${max}) levels deep. Raise maxDepth (--max-depth) if such records are expected.`,
    loc: { file, line },
    raw: raw.slice(0, RAW_PREVIEW_CHARS),
  };
}

export function emptyFile(file: string): RawRecord {
  return { ok: false, code: "empty_file", message: `"${file}" has no records (it is empty or only whitespace).`, loc: { file } };
}
