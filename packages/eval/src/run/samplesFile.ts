import { type FileHandle, open, readFile, truncate } from "node:fs/promises";
import type { SampleRecord } from "../types.js";

/** Key of one sample: (benchmark, item, sampleIndex). */
export function sampleKey(benchmark: string, itemId: string, sampleIndex: number): string {
  return `${benchmark}\u0000${itemId}\u0000${sampleIndex}`;
}

export interface ReadSamplesResult {
  /** One record per (benchmark, item, sampleIndex): when a key appears again, its last record replaces the first in place. */
  samples: SampleRecord[];
  /** Records replaced by a later one of the same key (a regraded sample, or two runs that once wrote the same directory). */
  superseded: number;
  /** Bytes of the file holding complete records; a torn tail (a crash mid-write) lies beyond. */
  validBytes: number;
  /** The last line was cut short and ignored. */
  tornTail: boolean;
}

/**
 * Reads a run's `samples.jsonl`. A last line without its newline or not valid JSON is a write cut short by a crash
 * and is ignored; a malformed line before the end is corruption and throws, naming the line. A key written twice
 * counts once, with its last record, so metrics never count a sample twice.
 */
export async function readSamples(path: string): Promise<ReadSamplesResult> {
  const buf = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined;
    throw e;
  });
  if (!buf) return { samples: [], superseded: 0, validBytes: 0, tornTail: false };
  const samples: SampleRecord[] = [];
  const at = new Map<string, number>();
  let superseded = 0;
  let start = 0;
  let line = 0;
  while (start < buf.length) {
    line++;
    const end = buf.indexOf(0x0a, start);
    const last = end < 0 || end === buf.length - 1;
    const text = buf.subarray(start, end < 0 ? buf.length : end).toString("utf8");
    let record: SampleRecord | undefined;
    try {
      record = text.trim() === "" ? undefined : (JSON.parse(text) as SampleRecord);
    } catch (e) {
      if (end < 0 || last) return { samples, superseded, validBytes: start, tornTail: true };
      throw new Error(`[infialign/eval] samples: ${path} line ${line} is not valid JSON (${(e as Error).message}); the file is corrupt, delete that line or the run directory`, { cause: e });
    }
    if (end < 0) return { samples, superseded, validBytes: start, tornTail: true };
    if (record) {
      if (typeof record.benchmark !== "string" || typeof record.itemId !== "string" || !Number.isInteger(record.sampleIndex)) {
        throw new Error(`[infialign/eval] samples: ${path} line ${line} lacks benchmark/itemId/sampleIndex (fields seen: ${Object.keys(record).join(", ")})`);
      }
      const key = sampleKey(record.benchmark, record.itemId, record.sampleIndex);
      const earlier = at.get(key);
      if (earlier === undefined) {
        at.set(key, samples.length);
        samples.push(record);
      } else {
        samples[earlier] = record;
        superseded++;
      }
    }
    start = end + 1;
  }
  return { samples, superseded, validBytes: start, tornTail: false };
}

/**
 * Append-only `samples.jsonl` with group commit: records appended while a write is in flight are written (and
 * fsynced) together by the next one, so each completion is durable soon after it arrives without one fsync per record.
 */
export class SamplesWriter {
  private queue: string[] = [];
  private writing: Promise<void> = Promise.resolve();
  private failure: unknown;
  /** Write batches issued (each ends in an fsync). */
  batches = 0;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /** Opens `path` for appending after cutting it back to `validBytes` (dropping a torn tail from a crash). */
  static async open(path: string, validBytes: number): Promise<SamplesWriter> {
    await truncate(path, validBytes).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    return new SamplesWriter(path, await open(path, "a"));
  }

  /** Queues a record; resolves once it is on disk. */
  append(record: SampleRecord): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.queue.push(`${JSON.stringify(record)}\n`);
    this.writing = this.writing.then(() => this.flush());
    return this.writing;
  }

  private async flush(): Promise<void> {
    if (this.queue.length === 0) return;
    const chunk = this.queue.join("");
    this.queue = [];
    try {
      await this.handle.appendFile(chunk, "utf8");
      await this.handle.datasync();
      this.batches++;
    } catch (e) {
      this.failure = new Error(`[infialign/eval] samples: cannot append to ${this.path} (${(e as Error).message})`, { cause: e });
      throw this.failure;
    }
  }

  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.handle.close();
  }
}
