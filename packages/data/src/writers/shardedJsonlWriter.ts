import { createHash, type Hash } from "node:crypto";
import { type FileHandle, mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createGzip, type Gzip } from "node:zlib";
import { DataError } from "../errors.js";
import { jsonStringify } from "../runtime/canonicalJson.js";
import { syncDir, tempPathFor } from "./atomic.js";

/** A complete shard file. */
export interface ShardInfo {
  /** Shard number; the file name carries it padded to 5 digits. */
  index: number;
  /** File name (no directory), e.g. `part-00003.jsonl`. */
  file: string;
  /** Full path of the file. */
  path: string;
  records: number;
  /** Size of the file on disk (compressed size for `.gz`). */
  bytes: number;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
}

export interface ShardedJsonlWriterOptions {
  /** Directory of the shards; created when missing. */
  dir: string;
  /** File name prefix. @default "part" */
  prefix?: string;
  /** Records per shard. @default 100_000 */
  maxRecords?: number;
  /** Uncompressed bytes per shard (a single larger record still gets a shard of its own). @default 256 MiB */
  maxBytes?: number;
  /** Index of the first shard, to continue after the shards of an interrupted run. @default 0 */
  startIndex?: number;
  /** gzip the shards (`.jsonl.gz`). @default false */
  gzip?: boolean;
  /**
   * fsync each shard (and its directory) before the rename. The rename alone makes shards
   * whole after a process crash; fsync adds durability across power loss or an OS crash,
   * at the cost of waiting for the disk at every shard. @default false
   */
  fsync?: boolean;
  /** Awaited after each shard is renamed into place, e.g. to write a checkpoint. */
  onShardClosed?: (info: ShardInfo) => void | Promise<void>;
}

export const DEFAULT_SHARD_MAX_RECORDS = 100_000;
export const DEFAULT_SHARD_MAX_BYTES = 256 * 1024 * 1024;

/** Lines are gathered into a buffer this large and written in one call. */
const BATCH_BYTES = 1 << 20;

const RESOLVED = Promise.resolve();
const EMPTY = Buffer.alloc(0);
const NEWLINE = Buffer.from("\n");

/**
 * Where the last line any writer encoded sits: `size` bytes (newline included) at `start` of `buffer`, a batch of
 * `writer`, valid while that writer's `epoch` is unchanged (its next write may overwrite them). One slot, like the
 * pipeline's serialization reuse: stages pass each record down the whole chain before the next one.
 */
const lastEncoded: { line: string; writer: ShardedJsonlWriter | undefined; epoch: number; buffer: Buffer; start: number; size: number } = {
  line: "",
  writer: undefined,
  epoch: 0,
  buffer: EMPTY,
  start: 0,
  size: 0,
};

export function shardFileName(prefix: string, index: number, extension: string): string {
  return `${prefix}-${String(index).padStart(5, "0")}${extension}`;
}

/**
 * Writes JSON Lines into numbered shards. A shard is written to a hidden temp file
 * and renamed into place only once complete, so after a crash every visible
 * `part-*.jsonl` is whole. Await every `write`/`writeLine` before the next one.
 */
export class ShardedJsonlWriter {
  private readonly dir: string;
  private readonly prefix: string;
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly gzip: boolean;
  private readonly fsync: boolean;
  private readonly onShardClosed: ShardedJsonlWriterOptions["onShardClosed"];

  private readonly done: ShardInfo[] = [];
  private index: number;
  private batch = Buffer.allocUnsafe(BATCH_BYTES);
  // Double buffering: one batch is written while the next fills, so encoding overlaps disk I/O.
  private spare = Buffer.allocUnsafe(BATCH_BYTES);
  private inFlight: Promise<void> | undefined;
  private used = 0;
  private records = 0;
  private shardBytes = 0;
  private file: ShardFile | undefined;
  private dirReady = false;
  private busy = false;
  private closed = false;
  /** Counts writes; see `lastEncoded`. */
  private epoch = 0;

  constructor(opts: ShardedJsonlWriterOptions) {
    this.dir = opts.dir;
    this.prefix = opts.prefix ?? "part";
    this.maxRecords = opts.maxRecords ?? DEFAULT_SHARD_MAX_RECORDS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_SHARD_MAX_BYTES;
    this.gzip = opts.gzip ?? false;
    this.fsync = opts.fsync ?? false;
    this.onShardClosed = opts.onShardClosed;
    this.index = opts.startIndex ?? 0;
    if (!(this.maxRecords >= 1) || !(this.maxBytes >= 1)) {
      throw new DataError("jsonl-writer", `maxRecords (${this.maxRecords}) and maxBytes (${this.maxBytes}) must be at least 1. Pass positive limits.`);
    }
  }

  /** Shards completed so far. */
  get shards(): ShardInfo[] {
    return [...this.done];
  }

  write(record: unknown): Promise<void> {
    const line = jsonStringify(record);
    if (line === undefined) return Promise.reject(new DataError("jsonl-writer", `cannot write ${typeof record} as JSON. Write objects, arrays or primitives.`));
    return this.writeLine(line);
  }

  /**
   * Appends one JSON text; it must not contain a raw newline (JSON.stringify output never does). A line that fits
   * the batch in memory is written without an async step (most are), so awaiting it costs one microtask.
   */
  writeLine(jsonLine: string): Promise<void> {
    const refused = this.refusal();
    if (refused) return refused;
    if (jsonLine.length * 3 + 1 > this.batch.length - this.used) return this.guard(() => this.writeLarge(Buffer.from(`${jsonLine}\n`, "utf8")));
    // Fast path: encode in place; the byte count decides the shard before the bytes are kept.
    return this.placed(this.encodeAt(jsonLine, this.used));
  }

  /**
   * `writeLine` for a line already in UTF-8 (one JSON text, no newline), e.g. a line of a shard this writer's kind
   * wrote: its bytes are copied, with no decoding and encoding again. Shards are cut as `writeLine` cuts them.
   */
  writeLineBytes(line: Uint8Array): Promise<void> {
    const refused = this.refusal();
    if (refused) return refused;
    if (line.length + 1 > this.batch.length - this.used) return this.guard(() => this.writeLarge(Buffer.concat([line, NEWLINE])));
    this.batch.set(line, this.used);
    this.batch[this.used + line.length] = 0x0a;
    return this.placed(line.length + 1);
  }

  /** Why a write cannot start now, as a rejected promise; undefined when it can. */
  private refusal(): Promise<void> | undefined {
    if (this.closed) return Promise.reject(new DataError("jsonl-writer", "write after close(). Create a new writer."));
    if (this.busy) return Promise.reject(new DataError("jsonl-writer", "write while a previous write is pending. Await each write before the next."));
    // Every write may overwrite bytes of a batch: the line `lastEncoded` points to is valid until this writer's next write.
    this.epoch++;
    return undefined;
  }

  /** Keeps the line of `size` bytes just placed at `used` in the batch, in this shard or the next one. */
  private placed(size: number): Promise<void> {
    if (this.records > 0 && this.shardBytes + size > this.maxBytes) return this.guard(() => this.startShardWith(size));
    this.used += size;
    this.records++;
    this.shardBytes += size;
    if (this.records >= this.maxRecords || this.shardBytes >= this.maxBytes) return this.guard(() => this.finishShard());
    return RESOLVED;
  }

  /** Completes the last partial shard and returns every shard this writer produced. */
  async close(): Promise<ShardInfo[]> {
    if (!this.closed) {
      if (this.busy) throw new DataError("jsonl-writer", "close() while a write is pending. Await each write before closing.");
      this.closed = true;
      if (this.records > 0) await this.finishShard();
      this.forgetEncoded();
    }
    return this.shards;
  }

  /** Drops the shard in progress (its temp file is removed); complete shards stay. */
  async abort(): Promise<void> {
    this.closed = true;
    this.forgetEncoded();
    this.used = 0;
    this.records = 0;
    this.shardBytes = 0;
    await this.settle().catch(() => undefined);
    const file = this.file;
    this.file = undefined;
    await file?.discard();
  }

  /**
   * Writes `jsonLine` and a newline at `at` in the batch (which has room for its worst case) and returns the byte
   * count. A pass-through stage writes the line the stage before it just wrote: its bytes are copied, not encoded
   * again, while they are still in that writer's batch.
   */
  private encodeAt(jsonLine: string, at: number): number {
    const last = lastEncoded;
    let size: number;
    if (last.line === jsonLine && last.writer !== undefined && last.writer.epoch === last.epoch) {
      size = last.buffer.copy(this.batch, at, last.start, last.start + last.size);
    } else {
      size = this.batch.write(jsonLine, at, "utf8") + 1;
      this.batch[at + size - 1] = 0x0a;
    }
    last.line = jsonLine;
    last.writer = this;
    last.epoch = this.epoch;
    last.buffer = this.batch;
    last.start = at;
    last.size = size;
    return size;
  }

  /** Drops `lastEncoded`'s hold on this writer, so a closed writer's batches can be collected. */
  private forgetEncoded(): void {
    if (lastEncoded.writer !== this) return;
    lastEncoded.writer = undefined;
    lastEncoded.buffer = EMPTY;
  }

  /** The line just encoded at `used` belongs to the next shard: close this one and move the line's bytes over. */
  private async startShardWith(size: number): Promise<void> {
    const keep = this.used;
    const encodedIn = this.batch;
    await this.finishShard();
    // finishShard swapped batches: the line's bytes sit after `keep` in the old one.
    encodedIn.copy(this.batch, 0, keep, keep + size);
    this.forgetEncoded();
    this.used = size;
    this.records++;
    this.shardBytes += size;
    if (this.records >= this.maxRecords || this.shardBytes >= this.maxBytes) await this.finishShard();
  }

  /** A line (newline included) larger than the room left in the batch. */
  private async writeLarge(bytes: Buffer): Promise<void> {
    await this.flushBatch();
    if (this.records > 0 && this.shardBytes + bytes.length > this.maxBytes) await this.finishShard();
    if (bytes.length <= this.batch.length) {
      bytes.copy(this.batch, 0);
      this.used = bytes.length;
    } else {
      const file = await this.openFile();
      await this.settle();
      await file.write(bytes);
    }
    this.records++;
    this.shardBytes += bytes.length;
    if (this.records >= this.maxRecords || this.shardBytes >= this.maxBytes) await this.finishShard();
  }

  private async guard(work: () => Promise<void>): Promise<void> {
    this.busy = true;
    try {
      await work();
    } finally {
      this.busy = false;
    }
  }

  private async openFile(): Promise<ShardFile> {
    if (this.file) return this.file;
    if (!this.dirReady) {
      await mkdir(this.dir, { recursive: true });
      this.dirReady = true;
    }
    const name = shardFileName(this.prefix, this.index, this.gzip ? ".jsonl.gz" : ".jsonl");
    this.file = await ShardFile.create(join(this.dir, name), this.gzip, this.fsync);
    return this.file;
  }

  private async flushBatch(): Promise<void> {
    if (this.used === 0) return;
    const file = await this.openFile();
    await this.settle();
    this.inFlight = file.write(this.batch.subarray(0, this.used));
    [this.batch, this.spare] = [this.spare, this.batch];
    this.used = 0;
  }

  /** Waits for the batch being written, if any. */
  private async settle(): Promise<void> {
    const pending = this.inFlight;
    this.inFlight = undefined;
    await pending;
  }

  private async finishShard(): Promise<void> {
    await this.flushBatch();
    await this.settle();
    const file = this.file;
    if (!file) return;
    this.file = undefined;
    const { bytes, sha256 } = await file.commit();
    const info: ShardInfo = { index: this.index, file: file.name, path: file.path, records: this.records, bytes, sha256 };
    this.done.push(info);
    this.index++;
    this.records = 0;
    this.shardBytes = 0;
    await this.onShardClosed?.(info);
  }
}

/** One shard being written: temp file, running sha256 over the bytes on disk, optional gzip. */
class ShardFile {
  private readonly hash: Hash = createHash("sha256");
  private bytes = 0;
  private gzipOut: Buffer[] = [];

  private constructor(
    readonly path: string,
    readonly name: string,
    private readonly temp: string,
    private readonly handle: FileHandle,
    private readonly gzip: Gzip | undefined,
    private readonly fsync: boolean,
  ) {
    gzip?.on("data", (chunk: Buffer) => this.gzipOut.push(chunk));
  }

  static async create(path: string, gzip: boolean, fsync: boolean): Promise<ShardFile> {
    const temp = tempPathFor(path);
    const handle = await open(temp, "w");
    return new ShardFile(path, basename(path), temp, handle, gzip ? createGzip() : undefined, fsync);
  }

  async write(data: Buffer): Promise<void> {
    if (!this.gzip) return this.emit(data);
    const gzip = this.gzip;
    await new Promise<void>((resolve, reject) => gzip.write(data, (error) => (error ? reject(error) : resolve())));
    await this.drainGzip();
  }

  /** Writes the rest, syncs, renames into place; returns size and hash of the file. */
  async commit(): Promise<{ bytes: number; sha256: string }> {
    try {
      if (this.gzip) {
        const gzip = this.gzip;
        await new Promise<void>((resolve, reject) => {
          gzip.once("end", resolve);
          gzip.once("error", reject);
          gzip.end();
        });
        await this.drainGzip();
      }
      if (this.fsync) await this.handle.sync();
      await this.handle.close();
      await rename(this.temp, this.path);
    } catch (error) {
      await this.discard();
      throw error;
    }
    if (this.fsync) await syncDir(dirname(this.path));
    return { bytes: this.bytes, sha256: this.hash.digest("hex") };
  }

  async discard(): Promise<void> {
    this.gzip?.destroy();
    await this.handle.close().catch(() => undefined);
    await rm(this.temp, { force: true });
  }

  private async drainGzip(): Promise<void> {
    while (this.gzipOut.length > 0) {
      const chunks = this.gzipOut;
      this.gzipOut = [];
      await this.emit(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    }
  }

  private async emit(data: Buffer): Promise<void> {
    this.hash.update(data);
    this.bytes += data.length;
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done);
      done += bytesWritten;
    }
  }
}
