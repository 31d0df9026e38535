import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { describeWhen, itWhen, missingCommand, sharedDataFile } from "@infialign/test-utils/vitest";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataError } from "../src/errors.js";
import {
  type InputFile,
  parseJsonArrayChunks,
  parseJsonlChunks,
  readCsv,
  readJsonArray,
  readJsonl,
  readParquet,
  readRecords,
  resolveInputs,
} from "../src/readers/index.js";
import type { RawRecord } from "../src/runtime/types.js";
import { writeParquet } from "../src/writers/index.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures/readers");
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "infialign-readers-"));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

async function collect(source: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of source) out.push(r);
  return out;
}

function values(records: RawRecord[]): unknown[] {
  return records.map((r) => {
    if (!r.ok) throw new Error(`unexpected ${r.code} at ${JSON.stringify(r.loc)}: ${r.message}`);
    return r.value;
  });
}

function file(name: string, content: string | Uint8Array): string {
  const path = join(tmp, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

async function* chunked(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let start = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    yield bytes.subarray(start, cut);
    start = cut;
  }
  yield bytes.subarray(start);
}

const sharedData = sharedDataFile();
const gsm8kTrain = sharedDataFile("pools", "gsm8k-train.jsonl").path;

describeWhen(sharedData.missing)("real data files", () => {
  const expected: Array<[string, string, number]> = [
    ["pools", "gsm8k-train.jsonl", 7473],
    ["pools", "math-test.jsonl", 5000],
    ["benchmarks", "math500.jsonl", 500],
    ["benchmarks", "aime24.jsonl", 30],
    ["benchmarks", "aime25.jsonl", 30],
    ["benchmarks", "amc23.jsonl", 40],
    ["benchmarks", "gsm8k-test.jsonl", 1319],
  ];

  it.each(expected)("reads %s/%s with exactly %i records, lines numbered 1..n", async (dir, name, count) => {
    const [input] = await resolveInputs(join(sharedData.path, dir, name));
    expect(input).toMatchObject({ format: "jsonl", compression: "none" });
    const records = await collect(readRecords(input!));
    expect(records.filter((r) => !r.ok)).toEqual([]);
    expect(records).toHaveLength(count);
    expect(records.map((r) => r.loc.line)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    const bytes = records.reduce((n, r) => n + (r.ok ? (r.bytes ?? 0) : 0), 0);
    expect(bytes).toBe(input!.size);
  });

  it("aime25 keeps the form feed of its single-backslash \\frac on line 19", async () => {
    const records = await collect(readJsonl(join(sharedData.path, "benchmarks", "aime25.jsonl")));
    const problem = (records[18] as { value: { problem: string } }).value.problem;
    expect(problem).toContain("\frac");
  });

  it("gives identical records for plain and gzip copies", async () => {
    const plain = await collect(readJsonl(gsm8kTrain));
    const gz = file("gsm8k-train.jsonl.gz", gzipSync(readFileSync(gsm8kTrain)));
    const [gzInput] = await resolveInputs(gz);
    expect(gzInput?.compression).toBe("gzip");
    const fromGz = await collect(readRecords(gzInput!));
    expect(fromGz).toEqual(plain.map((r) => ({ ...r, loc: { ...r.loc, file: gz } })));
  });

  itWhen(missingCommand("zstd", "apt-get install -y zstd"))("gives identical records for a copy compressed by the zstd CLI", async () => {
    const plain = await collect(readJsonl(gsm8kTrain));
    const zst = join(tmp, "gsm8k-train.jsonl.zst");
    execFileSync("zstd", ["-q", "-3", gsm8kTrain, "-o", zst]);
    const fromZst = await collect(readJsonl(zst));
    expect(values(fromZst)).toEqual(values(plain));
  });

  it("resolves a glob over the shared data sorted by path", async () => {
    const files = await resolveInputs(join(sharedData.path, "benchmarks", "*.jsonl"));
    const names = files.map((f) => f.path.split("/").pop());
    expect(names).toEqual(["aime24.jsonl", "aime25.jsonl", "amc23.jsonl", "gsm8k-test.jsonl", "math500.jsonl"]);
  });
});

describe("readJsonl", () => {
  it("reads the committed fixture identically as plain, gzip and multi-frame zstd", async () => {
    const plain = join(fixtures, "mixed.jsonl");
    const gz = file("mixed.jsonl.gz", gzipSync(readFileSync(plain)));
    const a = values(await collect(readJsonl(plain)));
    expect(a).toHaveLength(300);
    expect(a[299]).toMatchObject({ id: 299, meta: { nested: { x: [299, null, true] } } });
    expect(values(await collect(readJsonl(gz)))).toEqual(a);
    expect(values(await collect(readJsonl(join(fixtures, "mixed.jsonl.zst"))))).toEqual(a);
  });

  it("turns a truncated zstd or gzip file into a DataError naming the file", async () => {
    const zst = readFileSync(join(fixtures, "mixed.jsonl.zst"));
    const bad = file("truncated.jsonl.zst", zst.subarray(0, zst.length - 40));
    await expect(collect(readJsonl(bad))).rejects.toThrow(/truncated\.jsonl\.zst" is not a readable zstd file/);
    const gz = gzipSync(readFileSync(join(fixtures, "mixed.jsonl")));
    const badGz = file("truncated.jsonl.gz", gz.subarray(0, gz.length - 100));
    await expect(collect(readJsonl(badGz))).rejects.toBeInstanceOf(DataError);
  });

  it("rejects a malformed line with its line number and goes on", async () => {
    const path = file("malformed.jsonl", '{"a":1}\n{"a":\n{"a":3}\n');
    const records = await collect(readJsonl(path));
    expect(records).toHaveLength(3);
    expect(records[1]).toMatchObject({ ok: false, code: "malformed_json", loc: { file: path, line: 2 }, raw: '{"a":' });
    expect((records[1] as { message: string }).message).toMatch(/^line 2 is not valid JSON: /);
    expect(records[2]).toMatchObject({ ok: true, value: { a: 3 }, loc: { line: 3 } });
  });

  it("rejects invalid UTF-8 bytes and goes on", async () => {
    const path = file("latin1.jsonl", Buffer.concat([Buffer.from('{"a":"ok"}\n{"a":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n{"a":"é"}\n')]));
    const records = await collect(readJsonl(path));
    expect(records.map((r) => (r.ok ? r.value : r.code))).toEqual([{ a: "ok" }, "invalid_utf8", { a: "é" }]);
    expect(records[1]!.loc).toEqual({ file: path, line: 2 });
  });

  it("strips a BOM, handles CRLF, reads a final line without newline", async () => {
    const path = file("bom.jsonl", '\uFEFF{"a":1}\r\n{"a":"x\\r"}\r\n{"a":3}');
    const records = await collect(readJsonl(path));
    expect(values(records)).toEqual([{ a: 1 }, { a: "x\r" }, { a: 3 }]);
    expect(records.map((r) => r.loc.line)).toEqual([1, 2, 3]);
    expect(records.map((r) => (r.ok ? r.bytes : 0))).toEqual([12, 13, 7]);
  });

  it("skips blank lines but keeps line numbers", async () => {
    const path = file("blank.jsonl", '\n{"a":1}\n\n   \n\t\r\n{"a":2}\n\n');
    const records = await collect(readJsonl(path));
    expect(records.map((r) => [r.loc.line, r.ok && r.value])).toEqual([
      [2, { a: 1 }],
      [6, { a: 2 }],
    ]);
  });

  it("yields exactly one empty_file entry for an empty or whitespace-only file", async () => {
    for (const content of ["", "  \n\n\r\n \t"]) {
      const path = file("empty.jsonl", content);
      const records = await collect(readJsonl(path));
      expect(records).toEqual([{ ok: false, code: "empty_file", message: expect.stringContaining("has no records"), loc: { file: path } }]);
    }
  });

  it("rejects a record over maxRecordBytes, within one chunk and across chunks, and goes on", async () => {
    const big = `{"a":"${"x".repeat(3 * 1024 * 1024)}"}`;
    const path = file("big.jsonl", `{"a":1}\n{"a":"${"y".repeat(200)}"}\n${big}\n{"a":4}\n${big}`);
    const records = await collect(readJsonl(path, { maxRecordBytes: 100 }));
    expect(records.map((r) => (r.ok ? r.value : `${r.code}@${r.loc.line}`))).toEqual([
      { a: 1 },
      "record_too_large@2",
      "record_too_large@3",
      { a: 4 },
      "record_too_large@5",
    ]);
    expect((records[2] as { message: string }).message).toContain(`has ${big.length} bytes`);
    const fits = await collect(readJsonl(path));
    expect(fits.every((r) => r.ok)).toBe(true);
  });

  it("says a missing file does not exist", async () => {
    await expect(collect(readJsonl(join(tmp, "absent.jsonl")))).rejects.toThrow(/file ".*absent\.jsonl" does not exist/);
  });

  it("stops with the abort signal", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(collect(readJsonl(join(fixtures, "mixed.jsonl"), { signal: controller.signal }))).rejects.toThrow();
  });

  it("property: any split of a JSONL byte stream into chunks yields the same records", async () => {
    const record = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(record, fc.constantFrom("\n", "\r\n", "\n\n")), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (lines, bom, rawCuts) => {
          const text = (bom ? "\uFEFF" : "") + lines.map(([value, end]) => JSON.stringify(value) + end).join("");
          const bytes = Buffer.from(text, "utf8");
          const cuts = rawCuts.map((c) => c % (bytes.length + 1));
          const records = await collect(parseJsonlChunks(chunked(bytes, cuts), "p.jsonl"));
          expect(values(records)).toEqual(lines.map(([value]) => JSON.parse(JSON.stringify(value))));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("readJsonArray", () => {
  it("streams elements with 0-based rows, brackets and escapes inside strings included", async () => {
    const path = file("array.json", '\uFEFF [\n {"a":"]}[{,"}, {"b":"\\"],"},\n  [1,[2,{"c":3}]], "s", 4 ,null\n]\n');
    const records = await collect(readJsonArray(path));
    expect(values(records)).toEqual([{ a: "]}[{," }, { b: '"],' }, [1, [2, { c: 3 }]], "s", 4, null]);
    expect(records.map((r) => r.loc)).toEqual([
      { file: path, line: 2, row: 0 },
      { file: path, line: 2, row: 1 },
      { file: path, line: 3, row: 2 },
      { file: path, line: 3, row: 3 },
      { file: path, line: 3, row: 4 },
      { file: path, line: 3, row: 5 },
    ]);
  });

  it("rejects a malformed element and resumes at the next top-level comma", async () => {
    const path = file("bad-array.json", '[{"a":1}, {"b": ]}, {"c":3}, nope, , {"d":4}]');
    const records = await collect(readJsonArray(path));
    expect(records.map((r) => (r.ok ? r.value : `${r.code}@${r.loc.row}`))).toEqual([{ a: 1 }, "malformed_json@1", { c: 3 }, "malformed_json@3", "malformed_json@4", { d: 4 }]);
  });

  it("handles an empty array, an empty file and a truncated file", async () => {
    expect(await collect(readJsonArray(file("e1.json", " [ ] ")))).toEqual([]);
    expect(await collect(readJsonArray(file("e2.json", "\n")))).toMatchObject([{ ok: false, code: "empty_file" }]);
    const truncated = await collect(readJsonArray(file("e3.json", '[{"a":1},{"b":')));
    expect(truncated.map((r) => (r.ok ? r.value : r.code))).toEqual([{ a: 1 }, "malformed_json"]);
  });

  it("throws a DataError when the top level is not an array", async () => {
    await expect(collect(readJsonArray(file("obj.json", '{"a":[1,2]}')))).rejects.toThrow(/is not a JSON array.*name the file \.jsonl/);
    await expect(collect(readJsonArray(file("after.json", "[1] 2")))).rejects.toBeInstanceOf(DataError);
  });

  it("rejects an element over maxRecordBytes and goes on", async () => {
    const path = file("big-array.json", `[1, "${"z".repeat(5000)}", 3]`);
    const records = await collect(readJsonArray(path, { maxRecordBytes: 1000 }));
    expect(records.map((r) => (r.ok ? r.value : r.code))).toEqual([1, "record_too_large", 3]);
  });

  it("property: any chunking of a JSON array yields its elements", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.jsonValue(), { maxLength: 15 }), fc.constantFrom("", " ", "\n  "), fc.array(fc.nat(), { maxLength: 10 }), async (items, pad, rawCuts) => {
        const text = `${pad}[${pad}${items.map((v) => JSON.stringify(v)).join(`${pad},${pad}`)}${pad}]${pad}`;
        const bytes = Buffer.from(text, "utf8");
        const records = await collect(parseJsonArrayChunks(chunked(bytes, rawCuts.map((c) => c % (bytes.length + 1))), "p.json"));
        expect(values(records)).toEqual(items.map((v) => JSON.parse(JSON.stringify(v))));
      }),
      { numRuns: 200 },
    );
  });
});

describe("readCsv", () => {
  it("reads rows as objects keyed by the header, with quoted newlines and the starting line", async () => {
    const path = file("rows.csv", '\uFEFFquestion,answer\r\n"What is\n1+1?",2\n\nplain,"say ""hi"""\n');
    const records = await collect(readCsv(path));
    expect(values(records)).toEqual([
      { question: "What is\n1+1?", answer: "2" },
      { question: "plain", answer: 'say "hi"' },
    ]);
    expect(records.map((r) => r.loc.line)).toEqual([2, 5]);
  });

  it("rejects a row with the wrong number of columns and goes on, in order", async () => {
    const path = file("bad.csv", 'a,b,c\n1,2,3\n4,5\n"6\n7",8,9\n10,11,12,13\n14,15,16');
    const records = await collect(readCsv(path));
    expect(records.map((r) => (r.ok ? r.value : `${r.code}@${r.loc.line}`))).toEqual([
      { a: "1", b: "2", c: "3" },
      "malformed_csv@3",
      { a: "6\n7", b: "8", c: "9" },
      "malformed_csv@6",
      { a: "14", b: "15", c: "16" },
    ]);
    expect((records[1] as { message: string }).message).toContain("expect 3, got 2");
  });

  it("yields empty_file for an empty CSV and reads gzip CSV", async () => {
    expect(await collect(readCsv(file("empty.csv", "")))).toMatchObject([{ ok: false, code: "empty_file" }]);
    const gz = file("rows.csv.gz", gzipSync("x,y\n1,2\n"));
    const [input] = await resolveInputs(gz);
    expect(input).toMatchObject({ format: "csv", compression: "gzip" });
    expect(values(await collect(readRecords(input!)))).toEqual([{ x: "1", y: "2" }]);
  });
});

describe("readParquet", () => {
  it("throws a DataError (not a stack trace) for a file that is not Parquet", async () => {
    const path = file("fake.parquet", '{"a":1}\n'.repeat(20));
    const error = await collect(readParquet(path)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toMatch(/^\[infialign\/data\] parquet-reader: ".*fake\.parquet" is not a readable Parquet file/);
  });

  it("throws a DataError for a truncated Parquet file and for a missing one", async () => {
    const good = join(tmp, "good.parquet");
    await writeParquet(good, [{ a: "x" }, { a: "y" }]);
    const bytes = readFileSync(good);
    const path = file("cut.parquet", Buffer.concat([bytes.subarray(0, 10), bytes.subarray(bytes.length - 30)]));
    await expect(collect(readParquet(path))).rejects.toThrow(/not a readable Parquet file/);
    await expect(collect(readParquet(join(tmp, "nope.parquet")))).rejects.toThrow(/does not exist/);
  });
});

describe("resolveInputs", () => {
  let hf: string;
  beforeAll(async () => {
    hf = join(tmp, "hf-dataset");
    mkdirSync(join(hf, "data"), { recursive: true });
    await writeParquet(join(hf, "data", "train-00001-of-00002.parquet"), [{ q: "c" }]);
    await writeParquet(join(hf, "data", "train-00000-of-00002.parquet"), [{ q: "a" }, { q: "b" }]);
    writeFileSync(join(hf, "data", "test-00000-of-00001.jsonl"), '{"q":"t"}\n');
    writeFileSync(join(hf, "README.md"), "# card\n");
  });

  it("resolves a Hugging Face layout directory with and without split", async () => {
    const all = await resolveInputs(hf);
    expect(all.map((f) => f.path.slice(hf.length + 1))).toEqual(["data/test-00000-of-00001.jsonl", "data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"]);
    expect(all.map((f) => f.format)).toEqual(["jsonl", "parquet", "parquet"]);
    const train = await resolveInputs(hf, { split: "train" });
    expect(train.map((f) => f.path.slice(hf.length + 1))).toEqual(["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"]);
    const rows: unknown[] = [];
    for (const f of train) for await (const r of readRecords(f)) rows.push(r.ok && r.value);
    expect(rows).toEqual([{ q: "a" }, { q: "b" }, { q: "c" }]);
    const test = await resolveInputs(hf, { split: "test" });
    expect(test).toHaveLength(1);
    await expect(resolveInputs(hf, { split: "validation" })).rejects.toThrow(/no split "validation" \(splits found: test, train\)/);
  });

  it("resolves <split>/ subdirectories and top-level files when there is no data/", async () => {
    const dir = join(tmp, "flat-dataset");
    mkdirSync(join(dir, "train"), { recursive: true });
    writeFileSync(join(dir, "train", "0001.jsonl"), "{}\n");
    writeFileSync(join(dir, "train", "0000.jsonl"), "{}\n");
    writeFileSync(join(dir, "test.csv"), "a\n1\n");
    writeFileSync(join(dir, "notes.txt"), "x");
    expect((await resolveInputs(dir)).map((f) => f.path.slice(dir.length + 1))).toEqual(["test.csv", "train/0000.jsonl", "train/0001.jsonl"]);
    expect((await resolveInputs(dir, { split: "test" })).map((f) => f.format)).toEqual(["csv"]);
  });

  it("expands globs sorted, keeps pattern order, drops duplicates, returns size and mtime", async () => {
    const dir = join(tmp, "glob");
    for (const name of ["b.jsonl", "a.jsonl.gz", "c.ndjson", "a.jsonl", "skip.txt"]) file(`glob/${name}`, name.endsWith(".gz") ? gzipSync("{}\n") : "{}\n");
    utimesSync(join(dir, "a.jsonl"), 1_700_000_000, 1_700_000_000);
    const files = await resolveInputs([join(dir, "c.ndjson"), join(dir, "*")]);
    expect(files.map((f) => f.path.slice(dir.length + 1))).toEqual(["c.ndjson", "a.jsonl", "a.jsonl.gz", "b.jsonl"]);
    expect(files.map((f) => [f.format, f.compression])).toEqual([
      ["jsonl", "none"],
      ["jsonl", "none"],
      ["jsonl", "gzip"],
      ["jsonl", "none"],
    ]);
    expect(files[1]).toMatchObject({ size: 3, mtimeMs: 1_700_000_000_000 });
  });

  it("names the pattern when nothing matches and says a missing file does not exist", async () => {
    await expect(resolveInputs(join(tmp, "nothing", "*.jsonl"))).rejects.toThrow(/no input matched ".*nothing\/\*\.jsonl"; check the path or quote the glob/);
    await expect(resolveInputs(join(tmp, "missing.jsonl"))).rejects.toThrow(/file ".*missing\.jsonl" does not exist/);
    await expect(resolveInputs([])).rejects.toBeInstanceOf(DataError);
  });

  it("detects formats from extensions and lets format override them", async () => {
    const odd = file("records.txt", '{"a":1}\n');
    await expect(resolveInputs(odd)).rejects.toThrow(/cannot tell the format/);
    const [forced] = await resolveInputs(odd, { format: "jsonl" });
    expect(forced?.format).toBe("jsonl");
    expect(values(await collect(readRecords(forced!)))).toEqual([{ a: 1 }]);
    await expect(resolveInputs(file("x.parquet.gz", "x"))).rejects.toThrow(/Parquet files are compressed internally/);
  });
});

describe("readRecords", () => {
  it("reads JSON Lines stored as .json, and real arrays as arrays", async () => {
    const lines = file("lines.json", '{"a":1}\n{"a":2}\n');
    const array = file("array2.json", '[{"a":1},{"a":2}]');
    const [a, b] = await resolveInputs([lines, array]);
    const fromLines = await collect(readRecords(a as InputFile));
    const fromArray = await collect(readRecords(b as InputFile));
    expect(values(fromLines)).toEqual(values(fromArray));
    expect(fromLines[1]!.loc).toEqual({ file: lines, line: 2 });
    expect(fromArray[1]!.loc).toEqual({ file: array, line: 1, row: 1 });
  });
});
