import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { standardError } from "@infialign/eval";
import { startOpenAIServer } from "@infialign/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { accuracyBy, compareModels, evaluateEndpoint, heldOutResult, mainVerdicts } from "../src/steps/evaluate.js";
import { evaluationOf } from "./evaluations.js";

const dir = mkdtempSync(join(tmpdir(), "fp-eval-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("evaluateEndpoint", () => {
  it("samples n completions per item over the OpenAI API, takes eval's per-item scores and replays from its samples", async () => {
    // Right on items whose answer is even, for sample seed 0 only; never states an answer for item "z".
    const server = await startOpenAIServer({
      handler: (req) => {
        const text = String(req.messages.at(-1)?.content);
        if (text.includes("zzz")) return "I do not know";
        const answer = Number(/(\d+)/.exec(text)?.[1]);
        return `so \\boxed{${answer % 2 === 0 && req.seed === 0 ? answer : answer + 1}}`;
      },
    });
    try {
      const items = [
        { id: "a", problem: "what is 2", answer: "2", difficulty: 1, domain: "even" },
        { id: "b", problem: "what is 3", answer: "3", difficulty: 1, domain: "odd" },
        { id: "c", problem: "what is 4", answer: "4", difficulty: 2, domain: "even" },
        { id: "z", problem: "zzz", answer: "1", difficulty: 2, domain: "odd" },
      ];
      const protocol = { samples: 2, temperature: 0.6, topP: 0.95, maxTokens: 16, seed: 0 };
      const out = join(dir, "eval");
      const result = await evaluateEndpoint({ baseUrl: server.url, model: "test-model" }, items, protocol, out);
      const chats = () => server.requests.filter((r) => r.path.endsWith("/chat/completions")).length;
      expect(chats()).toBe(8);
      const held = heldOutResult(result);
      expect(held.perItem).toEqual({ a: 0.5, b: 0, c: 0.5, z: 0 });
      expect(held.avgAtN).toBe(0.25);
      expect(held.stderr).toBeCloseTo(standardError([0.5, 0, 0.5, 0]), 12);
      expect(held.byDifficulty).toEqual({ "1": { items: 2, avgAtN: 0.25 }, "2": { items: 2, avgAtN: 0.25 } });
      expect(held.reasons.no_answer).toBe(2);
      expect(result.byDomain).toEqual({ even: { items: 2, avgAtN: 0.5 }, odd: { items: 2, avgAtN: 0 } });
      const again = await evaluateEndpoint({ baseUrl: server.url, model: "test-model" }, items, protocol, out);
      expect(chats()).toBe(8);
      expect(heldOutResult(again).perItem).toEqual(held.perItem);
    } finally {
      await server.close();
    }
  });
});

describe("accuracyBy", () => {
  it("averages the per-item scores of each group; items without a score are left out, without the key go to ?", () => {
    const items = [{ id: "a", problem: "", answer: "", domain: "x" }, { id: "b", problem: "", answer: "", domain: "x" }, { id: "c", problem: "", answer: "" }, { id: "d", problem: "", answer: "", domain: "y" }];
    expect(accuracyBy(items, { a: 1, b: 0.5, c: 0 }, (i) => i.domain)).toEqual({ x: { items: 2, avgAtN: 0.75 }, "?": { items: 1, avgAtN: 0 } });
  });
});

describe("compareModels", () => {
  it("gives eval's flips and the paired standard error of the change from each model to the next", async () => {
    const base = evaluationOf("base", { a: [false], b: [false], c: [false], d: [null], e: [false] });
    const sft = evaluationOf("sft", { a: [true], b: [false], c: [true], d: [false], e: [true] });
    const dpo = evaluationOf("dpo", { a: [false], b: [true], c: [true], d: [false], e: [true] });
    const [first, second] = await compareModels([base, sft, dpo]);
    expect([first?.modelA, first?.modelB, second?.modelA, second?.modelB]).toEqual(["base", "sft", "sft", "dpo"]);
    const c = second!.benchmarks[0]!;
    expect(c).toMatchObject({ items: 5, correctToWrong: ["a"], wrongToCorrect: ["b"], bothCorrect: 2, bothWrong: 1 });
    expect(c.delta).toBe(0);
    expect(c.deltaStderr).toBeCloseTo(standardError([-1, 1, 0, 0, 0]), 12);
    expect(c.stderrA).toBe(heldOutResult(sft).stderr);
  });
});

describe("mainVerdicts", () => {
  const model = (name: string, correct: (i: number) => boolean) => evaluationOf(name, Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`i${i}`, [correct(i)]])));

  it("judges DPO against SFT on the same items: equal → not supported, clearly better → supported, no dpo → none", () => {
    const sft = model("sft", (i) => i % 2 === 0);
    expect(mainVerdicts([sft, model("dpo", (i) => i % 2 === 0)])[0]?.verdict).toBe("not supported");
    const better = mainVerdicts([sft, model("dpo", (i) => i % 2 === 0 || i % 3 === 0)])[0];
    expect(better?.verdict).toBe("supported");
    expect(better?.arms).toEqual(["dpo", "sft"]);
    expect(mainVerdicts([sft])).toEqual([]);
  });
});
