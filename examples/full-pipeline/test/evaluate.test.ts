import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAIServer } from "@infialign/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { avgAndStderr, chatEvaluator, compareEvaluations, type Evaluator, evalPackageEvaluator, type ModelEvaluation, mainVerdicts } from "../src/steps/evaluate.js";

const dir = mkdtempSync(join(tmpdir(), "fp-eval-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("avgAndStderr", () => {
  it("matches hand-computed values", () => {
    // means 1, 0, 0.5, 0.5: avg 0.5; sample variance (0.25+0.25+0+0)/3 = 1/6; stderr sqrt(1/6/4) = 0.2041
    const { avgAtN, stderr } = avgAndStderr([1, 0, 0.5, 0.5]);
    expect(avgAtN).toBe(0.5);
    expect(stderr).toBeCloseTo(Math.sqrt(1 / 24), 12);
    expect(avgAndStderr([])).toEqual({ avgAtN: 0, stderr: 0 });
    expect(avgAndStderr([0.25])).toEqual({ avgAtN: 0.25, stderr: 0 });
  });
});

describe("compareEvaluations", () => {
  const run = (model: string, perItem: Record<string, number>) => ({ model, perItem }) as unknown as ModelEvaluation;
  it("counts flips item by item", () => {
    const flips = compareEvaluations(run("sft", { a: 1, b: 0, c: 1, d: 0, e: 0.5 }), run("dpo", { a: 0, b: 1, c: 1, d: 0, e: 1 }));
    expect(flips).toEqual({ from: "sft", to: "dpo", wrongToCorrect: 2, correctToWrong: 1, bothCorrect: 1, bothWrong: 1 });
  });
});

describe.each<[string, Evaluator]>([
  ["evalPackageEvaluator (@infialign/eval, the default)", evalPackageEvaluator],
  ["chatEvaluator", chatEvaluator],
])("%s", (name, evaluator) => {
  it("samples n completions per item over the OpenAI API, grades them and replays from its cache", async () => {
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
        { id: "a", problem: "what is 2", answer: "2", difficulty: 1 },
        { id: "b", problem: "what is 3", answer: "3", difficulty: 1 },
        { id: "c", problem: "what is 4", answer: "4", difficulty: 2 },
        { id: "z", problem: "zzz", answer: "1", difficulty: 2 },
      ];
      const protocol = { samples: 2, temperature: 0.6, topP: 0.95, maxTokens: 16, seed: 0 };
      const cache = join(dir, "cache", name.split(" ")[0] as string);
      const result = await evaluator({ baseUrl: server.url, model: "test-model" }, items, protocol, cache);
      expect(server.requests.filter((r) => r.path.endsWith("/chat/completions"))).toHaveLength(8);
      expect(result.perItem).toEqual({ a: 0.5, b: 0, c: 0.5, z: 0 });
      expect(result.avgAtN).toBe(0.25);
      expect(result.stderr).toBeCloseTo(avgAndStderr([0.5, 0, 0.5, 0]).stderr, 12);
      expect(result.byDifficulty).toEqual({ "1": { items: 2, avgAtN: 0.25 }, "2": { items: 2, avgAtN: 0.25 } });
      expect(result.noAnswer).toBe(2);
      const again = await evaluator({ baseUrl: server.url, model: "test-model" }, items, protocol, cache);
      expect(server.requests.filter((r) => r.path.endsWith("/chat/completions"))).toHaveLength(8);
      expect(again.perItem).toEqual(result.perItem);
    } finally {
      await server.close();
    }
  });
});

describe("mainVerdicts", () => {
  const model = (name: string, correct: (i: number) => boolean): ModelEvaluation => {
    const perItem = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`i${i}`, correct(i) ? 1 : 0]));
    const values = Object.values(perItem);
    return { model: name, items: 400, samplesPerItem: 1, avgAtN: values.reduce((a, b) => a + b, 0) / 400, stderr: 0, byDifficulty: {}, byDomain: {}, perItem, noAnswer: 0, seconds: 0 };
  };

  it("judges DPO against SFT on the same items: equal → not supported, clearly better → supported, no dpo → none", () => {
    const sft = model("sft", (i) => i % 2 === 0);
    expect(mainVerdicts([sft, model("dpo", (i) => i % 2 === 0)])[0]?.verdict).toBe("not supported");
    const better = mainVerdicts([sft, model("dpo", (i) => i % 2 === 0 || i % 3 === 0)])[0];
    expect(better?.verdict).toBe("supported");
    expect(better?.arms).toEqual(["dpo", "sft"]);
    expect(mainVerdicts([sft])).toEqual([]);
  });
});
