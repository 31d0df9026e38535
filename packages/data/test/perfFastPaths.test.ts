// Fast paths of the normalize + dedup hot path must give exactly what the plain code gives: ids, text and the bytes
// of every output line. Each property checks a fast path against the straightforward implementation it replaces.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { normalizeSample } from "../src/normalize/normalizeSample.js";
import { normalizeText } from "../src/normalize/text.js";
import { jsonStringify, quoteJsonString } from "../src/runtime/canonicalJson.js";
import { computeSampleId, normalizeForHash, type SampleInit } from "../src/schema/sample.js";
import { ShardedJsonlWriter } from "../src/writers/shardedJsonlWriter.js";

const tmp = mkdtempSync(join(tmpdir(), "infialign-fastpaths-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Any UTF-16 code unit, lone surrogates included, weighted towards what the fast paths branch on. */
const unit = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("a", "b", " ", "\n", "\\", '"', "x", "1") },
  { weight: 2, arbitrary: fc.constantFrom("\t", "\r", "\r\n", "\u000b", "\f", "\u0000", "\u001f", "\u00a0", "\u2028", "\u3000", "\u200b", "\ufeff", "e\u0301", "\u00e9") },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom("\ud83d\ude00", "\ud800", "\udc00") },
);
/** Short and long texts: the fast paths start at 64 characters. */
const text = fc.oneof(fc.string({ unit, maxLength: 20 }), fc.string({ unit, minLength: 60, maxLength: 400 }));

// The implementations the fast paths replaced, verbatim.
function referenceNormalizeText(input: string): string {
  let t = input;
  const ascii = /^[\x00-\x7f]*$/.test(t);
  if (!ascii) t = t.replace(/\u200B|\u200C|\u200D|\u2060|\uFEFF/g, "");
  if (t.includes("\r")) t = t.replace(/\r\n?/g, "\n");
  if (t.includes(" \n") || t.includes("\t\n")) t = t.replace(/[ \t]+$/gm, "");
  if (t.includes("\n\n\n")) t = t.replace(/\n{3,}/g, "\n\n");
  t = t.trim();
  return ascii ? t : t.normalize("NFC");
}
function referenceSampleId(prompt: string, response = "", alreadyNfc = false): string {
  return createHash("sha256").update(normalizeForHash(prompt, alreadyNfc)).update("\u0000").update(normalizeForHash(response, alreadyNfc)).digest("hex").slice(0, 32);
}

describe("hot-path fast paths give what the plain code gives", () => {
  it("normalizeText", () => {
    fc.assert(fc.property(text, (t) => {
        expect(normalizeText(t)).toBe(referenceNormalizeText(t));
      }), { numRuns: 3000 });
  });

  it("computeSampleId, also for texts past the reused hash buffer", () => {
    fc.assert(fc.property(text, text, fc.boolean(), (p, r, nfc) => {
        expect(computeSampleId(p, r, nfc)).toBe(referenceSampleId(p, r, nfc));
      }), { numRuns: 2000 });
    const huge = `${"word \n".repeat(100_000)}\ud800 end`;
    expect(computeSampleId(huge, huge)).toBe(referenceSampleId(huge, huge));
    expect(computeSampleId("What is 1+1?", "2")).toBe(referenceSampleId("What is 1+1?", "2"));
  });

  it("normalizeSample normalizes repeated field texts once, with the same result", () => {
    const init = fc.record(
      { source: fc.constant("s"), prompt: text, response: fc.option(text, { nil: undefined }), answer: fc.option(text, { nil: undefined }) },
      { requiredKeys: ["source", "prompt"] },
    );
    fc.assert(
      fc.property(init, fc.boolean(), fc.boolean(), (base, shareReasoning, shareGold) => {
        const s: SampleInit = { ...base, reasoning: shareReasoning ? base.response : "own reasoning", gold: shareGold ? base.answer : undefined };
        const out = normalizeSample(s, { stripThink: false });
        for (const key of ["prompt", "response", "reasoning", "answer", "gold"] as const) {
          expect(out[key]).toBe(typeof s[key] === "string" ? referenceNormalizeText(s[key] as string) : s[key]);
        }
      }),
    );
  });

  it("quoteJsonString and jsonStringify are JSON.stringify", () => {
    fc.assert(fc.property(text, (t) => {
        expect(quoteJsonString(t)).toBe(JSON.stringify(t));
      }), { numRuns: 3000 });
    const record = fc.dictionary(fc.oneof(fc.string({ unit, maxLength: 6 }), fc.constantFrom("0", "1", "id", "__proto__")), fc.oneof(text, fc.jsonValue(), fc.constant(undefined), fc.constant(() => 1)));
    fc.assert(
      fc.property(record, fc.boolean(), (r, repeat) => {
        const keys = Object.keys(r);
        // Repeat a string in the next field, as Samples do (response, reasoning).
        if (repeat && keys.length >= 2 && typeof r[keys[0]!] === "string") r[keys[1]!] = r[keys[0]!];
        expect(jsonStringify(r)).toBe(JSON.stringify(r));
      }),
      { numRuns: 2000 },
    );
    fc.assert(fc.property(fc.anything(), (v) => {
        expect(jsonStringify(v)).toBe(JSON.stringify(v));
      }));
    const withToJson = { a: "x".repeat(70), d: new Date(0), t: { toJSON: (key: string) => `key ${key}` } };
    expect(jsonStringify(withToJson)).toBe(JSON.stringify(withToJson));
    expect(jsonStringify({ toJSON: () => 5 })).toBe("5");
    expect(jsonStringify({ n: 1, s: Symbol("x"), u: undefined })).toBe('{"n":1}');
  });

  it("jsonStringify throws JSON.stringify's own errors", () => {
    const cycle: Record<string, unknown> = { a: "x".repeat(80) };
    cycle.meta = { back: cycle };
    const error = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return `${(e as Error).name}: ${(e as Error).message}`;
      }
      return "no error";
    };
    expect(error(() => jsonStringify(cycle))).toBe(error(() => JSON.stringify(cycle)));
    expect(error(() => jsonStringify({ a: 1n }))).toBe(error(() => JSON.stringify({ a: 1n })));
  });

  it("writers that pass the same lines along write the bytes they would encode themselves", async () => {
    const lines = fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.oneof(text.map((t) => JSON.stringify(t)), fc.constantFrom('"é😀"', "{}"))), { maxLength: 60 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(lines, fc.boolean(), async (ops, passAlong) => {
        const dir = join(tmp, `w${run++}`);
        const writers = [0, 1, 2].map((i) => new ShardedJsonlWriter({ dir, prefix: `w${i}`, maxRecords: 7, maxBytes: 300 }));
        const expected: string[][] = [[], [], []];
        for (const [w, line] of ops) {
          await writers[w]!.writeLine(line);
          expected[w]!.push(line);
          // A pass-through stage: the next writer gets the same string right away.
          if (passAlong && w < 2) {
            await writers[w + 1]!.writeLine(line);
            expected[w + 1]!.push(line);
          }
        }
        for (let w = 0; w < 3; w++) {
          const shards = await writers[w]!.close();
          const written = shards.map((s) => readFileSync(s.path, "utf8")).join("");
          expect(written).toBe(expected[w]!.map((l) => `${l}\n`).join(""));
        }
      }),
      { numRuns: 150 },
    );
  });

  it("writeLineBytes cuts and writes shards exactly as writeLine", async () => {
    const lines = fc.array(fc.oneof(text.map((t) => JSON.stringify(t)), fc.constant(JSON.stringify("y".repeat(3000)))), { maxLength: 40 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(lines, fc.integer({ min: 1, max: 9 }), fc.integer({ min: 50, max: 5000 }), async (ls, maxRecords, maxBytes) => {
        const dir = join(tmp, `b${run++}`);
        const asText = new ShardedJsonlWriter({ dir, prefix: "text", maxRecords, maxBytes });
        const asBytes = new ShardedJsonlWriter({ dir, prefix: "bytes", maxRecords, maxBytes });
        for (const line of ls) {
          await asText.writeLine(line);
          await asBytes.writeLineBytes(Buffer.from(line, "utf8"));
        }
        const [a, b] = [await asText.close(), await asBytes.close()];
        expect(b.map((s) => [s.records, s.bytes, s.sha256])).toEqual(a.map((s) => [s.records, s.bytes, s.sha256]));
      }),
      { numRuns: 100 },
    );
  });
});
