import { isUtf8 } from "node:buffer";
import { DataError } from "../errors.js";
import type { RawRecord } from "../runtime/types.js";
import { compressionFromPath, openDecompressed } from "./decompress.js";
import { DEFAULT_MAX_DEPTH } from "./jsonDepth.js";
import { DEFAULT_MAX_RECORD_BYTES, emptyFile, tooDeep } from "./jsonl.js";
import type { InputFile, ReadOptions } from "./types.js";

const RAW_PREVIEW_CHARS = 2048;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const NEWLINE = 0x0a;

/**
 * Streams the elements of a file whose top level is a JSON array, in constant memory.
 *
 * A small byte scanner (string/escape state and bracket depth) cuts the top-level
 * elements and each is handed to `JSON.parse`. Streaming JSON parsers that are still
 * maintained either build every value through a slow token-by-token API or pull in a
 * large dependency; cutting on bytes keeps `JSON.parse`'s speed and exact semantics.
 * A malformed element becomes a `malformed_json` entry and reading resumes at the
 * next top-level comma. `loc.row` is the 0-based element index, `loc.line` the 1-based
 * line where the element starts.
 */
export function readJsonArray(path: string, opts: ReadOptions & { compression?: InputFile["compression"] } = {}): AsyncGenerator<RawRecord> {
  return parseJsonArrayChunks(openDecompressed(path, opts.compression ?? compressionFromPath(path), opts.signal), path, opts);
}

/** The element scanner of `readJsonArray` over any byte chunks; `path` only labels locations and errors. */
export async function* parseJsonArrayChunks(chunks: AsyncIterable<Uint8Array>, path: string, opts: Pick<ReadOptions, "maxRecordBytes" | "maxDepth"> = {}): AsyncGenerator<RawRecord> {
  const maxBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;

  // before: nothing but whitespace (and a BOM) seen; array: inside the top-level array; after: past its `]`.
  let phase: "before" | "array" | "after" = "before";
  let depth = 0; // nesting inside the current element
  let inString = false;
  let escaped = false;
  let line = 1;
  let row = 0;
  let offset = 0; // bytes consumed, for error messages
  let bomChecked = false;

  let pieces: Buffer[] = [];
  let pieceBytes = 0;
  let tooLarge = false;
  // Deeper than maxDepth: the element's first bytes, kept as the reject's preview.
  let tooDeepPreview: string | undefined;
  let elementLine = 1;
  let elementStarted = false; // saw a non-space byte of the current element
  let commas = 0;

  const finishElement = (closing: boolean): RawRecord | undefined => {
    const size = pieceBytes;
    const bytes = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, size);
    const started = elementStarted;
    const at = { file: path, line: elementLine, row };
    pieces = [];
    pieceBytes = 0;
    elementStarted = false;
    if (!started && !tooLarge) {
      // `[]`, or whitespace before `]` after the last element is only legal for an empty array.
      if (closing && row === 0 && commas === 0) return undefined;
      row++;
      return { ok: false, code: "malformed_json", message: `element ${row - 1} (line ${at.line}) is empty.`, loc: at };
    }
    row++;
    if (tooDeepPreview !== undefined && !tooLarge) {
      const preview = tooDeepPreview;
      tooDeepPreview = undefined;
      return { ...tooDeep(path, at.line, maxDepth, preview, `element ${at.row} (line ${at.line})`), loc: at };
    }
    tooDeepPreview = undefined;
    if (tooLarge) {
      tooLarge = false;
      return {
        ok: false,
        code: "record_too_large",
        message: `element ${at.row} (line ${at.line}) has more than maxRecordBytes (${maxBytes}) bytes. Raise maxRecordBytes if such records are expected.`,
        loc: at,
      };
    }
    if (!isUtf8(bytes)) {
      return { ok: false, code: "invalid_utf8", message: `element ${at.row} (line ${at.line}) is not valid UTF-8. Re-encode the file as UTF-8.`, loc: at, raw: bytes.toString("latin1").slice(0, RAW_PREVIEW_CHARS) };
    }
    const text = bytes.toString("utf8");
    try {
      return { ok: true, value: JSON.parse(text), loc: at, bytes: size + 1 };
    } catch (error) {
      return {
        ok: false,
        code: "malformed_json",
        message: `element ${at.row} (line ${at.line}) is not valid JSON: ${(error as Error).message}`,
        loc: at,
        raw: text.slice(0, RAW_PREVIEW_CHARS),
      };
    }
  };

  const keep = (chunk: Buffer, from: number, to: number) => {
    if (to <= from || tooLarge || tooDeepPreview !== undefined) return;
    if (pieceBytes + (to - from) > maxBytes) {
      tooLarge = true;
      pieces = [];
      pieceBytes = 0;
      return;
    }
    pieces.push(chunk.subarray(from, to));
    pieceBytes += to - from;
  };

  for await (const raw of chunks) {
    let chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (!bomChecked && chunk.length > 0) {
      bomChecked = true;
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    let start = 0; // start of the unsaved part of the current element in this chunk
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === NEWLINE) {
        line++;
        continue;
      }
      if (phase !== "array") {
        if (c === 0x20 || c === 0x09 || c === 0x0d) continue;
        if (phase === "before" && c === OPEN_BRACKET) {
          phase = "array";
          start = i + 1;
          elementLine = line;
          continue;
        }
        throw notAnArray(path, phase, offset + i, line);
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (!elementStarted) {
        if (c === 0x20 || c === 0x09 || c === 0x0d) {
          start = i + 1;
          continue;
        }
        if (c !== COMMA && !(c === CLOSE_BRACKET && depth === 0)) {
          elementStarted = true;
          elementLine = line;
          start = i;
        }
      }
      if (c === QUOTE) inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (++depth > maxDepth && tooDeepPreview === undefined) {
          keep(chunk, start, i + 1);
          tooDeepPreview = Buffer.concat(pieces, pieceBytes).toString("utf8", 0, RAW_PREVIEW_CHARS);
          // The element is rejected: stop buffering it (keep() ignores it from here).
          pieces = [];
          pieceBytes = 0;
          start = i + 1;
        }
      }
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && depth > 0) depth--;
      else if (depth === 0 && (c === COMMA || c === CLOSE_BRACKET)) {
        keep(chunk, start, i);
        const entry = finishElement(c === CLOSE_BRACKET);
        if (entry) yield entry;
        if (c === COMMA) commas++;
        else phase = "after";
        start = i + 1;
      }
    }
    if (phase === "array") keep(chunk, start, chunk.length);
    offset += chunk.length;
  }

  if (phase === "before") {
    yield emptyFile(path);
    return;
  }
  if (phase === "array") {
    // Truncated file: report what was left of the last element, keep what came before.
    yield {
      ok: false,
      code: "malformed_json",
      message: `the file ends inside the top-level array (element ${row}, line ${elementLine}); it is probably truncated.`,
      loc: { file: path, line: elementLine, row },
    };
  }
}

function notAnArray(path: string, phase: "before" | "after", offset: number, line: number): DataError {
  if (phase === "after") {
    return new DataError("json-reader", `"${path}" has content after its top-level array (line ${line}, byte ${offset}). Remove it, or split the file into one array per file.`);
  }
  return new DataError(
    "json-reader",
    `"${path}" is not a JSON array (line ${line}, byte ${offset} is not "["). A .json input must hold one top-level array of records; for one record per line, name the file .jsonl or pass format "jsonl".`,
  );
}
