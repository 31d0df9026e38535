import { pyYamlNumber } from "@infialign/train-sft";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SharegptPreferenceRecordSchema, toSharegptPreference } from "../src/export/llamafactory.js";
import { ngramRepetition } from "../src/pairs/repetition.js";

const PYYAML_FLOAT = /^[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?$/;
const PYYAML_INT = /^[-+]?(?:0|[1-9][0-9_]*)$/;

describe("properties", () => {
  it("ngramRepetition of m distinct words repeated r times is (T − m) / T with T = r·m − n + 1", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 2, max: 6 }), (n, extra, r) => {
        const m = n + extra;
        const passage = Array.from({ length: m }, (_, i) => `w${i}`).join(" ");
        const text = Array.from({ length: r }, () => passage).join("\n");
        const total = r * m - n + 1;
        const expected = r * m < 2 * n ? 0 : (total - m) / total;
        expect(ngramRepetition(text, n)).toBeCloseTo(expected, 12);
      }),
    );
  });

  it("ngramRepetition stays in [0, 1) on any text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.integer({ min: 1, max: 10 }), (text, n) => {
        const v = ngramRepetition(text, n);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThan(1);
      }),
    );
  });

  it("pyYamlNumber writes every finite double in a form PyYAML resolves as a number, without losing precision", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const text = pyYamlNumber(x);
        expect(PYYAML_FLOAT.test(text) || PYYAML_INT.test(text), text).toBe(true);
        expect(Number(text)).toBe(x === 0 ? 0 : x);
      }),
    );
  });

  it("toSharegptPreference keeps every prompt turn and answer and yields a valid record", () => {
    const text = fc.string({ maxLength: 20 });
    fc.assert(
      fc.property(fc.array(fc.tuple(text, text), { maxLength: 4 }), text, fc.option(text, { nil: undefined }), text, text, (history, last, system, chosen, rejected) => {
        const prompt = [
          ...(system !== undefined ? [{ role: "system" as const, content: system }] : []),
          ...history.flatMap(([q, a]) => [
            { role: "user" as const, content: q },
            { role: "assistant" as const, content: a },
          ]),
          { role: "user" as const, content: last },
        ];
        const out = toSharegptPreference({ id: "x", prompt, chosen: [{ role: "assistant", content: chosen }], rejected: [{ role: "assistant", content: rejected }] });
        expect(SharegptPreferenceRecordSchema.safeParse(out).success).toBe(true);
        expect(out.conversations.map((t) => t.value)).toEqual([...history.flat(), last]);
        // Every record has the mapped system column; "" stands for "no system prompt" (LLaMA-Factory's own default).
        expect(out.system).toBe(system ?? "");
        expect([out.chosen.value, out.rejected.value]).toEqual([chosen, rejected]);
      }),
    );
  });
});
