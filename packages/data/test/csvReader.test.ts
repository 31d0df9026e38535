import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCsvChunks } from "../src/readers/index.js";
import type { RawRecord } from "../src/runtime/types.js";

async function collect(source: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of source) out.push(r);
  return out;
}

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const summary = (records: RawRecord[]) => records.map((r) => (r.ok ? r.value : `${r.code}@${r.loc.line}`));

const csv = (text: string, chunk = 7, maxRecordBytes?: number) =>
  collect(parseCsvChunks(chunked(Buffer.from(text), chunk), "t.csv", maxRecordBytes === undefined ? {} : { maxRecordBytes }));

describe("parseCsvChunks", () => {
  it("rejects a row with an oversized field once, at its line, and keeps the row after it", async () => {
    // Regression: csv-parse gave one record_too_large per maxRecordBytes of the field,
    // counted each as a record, and lost the valid row that followed.
    const field = "x".repeat(10_000);
    const records = await csv(`q,a\n"ok",1\n"${field}",2\nnext,3\n`, 64, 1000);
    expect(summary(records)).toEqual([{ q: "ok", a: "1" }, "record_too_large@3", { q: "next", a: "3" }]);
    const reject = records[1] as Extract<RawRecord, { ok: false }>;
    expect(reject.message).toMatch(/line 3: the row has 10005 bytes, more than maxRecordBytes \(1000\)/);
    expect(reject.raw?.startsWith('"xxx')).toBe(true);
    expect(reject.raw!.length).toBeLessThanOrEqual(2048);
  });

  it("counts the lines of an oversized row with quoted newlines", async () => {
    const field = "line\n".repeat(500);
    const records = await csv(`q,a\n"${field}",2\nnext,3\n`, 13, 100);
    expect(summary(records)).toEqual(["record_too_large@2", { q: "next", a: "3" }]);
    expect(records[1]!.loc.line).toBe(503);
  });

  it("streams a field far larger than maxRecordBytes in chunks without keeping it", async () => {
    async function* huge(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('q,a\n"');
      for (let i = 0; i < 64; i++) yield Buffer.alloc(1 << 20, 0x61);
      yield Buffer.from('",1\nafter,2\n');
    }
    const records = await collect(parseCsvChunks(huge(), "big.csv", { maxRecordBytes: 1 << 20 }));
    expect(summary(records)).toEqual(["record_too_large@2", { q: "after", a: "2" }]);
  });

  it("reports quoting errors with the line and goes on", async () => {
    const records = await csv('a,b\nx"y,1\n"p"q,2\n"fine",3\n"open,4\n');
    expect(summary(records)).toEqual(["malformed_csv@2", "malformed_csv@3", { a: "fine", b: "3" }, "malformed_csv@5"]);
    const messages = records.filter((r): r is Extract<RawRecord, { ok: false }> => !r.ok).map((r) => r.message);
    expect(messages[0]).toMatch(/line 2: field 1 has a quote but does not start with one/);
    expect(messages[1]).toMatch(/line 3: field 1 has characters after its closing quote/);
    expect(messages[2]).toMatch(/line 5: field 1 opens a quote that is never closed/);
  });

  it("hints at an unclosed quote when the rest of the file becomes one oversized row", async () => {
    const records = await csv(`a,b\n"open,1\n${"more,2\n".repeat(100)}`, 16, 200);
    expect(summary(records)).toEqual(["record_too_large@2"]);
    expect((records[0] as { message: string }).message).toMatch(/a quote is probably never closed/);
  });

  it("rejects every row after a header row that could not be read, each at its line", async () => {
    const records = await csv(`"${"h".repeat(300)}",b\nx,1\ny,2\n`, 32, 100);
    expect(summary(records)).toEqual(["record_too_large@1", "malformed_csv@2", "malformed_csv@3"]);
    expect((records[1] as { message: string }).message).toBe("line 2: the header row (line 1) was rejected, so this row cannot be keyed by column names. Fix the header row.");
    expect(summary(await csv('a"b,c\nx,1\n'))).toEqual(["malformed_csv@1", "malformed_csv@2"]);
  });

  it("rejects invalid UTF-8 rows and keeps multi-byte text split across chunks", async () => {
    const bytes = Buffer.concat([Buffer.from("a,b\n"), Buffer.from([0xff, 0x2c, 0x31, 0x0a]), Buffer.from("héllo ∑,2\n")]);
    const records = await collect(parseCsvChunks(chunked(bytes, 1), "u.csv"));
    expect(summary(records)).toEqual(["invalid_utf8@2", { a: "héllo ∑", b: "2" }]);
  });

  it("reads back any table written with RFC 4180 quoting, however it is chunked (property)", async () => {
    const cell = fc.string({ unit: fc.constantFrom("a", "b", ",", '"', "\n", "\r\n", " ", "é", "∑") });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.array(cell, { minLength: 4, maxLength: 4 }), { maxLength: 6 }), fc.integer({ min: 1, max: 9 }), async (cols, rows, chunk) => {
        const header = Array.from({ length: cols }, (_, i) => `c${i}`);
        const table = rows.map((r) => r.slice(0, cols));
        const quote = (v: string) => `"${v.replace(/"/g, '""')}"`;
        const text = [header.join(","), ...table.map((r) => r.map(quote).join(","))].map((l) => `${l}\r\n`).join("");
        const records = await csv(text, chunk);
        expect(records.every((r) => r.ok)).toBe(true);
        expect(records.map((r) => (r as { value: unknown }).value)).toEqual(table.map((r) => Object.fromEntries(r.map((v, i) => [`c${i}`, v]))));
      }),
      { numRuns: 200 },
    );
  });
});
