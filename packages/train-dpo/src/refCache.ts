// Reference-model log-probs, computed once and kept on disk, so DPO training never holds a second model in memory
// (TRL's `precompute_ref_log_probs`, persisted across runs).
import { createHash } from "node:crypto";
import { type FileHandle, mkdir, open, readFile, stat, truncate } from "node:fs/promises";
import { join } from "node:path";

/** One completion to score under the reference model. */
export interface RefScoreItem {
  /** Prompt token ids (chat template applied), as the trainer feeds them. */
  promptIds: readonly number[];
  /** Completion token ids; one log-prob per id is expected back. */
  completionIds: readonly number[];
}

/**
 * Scores items under the reference model: for each item, log π_ref(token | prefix) of every completion token
 * (e.g. `@infialign/model`'s scoreCompletions). Called only for items not yet on disk.
 */
export type RefScorer = (items: readonly RefScoreItem[]) => Promise<Float64Array[]>;

export interface RefLogpCacheOptions {
  /** Directory of the cache files (`logps.bin`, `index.jsonl`); created if missing. */
  dir: string;
  /** Identifies the reference weights (path, hub id + revision, or checkpoint hash); part of every key. */
  referenceModel: string;
  /** Tokenizer name (`ModelTokenizer.name`); part of every key. */
  tokenizer: string;
  scorer: RefScorer;
  /** Most items handed to one `scorer` call. @default 8 */
  batchSize?: number;
  /** fsync both files after each batch (survives power loss; process crashes are covered without it). @default false */
  fsync?: boolean;
}

export interface RefLogpCacheStats {
  /** Items served from disk. */
  hits: number;
  /** Items scored by the scorer (and then stored). */
  misses: number;
  /** Entries found on disk when the cache was opened. */
  loaded: number;
  /** Bytes of an interrupted write cut off when the cache was opened (0 after a clean shutdown). */
  tornBytes: number;
}

interface IndexEntry {
  key: string;
  /** Offset in `logps.bin`, in bytes. */
  offset: number;
  /** Number of float64 values. */
  length: number;
}

const DATA = "logps.bin";
const INDEX = "index.jsonl";
const F64 = 8;

/**
 * Per-token reference log-probs on disk, keyed by sha256(reference model, tokenizer, prompt ids, completion ids).
 *
 * Layout: `logps.bin` holds the float64 values of every entry back to back (8 bytes per token, exact); `index.jsonl`
 * has one line `{key, offset, length}` per entry, appended only after its values are written. Binary + index rather
 * than JSONL because a 32k-token completion is 256 KiB in binary and about three times that as JSON text, and lookups
 * read one slice instead of parsing the file. A crash can leave a torn index line or values without an index line;
 * on open, the index is read up to its last complete valid line, entries pointing past the end of the data file are
 * dropped, and both files are truncated to what the index covers, so later appends stay aligned.
 */
export class RefLogpCache {
  readonly stats: RefLogpCacheStats = { hits: 0, misses: 0, loaded: 0, tornBytes: 0 };
  private readonly index = new Map<string, IndexEntry>();
  private dataEnd = 0;
  private data: FileHandle | undefined;
  private indexFile: FileHandle | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly batchSize: number;

  private constructor(private readonly options: RefLogpCacheOptions) {
    this.batchSize = options.batchSize ?? 8;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new RangeError(`[infialign/train-dpo] ref-cache: batchSize must be a positive integer, got ${options.batchSize}`);
    }
  }

  /** Opens (or creates) the cache in `options.dir`, repairing a torn tail left by an interrupted run. */
  static async open(options: RefLogpCacheOptions): Promise<RefLogpCache> {
    const cache = new RefLogpCache(options);
    await cache.load();
    return cache;
  }

  /** Cache key of an item under this cache's reference model and tokenizer. */
  keyOf(item: RefScoreItem): string {
    const h = createHash("sha256");
    h.update(`ref-logps/v1\u0000${this.options.referenceModel}\u0000${this.options.tokenizer}\u0000`);
    h.update(idsBytes(item.promptIds));
    h.update("\u0000");
    h.update(idsBytes(item.completionIds));
    return h.digest("hex");
  }

  has(item: RefScoreItem): boolean {
    return this.index.has(this.keyOf(item));
  }

  /** Number of entries on disk. */
  get size(): number {
    return this.index.size;
  }

  /**
   * Per-token reference log-probs of every item, in order: cached ones read from disk, the rest scored in batches of
   * `batchSize` and stored before they are returned.
   */
  async get(items: readonly RefScoreItem[]): Promise<Float64Array[]> {
    const out: Float64Array[] = new Array(items.length);
    const missing: number[] = [];
    const keys = items.map((item) => this.keyOf(item));
    const firstOfKey = new Map<string, number>();
    for (let i = 0; i < items.length; i++) {
      const entry = this.index.get(keys[i]!);
      if (entry) {
        out[i] = await this.read(entry);
        this.stats.hits++;
      } else if (!firstOfKey.has(keys[i]!)) {
        firstOfKey.set(keys[i]!, i);
        missing.push(i);
      }
    }
    for (let start = 0; start < missing.length; start += this.batchSize) {
      const batch = missing.slice(start, start + this.batchSize);
      const scored = await this.options.scorer(batch.map((i) => items[i]!));
      if (!Array.isArray(scored) || scored.length !== batch.length) {
        throw new Error(`[infialign/train-dpo] ref-cache: scorer returned ${Array.isArray(scored) ? scored.length : typeof scored} results for ${batch.length} items (expected one Float64Array per item)`);
      }
      for (let j = 0; j < batch.length; j++) {
        const i = batch[j]!;
        const logps = Float64Array.from(scored[j]!);
        checkLogps(logps, items[i]!, i);
        out[i] = logps;
      }
      await this.append(batch.map((i) => ({ key: keys[i]!, logps: out[i]! })));
      this.stats.misses += batch.length;
    }
    // Duplicates of an item scored in this call share its values.
    for (let i = 0; i < items.length; i++) if (out[i] === undefined) out[i] = out[firstOfKey.get(keys[i]!)!]!;
    return out;
  }

  /** Token-summed reference log-probs (the `refChosenLogps` / `refRejectedLogps` of the DPO losses). */
  async sums(items: readonly RefScoreItem[]): Promise<number[]> {
    return (await this.get(items)).map((lp) => lp.reduce((s, x) => s + x, 0));
  }

  async close(): Promise<void> {
    await this.writing;
    await this.data?.close();
    await this.indexFile?.close();
    this.data = undefined;
    this.indexFile = undefined;
  }

  private async load(): Promise<void> {
    const { dir } = this.options;
    await mkdir(dir, { recursive: true });
    const dataPath = join(dir, DATA);
    const indexPath = join(dir, INDEX);
    const dataSize = await stat(dataPath).then((s) => s.size, () => 0);
    const text = await readFile(indexPath, "utf8").catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return "";
      throw e;
    });
    let goodIndexBytes = 0;
    let pos = 0;
    while (pos < text.length) {
      const nl = text.indexOf("\n", pos);
      if (nl < 0) break;
      const entry = parseEntry(text.slice(pos, nl));
      // Entries are appended in data order; one that does not parse or points past the data ends the valid prefix.
      if (!entry || entry.offset !== this.dataEnd || entry.offset + entry.length * F64 > dataSize) break;
      this.index.set(entry.key, entry);
      this.dataEnd = entry.offset + entry.length * F64;
      pos = nl + 1;
      goodIndexBytes = Buffer.byteLength(text.slice(0, pos));
    }
    const indexSize = Buffer.byteLength(text);
    this.stats.tornBytes = indexSize - goodIndexBytes + (dataSize - this.dataEnd);
    this.stats.loaded = this.index.size;
    if (indexSize > goodIndexBytes) await truncate(indexPath, goodIndexBytes);
    if (dataSize > this.dataEnd) await truncate(dataPath, this.dataEnd);
    this.data = await open(dataPath, "a+");
    this.indexFile = await open(indexPath, "a");
  }

  private async read(entry: IndexEntry): Promise<Float64Array> {
    const buf = Buffer.alloc(entry.length * F64);
    if (entry.length > 0) await this.data!.read(buf, 0, buf.length, entry.offset);
    return new Float64Array(buf.buffer, buf.byteOffset, entry.length).slice();
  }

  private append(entries: Array<{ key: string; logps: Float64Array }>): Promise<void> {
    const run = async () => {
      let bytes = 0;
      for (const e of entries) bytes += e.logps.length * F64;
      const buf = Buffer.alloc(bytes);
      const lines: string[] = [];
      let at = 0;
      const written: IndexEntry[] = [];
      for (const e of entries) {
        Buffer.from(e.logps.buffer, e.logps.byteOffset, e.logps.byteLength).copy(buf, at);
        const entry = { key: e.key, offset: this.dataEnd + at, length: e.logps.length };
        written.push(entry);
        lines.push(`${JSON.stringify(entry)}\n`);
        at += e.logps.byteLength;
      }
      // Values first, index lines after: an index line never points at values that are not on disk.
      await this.data!.write(buf, 0, buf.length);
      if (this.options.fsync) await this.data!.datasync();
      await this.indexFile!.write(lines.join(""));
      if (this.options.fsync) await this.indexFile!.datasync();
      this.dataEnd += bytes;
      for (const entry of written) this.index.set(entry.key, entry);
    };
    this.writing = this.writing.then(run);
    return this.writing;
  }
}

function idsBytes(ids: readonly number[]): Uint8Array {
  const a = Int32Array.from(ids);
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function parseEntry(line: string): IndexEntry | undefined {
  try {
    const v = JSON.parse(line) as Partial<IndexEntry>;
    if (typeof v.key === "string" && Number.isInteger(v.offset) && Number.isInteger(v.length) && v.length! >= 0) return v as IndexEntry;
  } catch {
    // A torn line: the end of the valid prefix.
  }
  return undefined;
}

function checkLogps(logps: Float64Array, item: RefScoreItem, i: number): void {
  if (logps.length !== item.completionIds.length) {
    throw new Error(`[infialign/train-dpo] ref-cache: scorer returned ${logps.length} log-probs for item ${i}, which has ${item.completionIds.length} completion tokens (expected one per token)`);
  }
  for (let t = 0; t < logps.length; t++) {
    const v = logps[t]!;
    // A log-prob is ≤ 0; allow float rounding just above zero.
    if (!Number.isFinite(v) || v > 1e-4) {
      throw new Error(`[infialign/train-dpo] ref-cache: scorer returned log-prob ${v} for item ${i} token ${t}; expected a finite value ≤ 0 (log π_ref, not a logit or probability)`);
    }
  }
}
