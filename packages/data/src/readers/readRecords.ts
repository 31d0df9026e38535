import { open } from "node:fs/promises";
import type { RawRecord } from "../runtime/types.js";
import { readCsv } from "./csv.js";
import { openDecompressed } from "./decompress.js";
import { readJsonArray } from "./jsonArray.js";
import { readJsonl } from "./jsonl.js";
import { readParquet } from "./parquet.js";
import type { InputFile, ReadOptions } from "./types.js";

/**
 * Reads any resolved input as raw records, dispatching on its format (`opts.format`
 * overrides the file's). A `.json` file whose first value is an object rather than
 * an array is read as JSON Lines, since many datasets ship JSON Lines under `.json`.
 */
export async function* readRecords(file: InputFile, opts: ReadOptions = {}): AsyncGenerator<RawRecord> {
  const format = opts.format ?? file.format;
  const withCompression = { ...opts, compression: file.compression };
  switch (format) {
    case "jsonl":
      yield* readJsonl(file.path, withCompression);
      return;
    case "json":
      if (opts.format === undefined && (await firstByte(file)) === 0x7b) yield* readJsonl(file.path, withCompression);
      else yield* readJsonArray(file.path, withCompression);
      return;
    case "csv":
      yield* readCsv(file.path, withCompression);
      return;
    case "parquet":
      yield* readParquet(file.path, opts);
      return;
  }
}

/** The first byte that is not whitespace or a BOM, or undefined. */
async function firstByte(file: InputFile): Promise<number | undefined> {
  if (file.compression === "none") {
    const handle = await open(file.path, "r");
    try {
      const buf = Buffer.alloc(4096);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      return scan(buf.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  }
  for await (const chunk of openDecompressed(file.path, file.compression)) {
    const byte = scan(chunk);
    if (byte !== undefined) return byte;
  }
  return undefined;
}

function scan(buf: Buffer): number | undefined {
  let i = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return undefined;
}
