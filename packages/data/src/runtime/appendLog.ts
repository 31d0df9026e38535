import { createWriteStream, type WriteStream } from "node:fs";
import { stat, truncate } from "node:fs/promises";
import { once } from "node:events";
import { boundedJsonValue } from "../readers/jsonDepth.js";

/**
 * An append-only JSONL file (rejects, duplicates) whose committed length is recorded in
 * the stage checkpoint. On resume the file is truncated back to that length, so entries
 * written after the last checkpoint (and regenerated on rerun) are never duplicated.
 */
export class AppendLog {
  private stream: WriteStream | undefined;
  private pending: string[] = [];
  private pendingBytes = 0;
  private committed = 0;

  private constructor(readonly path: string) {}

  static async open(path: string, resumeAtBytes = 0): Promise<AppendLog> {
    const log = new AppendLog(path);
    const size = await stat(path).then((s) => s.size, () => -1);
    if (size > resumeAtBytes) await truncate(path, resumeAtBytes);
    log.committed = Math.max(0, Math.min(size, resumeAtBytes));
    log.stream = createWriteStream(path, { flags: size >= 0 && resumeAtBytes > 0 ? "a" : "w" });
    return log;
  }

  append(entry: unknown): void {
    const line = `${serializeEntry(entry)}\n`;
    this.pending.push(line);
    this.pendingBytes += Buffer.byteLength(line);
    if (this.pending.length >= 1024) this.flushSync();
  }

  private flushSync(): void {
    if (this.pending.length === 0 || !this.stream) return;
    this.stream.write(this.pending.join(""));
    this.committed += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Flushes and waits until the bytes are handed to the OS; returns the file length. */
  async commit(): Promise<number> {
    this.flushSync();
    const stream = this.stream;
    if (stream?.writableNeedDrain) await once(stream, "drain");
    await new Promise<void>((resolve, reject) => stream?.write("", (err) => (err ? reject(err) : resolve())));
    return this.committed;
  }

  async close(): Promise<number> {
    const bytes = await this.commit();
    const stream = this.stream;
    this.stream = undefined;
    if (stream) await new Promise<void>((resolve) => stream.end(resolve));
    return bytes;
  }
}

/**
 * One log line. An entry that cannot be serialized as it is (a record nested deeper than
 * the stack allows, a BigInt) is written with its `record` bounded instead, so writing a
 * reject never aborts the run that is recording it.
 */
function serializeEntry(entry: unknown): string {
  try {
    return JSON.stringify(entry);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    if (entry && typeof entry === "object" && "record" in entry) {
      const { record, ...rest } = entry as { record: unknown };
      return JSON.stringify({ ...(boundedJsonValue(rest) as Record<string, unknown>), record: boundedJsonValue(record), recordTruncated: `the record could not be serialized as it is (${why})` });
    }
    return JSON.stringify({ entry: boundedJsonValue(entry), truncated: `the entry could not be serialized as it is (${why})` });
  }
}
