import { createHash, randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Embedder, embedError } from "./embedder.js";

export interface CachedEmbedderOptions {
  /** Cache root; each inner embedder id gets its own sub-folder. */
  dir: string;
}

/** Hits and misses since construction, counted per text. */
export interface EmbeddingCacheStats {
  hits: number;
  misses: number;
}

const MAGIC = "IAEMB001";
const HEADER_BYTES = 12; // magic + uint32 dim
const KEY_BYTES = 32; // sha256 of the text

/**
 * On-disk embedding cache keyed by `inner.id` + sha256(text): only misses reach the inner
 * embedder, in one batched call. Each process appends fixed-size records (key, float32
 * vector) to its own segment file, so concurrent runs never interleave writes; on open
 * every segment is read and a torn last record (crash mid-write) is ignored.
 */
export class CachedEmbedder implements Embedder {
  readonly dir: string;
  readonly stats: EmbeddingCacheStats = { hits: 0, misses: 0 };
  private entries: Map<string, Float32Array> | undefined;
  private loading: Promise<void> | undefined;
  private knownDim: number | undefined;
  private segment: FileHandle | undefined;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    readonly inner: Embedder,
    options: CachedEmbedderOptions,
  ) {
    this.dir = join(options.dir, createHash("sha256").update(inner.id).digest("hex").slice(0, 24));
  }

  get id(): string {
    return this.inner.id;
  }

  /** The inner embedder's dim, else the one stored in the cache (0 while unknown). */
  get dim(): number {
    return this.inner.dim || this.knownDim || 0;
  }

  /** Entries on disk (after the first `embed`). */
  get size(): number {
    return this.entries?.size ?? 0;
  }

  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Float32Array> {
    await this.load();
    const entries = this.entries as Map<string, Float32Array>;
    const keys = texts.map((t) => createHash("sha256").update(t).digest("hex"));
    const missIndex = new Map<string, number>();
    const missTexts: string[] = [];
    keys.forEach((key, i) => {
      if (entries.has(key)) this.stats.hits++;
      else {
        this.stats.misses++;
        if (!missIndex.has(key)) {
          missIndex.set(key, missTexts.length);
          missTexts.push(texts[i] as string);
        }
      }
    });
    let fresh: Float32Array | undefined;
    if (missTexts.length > 0) {
      fresh = await this.inner.embed(missTexts, options);
      const dim = fresh.length / missTexts.length;
      // Nothing to store when the inner embedder could not tell its dim (all texts empty, dim unknown).
      if (dim === 0) return new Float32Array(texts.length * this.dim);
      if (this.knownDim !== undefined && dim !== this.knownDim) {
        throw embedError("embed-cache", `inner embedder "${this.inner.id}" returned ${dim}-dim vectors but the cache at ${this.dir} holds ${this.knownDim}-dim ones. Delete the folder or use another dir.`);
      }
      this.knownDim = dim;
      await this.append([...missIndex.keys()], fresh, dim);
    }
    const dim = this.dim;
    const out = new Float32Array(texts.length * dim);
    keys.forEach((key, i) => {
      const m = missIndex.get(key);
      out.set(m !== undefined ? (fresh as Float32Array).subarray(m * dim, (m + 1) * dim) : (entries.get(key) as Float32Array), i * dim);
    });
    return out;
  }

  /** Closes this process's segment file. */
  async close(): Promise<void> {
    await this.writes;
    await this.segment?.close();
    this.segment = undefined;
  }

  private load(): Promise<void> {
    this.loading ??= this.readSegments();
    return this.loading;
  }

  private async readSegments(): Promise<void> {
    const entries = new Map<string, Float32Array>();
    await mkdir(this.dir, { recursive: true });
    const idFile = join(this.dir, "id.txt");
    const storedId = await readFile(idFile, "utf8").catch(() => undefined);
    if (storedId === undefined) await writeFile(idFile, this.inner.id);
    else if (storedId !== this.inner.id) throw embedError("embed-cache", `${this.dir} belongs to embedder "${storedId}", not "${this.inner.id}" (hash collision or a copied folder). Delete it.`);
    const names = (await readdir(this.dir)).filter((n) => n.endsWith(".seg")).sort();
    for (const name of names) {
      const buf = await readFile(join(this.dir, name));
      if (buf.length < HEADER_BYTES || buf.toString("latin1", 0, 8) !== MAGIC) continue; // torn or foreign header
      const dim = buf.readUInt32LE(8);
      if (this.knownDim !== undefined && dim !== this.knownDim) throw embedError("embed-cache", `segment ${name} in ${this.dir} has dim ${dim}, others ${this.knownDim}. Delete the folder.`);
      this.knownDim = dim;
      const record = KEY_BYTES + dim * 4;
      // Whole records only: a partial tail is the write a crash cut short.
      for (let off = HEADER_BYTES; off + record <= buf.length; off += record) {
        const key = buf.toString("hex", off, off + KEY_BYTES);
        const vec = new Float32Array(dim);
        new Uint8Array(vec.buffer).set(buf.subarray(off + KEY_BYTES, off + record));
        entries.set(key, vec);
      }
    }
    this.entries = entries;
  }

  private append(keys: string[], vectors: Float32Array, dim: number): Promise<void> {
    const entries = this.entries as Map<string, Float32Array>;
    const record = KEY_BYTES + dim * 4;
    const buf = Buffer.alloc(keys.length * record);
    keys.forEach((key, i) => {
      const vec = vectors.slice(i * dim, (i + 1) * dim);
      entries.set(key, vec);
      buf.write(key, i * record, "hex");
      Buffer.from(vec.buffer, vec.byteOffset, vec.byteLength).copy(buf, i * record + KEY_BYTES);
    });
    // Writes are chained so records from overlapping embed() calls never interleave.
    this.writes = this.writes.then(async () => {
      if (!this.segment) {
        const name = `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString("hex")}.seg`;
        this.segment = await open(join(this.dir, name), "a");
        const header = Buffer.alloc(HEADER_BYTES);
        header.write(MAGIC, 0, "latin1");
        header.writeUInt32LE(dim, 8);
        await this.segment.write(header);
      }
      await this.segment.write(buf);
    });
    return this.writes;
  }
}
