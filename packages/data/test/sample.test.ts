import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computeSampleId, makeSample, normalizeForHash, SampleSchema } from "../src/index.js";

describe("Sample id", () => {
  it("is stable: a known value", () => {
    expect(computeSampleId("What is 1+1?", "2")).toMatch(/^[0-9a-f]{32}$/);
    expect(computeSampleId("What is 1+1?", "2")).toBe(computeSampleId("  What is\n1+1? ", "2\n"));
    expect(computeSampleId("What is 1+1?", "2")).not.toBe(computeSampleId("what is 1+1?", "2"));
    expect(computeSampleId("ab", "c")).not.toBe(computeSampleId("a", "bc"));
  });

  it("ignores whitespace layout and Unicode composition, nothing else", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1 }).filter((s) => s.trim() === s && !/\s/.test(s)), { minLength: 1, maxLength: 8 }), fc.constantFrom(" ", "\n", "\t ", "  \r\n"), (words, sep) => {
        const a = words.join(" ");
        const b = `${sep}${words.join(sep)}${sep}`;
        expect(normalizeForHash(b)).toBe(normalizeForHash(a));
        expect(computeSampleId(a)).toBe(computeSampleId(b));
      }),
    );
    expect(computeSampleId("caf\u0065\u0301")).toBe(computeSampleId("caf\u00e9"));
  });

  it("folds whitespace exactly like replacing /\\s+/ with one space", () => {
    const unit = fc.constantFrom(" ", "\n", "\t", "\r", "a", "b", "\u00a0", "\u2003", "\u3000");
    fc.assert(fc.property(fc.string({ unit }), (s) => {
        expect(normalizeForHash(s)).toBe(s.normalize("NFC").replace(/\s+/g, " ").trim());
      }), { numRuns: 2000 });
  });

  it("makeSample builds a schema-valid record", () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string(), { nil: undefined }), (prompt, response) => {
        const s = makeSample({ source: "x", prompt, response });
        expect(SampleSchema.safeParse(s).success).toBe(true);
      }),
    );
  });
});
