import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataError } from "../src/errors.js";
import { readJsonl, readParquet } from "../src/readers/index.js";
import type { RawRecord } from "../src/runtime/types.js";
import { makeSample, type Sample } from "../src/schema/sample.js";
import { ParquetShardWriter, type ShardInfo, ShardedJsonlWriter, tempPathFor, writeFileAtomic, writeParquet } from "../src/writers/index.js";

let tmp: string;
let n = 0;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "infialign-writers-"));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function freshDir(): string {
  return join(tmp, `run-${n++}`);
}

async function collect(source: AsyncIterable<RawRecord>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const r of source) {
    if (!r.ok) throw new Error(`unexpected ${r.code}: ${r.message}`);
    out.push(r.value);
  }
  return out;
}

async function readShards(shards: ShardInfo[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const s of shards) out.push(...(await collect(readJsonl(s.path))));
  return out;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("writeFileAtomic", () => {
  it("replaces the file in one step and leaves no temp file", async () => {
    const dir = freshDir();
    const path = join(dir, "manifest.json");
    await expect(writeFileAtomic(path, "x")).rejects.toThrow();
    mkdirSync(dir);
    await writeFileAtomic(path, "first");
    await writeFileAtomic(path, new Uint8Array([0x73, 0x65, 0x63]));
    expect(readFileSync(path, "utf8")).toBe("sec");
    expect(readdirSync(dir)).toEqual(["manifest.json"]);
    const temp = tempPathFor(path);
    expect(temp.startsWith(join(dir, ".manifest.json."))).toBe(true);
    expect(temp).not.toBe(tempPathFor(path));
  });
});

describe("ShardedJsonlWriter", () => {
  it("cuts shards by record count, names them, and reads back in order", async () => {
    const dir = freshDir();
    const closed: ShardInfo[] = [];
    const writer = new ShardedJsonlWriter({
      dir,
      maxRecords: 10,
      onShardClosed: (info) => {
        // Called after the rename: the file is complete and in place.
        expect(readFileSync(info.path).length).toBe(info.bytes);
        closed.push(info);
      },
    });
    const records = Array.from({ length: 25 }, (_, i) => ({ i, text: `record ${i} ✓` }));
    for (const r of records) await writer.write(r);
    expect(closed.map((s) => s.records)).toEqual([10, 10]);
    const shards = await writer.close();
    expect(shards.map((s) => [s.index, s.file, s.records])).toEqual([
      [0, "part-00000.jsonl", 10],
      [1, "part-00001.jsonl", 10],
      [2, "part-00002.jsonl", 5],
    ]);
    expect(closed).toEqual(shards);
    expect(writer.shards).toEqual(shards);
    expect(readdirSync(dir).sort()).toEqual(["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]);
    expect(await readShards(shards)).toEqual(records);
    for (const s of shards) {
      const bytes = readFileSync(s.path);
      expect(s.bytes).toBe(bytes.length);
      expect(s.sha256).toBe(sha256(bytes));
    }
  });

  it("cuts shards by bytes: no shard over maxBytes unless one record is larger", async () => {
    const dir = freshDir();
    const writer = new ShardedJsonlWriter({ dir, maxBytes: 100 });
    const lines = ["a".repeat(38), "b".repeat(38), "c".repeat(38), "d".repeat(150), "é".repeat(20), "f"].map((s) => JSON.stringify({ s }));
    for (const line of lines) await writer.writeLine(line);
    const shards = await writer.close();
    // 47-byte lines: two fit in 100 bytes; the 159-byte line gets a shard alone; "é" is 2 bytes in UTF-8.
    expect(shards.map((s) => [s.records, s.bytes])).toEqual([
      [2, 94],
      [1, 47],
      [1, 159],
      [2, 49 + 10],
    ]);
    expect((await readShards(shards)).map((r) => JSON.stringify(r))).toEqual(lines);
  });

  it("never shows a partial part file: the shard in progress is a hidden temp file", async () => {
    const dir = freshDir();
    const writer = new ShardedJsonlWriter({ dir, maxRecords: 1000 });
    // Over 1 MiB so the batch is flushed to disk before the shard is complete.
    for (let i = 0; i < 300; i++) await writer.write({ i, pad: "x".repeat(5000) });
    const during = readdirSync(dir);
    expect(during.filter((f) => f.startsWith("part-"))).toEqual([]);
    expect(during).toHaveLength(1);
    expect(during[0]).toMatch(/^\.part-00000\.jsonl\..*\.tmp$/);
    const shards = await writer.close();
    expect(readdirSync(dir)).toEqual(["part-00000.jsonl"]);
    expect(shards[0]?.records).toBe(300);
  });

  it("abort() removes the shard in progress and keeps complete shards", async () => {
    const dir = freshDir();
    const writer = new ShardedJsonlWriter({ dir, maxRecords: 2 });
    for (let i = 0; i < 3; i++) await writer.write({ i, pad: "y".repeat(600_000) });
    await writer.abort();
    expect(readdirSync(dir)).toEqual(["part-00000.jsonl"]);
  });

  it("writes no empty shard, continues from startIndex, and returns [] without records", async () => {
    const dir = freshDir();
    const empty = new ShardedJsonlWriter({ dir });
    expect(await empty.close()).toEqual([]);
    expect(existsSync(dir)).toBe(false);

    const writer = new ShardedJsonlWriter({ dir, maxRecords: 2, startIndex: 7, prefix: "out" });
    for (let i = 0; i < 4; i++) await writer.write(i);
    const shards = await writer.close();
    expect(shards.map((s) => s.file)).toEqual(["out-00007.jsonl", "out-00008.jsonl"]);
    expect(readdirSync(dir).sort()).toEqual(["out-00007.jsonl", "out-00008.jsonl"]);
    await expect(writer.write(5)).rejects.toBeInstanceOf(DataError);
    expect(await writer.close()).toEqual(shards);
  });

  it("writes gzip shards whose hash and size describe the bytes on disk", async () => {
    const dir = freshDir();
    const writer = new ShardedJsonlWriter({ dir, gzip: true, maxRecords: 3000 });
    const records = Array.from({ length: 5000 }, (_, i) => ({ i, text: `row ${i}`.repeat(30) }));
    for (const r of records) await writer.write(r);
    const shards = await writer.close();
    expect(shards.map((s) => s.file)).toEqual(["part-00000.jsonl.gz", "part-00001.jsonl.gz"]);
    for (const s of shards) {
      const bytes = readFileSync(s.path);
      expect([s.bytes, s.sha256]).toEqual([bytes.length, sha256(bytes)]);
      expect(gunzipSync(bytes).toString("utf8").split("\n")).toHaveLength(s.records + 1);
    }
    expect(await readShards(shards)).toEqual(records);
  });

  it("writes lines larger than its batch buffer", async () => {
    const dir = freshDir();
    const writer = new ShardedJsonlWriter({ dir });
    const records = [{ a: 1 }, { big: "q".repeat(3 * 1024 * 1024) }, { a: 3 }];
    for (const r of records) await writer.write(r);
    const shards = await writer.close();
    expect(await readShards(shards)).toEqual(records);
  });

  it("property: any JSON values written and read back are equal", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.jsonValue(), { maxLength: 30 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 400 }), async (items, maxRecords, maxBytes) => {
        const dir = freshDir();
        const writer = new ShardedJsonlWriter({ dir, maxRecords, maxBytes });
        for (const item of items) await writer.write(item);
        const shards = await writer.close();
        expect(await readShards(shards)).toEqual(items.map((v) => JSON.parse(JSON.stringify(v))));
        expect(shards.reduce((sum, s) => sum + s.records, 0)).toBe(items.length);
        for (const s of shards) expect(s.records <= maxRecords && (s.records === 1 || s.bytes <= maxBytes)).toBe(true);
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 60 },
    );
  });
});

function sampleFixtures(): Sample[] {
  return [
    makeSample({
      source: "math",
      domain: "algebra",
      prompt: "Solve $x^2 = 4$ — für alle x ∈ ℝ 🚀",
      response: "<think>x = ±2</think> \\boxed{\\pm 2}",
      reasoning: "x = ±2",
      answer: "\\pm 2",
      gold: "±2",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Solve $x^2 = 4$" },
      ],
      meta: { level: 3, tags: ["a", "b"], origin: { file: "x.jsonl", line: 7 }, scores: { q: 0.5 }, verdicts: { ok: { by: ["m"], n: null } } },
      lineage: ["normalize@1", "dedup@1"],
    }),
    makeSample({ source: "gsm8k", prompt: "2+2?" }),
    makeSample({ source: "pairs", prompt: "p", response: "good", rejected: "bad", system: "", meta: { tokens: { tokenizer: "qwen", prompt: 3, total: 3 } } }),
  ];
}

describe("Parquet writer", () => {
  it("round-trips Samples exactly: unicode, nested meta, missing optional fields", async () => {
    const samples = sampleFixtures();
    const path = join(tmp, "samples.parquet");
    const { bytes, sha256: hash } = await writeParquet(path, samples);
    const file = readFileSync(path);
    expect([bytes, hash]).toEqual([file.length, sha256(file)]);
    const back = await collect(readParquet(path));
    expect(back).toEqual(samples);
    expect(Object.keys(back[1] as object).sort()).toEqual(["id", "lineage", "meta", "prompt", "source"]);
  });

  it("writes several row groups and reads them in order with row locations", async () => {
    const rows = Array.from({ length: 2500 }, (_, i) => ({ i, s: `v${i}`, f: i / 3, flag: i % 2 === 0, tags: [i] }));
    const path = join(tmp, "groups.parquet");
    await writeParquet(path, rows, { rowGroupSize: 1000 });
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path));
    expect(metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([1000, 1000, 500]);
    const locs: number[] = [];
    const values: unknown[] = [];
    for await (const r of readParquet(path)) {
      if (!r.ok) throw new Error(r.message);
      locs.push(r.loc.row!);
      values.push(r.value);
    }
    expect(values).toEqual(rows);
    expect(locs).toEqual(rows.map((_, i) => i));
  });

  it("keeps mixed-type columns, explicit nulls and large integers", async () => {
    const rows = [
      { v: 1, n: null, big: 2n ** 60n, d: 1 },
      { v: "one", n: 2, big: 5n, d: 1.5 },
      { v: [1], n: { a: null }, d: -0 },
    ];
    const path = join(tmp, "mixed.parquet");
    await writeParquet(path, rows, { codec: "UNCOMPRESSED" });
    expect(await collect(readParquet(path))).toEqual([
      { v: 1, n: null, big: "1152921504606846976", d: 1 },
      { v: "one", n: 2, big: 5, d: 1.5 },
      { v: [1], n: { a: null }, d: -0 },
    ]);
  });

  it("ParquetShardWriter writes numbered shards atomically", async () => {
    const dir = freshDir();
    const closed: string[] = [];
    const writer = new ParquetShardWriter({ dir, maxRecords: 2, rowGroupSize: 1, onShardClosed: (s) => void closed.push(s.file) });
    const samples = sampleFixtures();
    for (const s of samples) await writer.write(s);
    const shards = await writer.close();
    expect(shards.map((s) => [s.file, s.records])).toEqual([
      ["part-00000.parquet", 2],
      ["part-00001.parquet", 1],
    ]);
    expect(closed).toEqual(["part-00000.parquet", "part-00001.parquet"]);
    expect(readdirSync(dir).sort()).toEqual(["part-00000.parquet", "part-00001.parquet"]);
    const back: unknown[] = [];
    for (const s of shards) back.push(...(await collect(readParquet(s.path))));
    expect(back).toEqual(samples);
  });

  it("reads nulls of foreign Parquet files as null", async () => {
    const { parquetWriteBuffer } = await import("hyparquet-writer");
    const path = join(tmp, "foreign.parquet");
    writeFileSync(path, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: "a", data: ["x", null], type: "STRING" }] })));
    expect(await collect(readParquet(path))).toEqual([{ a: "x" }, { a: null }]);
  });
});
