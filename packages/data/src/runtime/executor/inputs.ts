import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { DataError } from "../../errors.js";
import { parseJsonlChunks, readJsonl } from "../../readers/jsonl.js";
import { readRecords } from "../../readers/readRecords.js";
import type { InputFile, InputFormat, ReadOptions } from "../../readers/types.js";
import type { ShardInfo } from "../../writers/shardedJsonlWriter.js";
import { decodeSample } from "../decode.js";
import type { SourceFileRef, TaskInput } from "./types.js";

/** Records of one task input, in order: decoded values, or `DecodeFailure`s the first stage rejects. */
export async function* readTaskInput(input: TaskInput, source: { decode?: "raw" | "samples"; readOptions?: ReadOptions } = {}): AsyncGenerator<unknown> {
  if (input.kind === "shards") {
    for (const shard of input.files) {
      const path = join(input.dir, shard.file);
      // Shards hold what the runtime wrote (it serialized), whatever maxDepth let through.
      const opts = { maxDepth: Number.POSITIVE_INFINITY };
      const lines = shard.start === undefined ? readJsonl(path, opts) : parseJsonlChunks(createReadStream(path, { start: shard.start, end: (shard.end ?? Number.POSITIVE_INFINITY) - 1, highWaterMark: 1 << 20 }), path, opts);
      for await (const raw of lines) {
        if (!raw.ok) throw new DataError("pipeline", `shard ${path} is corrupt near line ${raw.loc.line}: ${raw.message}. Delete the stage directory to rebuild it.`);
        yield raw.value;
      }
    }
    return;
  }
  const file = inputFileOf(input.file);
  const records =
    input.start === undefined
      ? readRecords(file, source.readOptions)
      : rangeRecords(file.path, input.start, input.end ?? file.size, input.firstLine ?? 1, source.readOptions ?? {});
  for await (const raw of records) yield source.decode === "samples" ? decodeSample(raw) : raw;
}

export function inputFileOf(ref: SourceFileRef): InputFile {
  return { path: ref.path, size: ref.size, mtimeMs: ref.mtimeMs, format: ref.format as InputFormat, compression: ref.compression as InputFile["compression"] };
}

/** A byte range of a JSONL file, cut at line starts, read as the whole-file reader reads those lines. */
async function* rangeRecords(path: string, start: number, end: number, firstLine: number, opts: ReadOptions) {
  const bytes = createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20 });
  // The reader treats its first line as the file's (a BOM there is skipped) and reports a file of blank lines as empty:
  // a range after the file's start gets a blank line ahead of its own, which the reader skips without a record.
  const later = start > 0;
  const chunks = later ? prepend(Buffer.from("\n"), bytes) : bytes;
  const shift = firstLine - 1 - (later ? 1 : 0);
  for await (const raw of parseJsonlChunks(chunks, path, opts)) {
    if (!raw.ok && raw.code === "empty_file" && later) continue;
    const local = raw.loc.line ?? 0;
    raw.loc.line = local + shift;
    // The reader names the line in its messages too; name the file's line, as reading the whole file does.
    if (!raw.ok && shift !== 0) raw.message = raw.message.replace(new RegExp(`\\bline ${local}\\b`), `line ${local + shift}`);
    yield raw;
  }
}

async function* prepend(head: Buffer, rest: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield head;
  yield* rest;
}

/**
 * Splits the stage input into task inputs. Source JSONL files larger than `splitBytes` are cut into byte ranges at
 * line starts (one sequential scan counts their lines); other files are one split each. Previous-stage shards are one
 * split each.
 */
export async function planSplits(
  input: { kind: "source"; files: InputFile[]; format?: InputFormat } | { kind: "shards"; dir: string; shards: ShardInfo[] },
  splitBytes: number,
): Promise<TaskInput[]> {
  if (input.kind === "shards") {
    const splits: TaskInput[] = [];
    for (const s of input.shards) {
      if (s.bytes <= splitBytes * 1.5) {
        splits.push({ kind: "shards", dir: input.dir, files: [{ file: s.file, records: s.records }] });
        continue;
      }
      for (const { start, end, lines } of await lineRanges(join(input.dir, s.file), s.bytes, splitBytes)) {
        splits.push({ kind: "shards", dir: input.dir, files: [{ file: s.file, records: lines, start, end }] });
      }
    }
    return splits;
  }
  const splits: TaskInput[] = [];
  for (const file of input.files) {
    const ref: SourceFileRef = { path: file.path, size: file.size, mtimeMs: file.mtimeMs, format: file.format, compression: file.compression };
    const format = input.format ?? file.format;
    if (format !== "jsonl" || file.compression !== "none" || file.size <= splitBytes * 1.5) {
      splits.push({ kind: "source", file: ref });
      continue;
    }
    for (const { start, end, firstLine } of await lineRanges(file.path, file.size, splitBytes)) splits.push({ kind: "source", file: ref, start, end, firstLine });
  }
  return splits;
}

/** Byte ranges of about `target` bytes each, ending just after a newline, with the number of each range's first line and its lines. */
async function lineRanges(path: string, size: number, target: number): Promise<Array<{ start: number; end: number; firstLine: number; lines: number }>> {
  const ranges: Array<{ start: number; end: number; firstLine: number; lines: number }> = [];
  const handle = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let start = 0;
    let firstLine = 1;
    let lines = 0;
    let pos = 0;
    let cutAfter = target;
    let lastByte = 0x0a;
    while (pos < size) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      let i = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, i);
        if (nl === -1 || nl >= bytesRead) break;
        lines++;
        i = nl + 1;
        if (pos + i >= cutAfter && pos + i < size) {
          ranges.push({ start, end: pos + i, firstLine, lines: lines + 1 - firstLine });
          start = pos + i;
          firstLine = lines + 1;
          cutAfter = start + target;
        }
      }
      lastByte = buf[bytesRead - 1]!;
      pos += bytesRead;
    }
    ranges.push({ start, end: size, firstLine, lines: lines + (pos > 0 && lastByte !== 0x0a ? 1 : 0) + 1 - firstLine });
  } finally {
    await handle.close();
  }
  return ranges;
}
