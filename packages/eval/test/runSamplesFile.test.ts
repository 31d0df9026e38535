import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { readSamples, SamplesWriter, sampleKey } from "../src/run/samplesFile.js";
import type { SampleRecord } from "../src/types.js";

const dir = mkdtempSync(join(tmpdir(), "eval-samples-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const recordArb: fc.Arbitrary<SampleRecord> = fc.record({
  benchmark: fc.string({ maxLength: 6 }),
  itemId: fc.string({ maxLength: 6 }),
  sampleIndex: fc.nat(99),
  completion: fc.string({ maxLength: 40, unit: "binary" }),
  finishReason: fc.constantFrom("stop", "length"),
  grade: fc.record({ correct: fc.boolean() }),
});

describe("samples.jsonl", () => {
  it("reads back every complete record of a file cut at any byte, and appending after the cut loses nothing", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(recordArb, { maxLength: 8, selector: (r) => sampleKey(r.benchmark, r.itemId, r.sampleIndex) }), fc.double({ min: 0, max: 1, noNaN: true }), async (records, at) => {
        const path = join(dir, `s${run++}.jsonl`);
        const bytes = Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join(""), "utf8");
        const cut = Math.floor(at * bytes.length);
        writeFileSync(path, bytes.subarray(0, cut));
        // Records whose line (newline included) lies wholly before the cut.
        let end = 0;
        let complete = 0;
        for (const r of records) {
          end += Buffer.byteLength(`${JSON.stringify(r)}\n`);
          if (end <= cut) complete++;
        }
        const read = await readSamples(path);
        expect(read.samples).toEqual(records.slice(0, complete));
        const writer = await SamplesWriter.open(path, read.validBytes);
        await Promise.all(records.slice(complete).map((r) => writer.append(r)));
        await writer.close();
        const after = await readSamples(path);
        expect(after.tornTail).toBe(false);
        expect(after.samples).toEqual(records);
      }),
      { numRuns: 60, seed: 42 },
    );
  });

  it("counts a key written twice once, with its last record in the first one's place", async () => {
    const path = join(dir, "dup.jsonl");
    const rec = (itemId: string, correct: boolean): SampleRecord => ({ benchmark: "b", itemId, sampleIndex: 0, completion: "x", finishReason: "stop", grade: { correct } });
    writeFileSync(path, [rec("1", false), rec("2", true), rec("1", true), rec("2", true)].map((r) => `${JSON.stringify(r)}\n`).join(""));
    const read = await readSamples(path);
    expect(read.samples).toEqual([rec("1", true), rec("2", true)]);
    expect(read.superseded).toBe(2);
  });
});
