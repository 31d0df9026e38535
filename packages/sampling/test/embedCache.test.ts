import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, stat, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CachedEmbedder, type Embedder, HashingEmbedder } from "../src/embed/index.js";

/** Counts the texts that reach the wrapped embedder. */
class CountingEmbedder implements Embedder {
  readonly calls: string[][] = [];
  constructor(readonly inner: Embedder = new HashingEmbedder({ dim: 16 })) {}
  get id() {
    return this.inner.id;
  }
  get dim() {
    return this.inner.dim;
  }
  embed(texts: readonly string[]) {
    this.calls.push([...texts]);
    return this.inner.embed(texts);
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "embed-cache-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function segments(): Promise<string[]> {
  const [sub] = await readdir(dir);
  const files = await readdir(join(dir, sub as string));
  return files.filter((f) => f.endsWith(".seg")).map((f) => join(dir, sub as string, f));
}

describe("CachedEmbedder", () => {
  it("sends only misses, once per distinct text, and returns what the inner embedder would", async () => {
    const inner = new CountingEmbedder();
    const cached = new CachedEmbedder(inner, { dir });
    const first = await cached.embed(["a b", "c d", "a b"]);
    expect(inner.calls).toEqual([["a b", "c d"]]);
    expect(cached.stats).toEqual({ hits: 0, misses: 3 });
    const second = await cached.embed(["c d", "e f", "a b"]);
    expect(inner.calls[1]).toEqual(["e f"]);
    expect(cached.stats).toEqual({ hits: 2, misses: 4 });
    const direct = await inner.inner.embed(["a b", "c d", "e f"]);
    expect(Array.from(first.subarray(0, 16))).toEqual(Array.from(direct.subarray(0, 16)));
    expect(Array.from(second.subarray(0, 16))).toEqual(Array.from(direct.subarray(16, 32)));
    expect(Array.from(second.subarray(16, 32))).toEqual(Array.from(direct.subarray(32, 48)));
    expect(cached.id).toBe(inner.id);
    await cached.close();
  });

  it("serves a later run (new instance) from disk, and keeps writers in separate segments", async () => {
    const runA = new CachedEmbedder(new CountingEmbedder(), { dir });
    const runB = new CachedEmbedder(new CountingEmbedder(), { dir });
    await runA.embed(["x1", "x2"]);
    await runB.embed(["y1"]);
    await Promise.all([runA.close(), runB.close()]);
    expect(await segments()).toHaveLength(2);
    const inner = new CountingEmbedder();
    const runC = new CachedEmbedder(inner, { dir });
    await runC.embed(["x1", "y1", "x2"]);
    expect(inner.calls).toEqual([]);
    expect(runC.stats).toEqual({ hits: 3, misses: 0 });
    expect(runC.size).toBe(3);
    await runC.close();
  });

  it("is shared by processes running at the same time", async () => {
    const entry = fileURLToPath(new URL("../src/embed/index.ts", import.meta.url));
    const script = `import { CachedEmbedder, HashingEmbedder } from ${JSON.stringify(entry)};
const c = new CachedEmbedder(new HashingEmbedder({ dim: 16 }), { dir: process.argv[1] });
const texts = JSON.parse(process.argv[2]);
for (const t of texts) await c.embed([t]);
await c.close();`;
    const run = (texts: string[]) => promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, dir, JSON.stringify(texts)]);
    const a = Array.from({ length: 40 }, (_, i) => `shared ${i % 20} a${i}`);
    const b = Array.from({ length: 40 }, (_, i) => `shared ${i % 20} b${i}`);
    await Promise.all([run(a), run(b)]);
    const inner = new CountingEmbedder();
    const reader = new CachedEmbedder(inner, { dir });
    const v = await reader.embed([...a, ...b]);
    expect(inner.calls).toEqual([]);
    expect(Array.from(v)).toEqual(Array.from(await inner.inner.embed([...a, ...b])));
    await reader.close();
  });

  it("ignores a torn last record after a crash", async () => {
    const run = new CachedEmbedder(new CountingEmbedder(), { dir });
    await run.embed(["kept"]);
    await run.embed(["torn"]);
    await run.close();
    const [seg] = await segments();
    const { size } = await stat(seg as string);
    await truncate(seg as string, size - 5);
    const inner = new CountingEmbedder();
    const reopened = new CachedEmbedder(inner, { dir });
    const v = await reopened.embed(["kept", "torn"]);
    expect(inner.calls).toEqual([["torn"]]);
    expect(v).toHaveLength(32);
    await reopened.close();
  });

  it("keeps embedders with different ids apart", async () => {
    const a = new CountingEmbedder(new HashingEmbedder({ dim: 16, seed: 1 }));
    const b = new CountingEmbedder(new HashingEmbedder({ dim: 16, seed: 2 }));
    await new CachedEmbedder(a, { dir }).embed(["same"]);
    const cb = new CachedEmbedder(b, { dir });
    await cb.embed(["same"]);
    expect(b.calls).toEqual([["same"]]);
    await cb.close();
  });
});

describe("CachedEmbedder with an embedder whose dim is learned", () => {
  it("stores nothing for a call of only empty texts before the dim is known", async () => {
    const dir2 = await mkdtemp(join(tmpdir(), "embed-cache-empty-"));
    const zeroDim: Embedder = { id: "lazy", dim: 0, embed: async () => new Float32Array(0) };
    const cached = new CachedEmbedder(zeroDim, { dir: dir2 });
    expect(await cached.embed(["", ""])).toHaveLength(0);
    expect(cached.size).toBe(0);
    await cached.close();
    await rm(dir2, { recursive: true, force: true });
  });
});
