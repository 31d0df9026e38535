// A user benchmark registered once in @infialign/data's registry and evaluated through @infialign/eval's public API;
// the decontamination side of the same registration is tested in @infialign/decontam.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerBenchmark, unregisterBenchmark } from "@infialign/data";
import { type EvalItem, type EvalRunner, getBenchmark, type Protocol, runEvaluation } from "@infialign/eval";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "eval-user-benchmark-"));
afterAll(() => {
  unregisterBenchmark("house-arith");
  unregisterBenchmark("house-mcq");
  rmSync(dir, { recursive: true, force: true });
});

const jsonl = (rows: object[]) => `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`;
const arith = Array.from({ length: 6 }, (_, i) => ({ key: `a${i}`, question_text: `What is ${i} + ${i + 3}?`, solution_value: 2 * i + 3, tier: String(1 + (i % 2)) }));
const mcq = Array.from({ length: 4 }, (_, i) => ({ question_id: 100 + i, question: `Which number is ${i}?`, options: ["0", "1", "2", "3", "N/A"], answer_index: i, category: "arithmetic" }));
writeFileSync(join(dir, "arith.jsonl"), jsonl(arith));
writeFileSync(join(dir, "mcq.jsonl"), jsonl(mcq));

// Registered once: the same definitions serve decontamination (`loadBenchmark("house-arith")` in @infialign/decontam).
registerBenchmark({
  id: "house-arith",
  title: "House arithmetic",
  format: "math",
  file: join(dir, "arith.jsonl"),
  fields: { problem: "question_text", answer: "solution_value", id: "key" },
  licence: { spdx: "CC0-1.0", source: "written for this test" },
});
registerBenchmark({ id: "house-mcq", title: "House MCQ", column: "MCQ", format: "mmlu-pro", file: join(dir, "mcq.jsonl"), licence: { spdx: "CC0-1.0", source: "written for this test" } });

/** Right on even-numbered items, wrong on odd ones, for both kinds. */
const runner: EvalRunner = {
  id: "rule-model",
  async complete(item: EvalItem) {
    const prompt = item.messages.at(-1)?.content ?? "";
    const math = /What is (\d+) \+ (\d+)\?/.exec(prompt);
    if (math) {
      const [a, b] = [Number(math[1]), Number(math[2])];
      return { text: `So the sum is \\boxed{${a % 2 === 0 ? a + b : a + b + 1}}.`, finishReason: "stop" };
    }
    const n = Number(/Which number is (\d+)\?/.exec(prompt)?.[1]);
    return { text: `Thinking... the answer is (${"ABCD"[n % 2 === 0 ? n : (n + 1) % 4]})`, finishReason: "stop" };
  },
};

const protocol: Protocol = { temperature: 0, topP: 1, maxTokens: 64, samples: { default: 1 }, k: [1], seed: 0 };

describe("a user benchmark in the shared registry", () => {
  it("loads through getBenchmark with its format's prompt and gold", async () => {
    const spec = getBenchmark("house-arith");
    expect(spec).toMatchObject({ name: "house-arith", title: "House arithmetic", column: "House arithmetic", kind: "math" });
    const items = await spec.load();
    expect(items.map((i) => [i.id, i.gold])).toEqual(arith.map((r) => [r.key, String(r.solution_value)]));
    expect(items[0]!.messages[0]!.content).toBe("What is 0 + 3?\n\nPlease reason step by step, and put your final answer within \\boxed{}.");
    const mcqItems = await getBenchmark("house-mcq").load();
    expect(mcqItems.map((i) => [i.gold, i.choices?.length, i.meta.category])).toEqual([
      ["A", 4, "arithmetic"],
      ["B", 4, "arithmetic"],
      ["C", 4, "arithmetic"],
      ["D", 4, "arithmetic"],
    ]);
    expect(mcqItems[0]!.messages[0]!.content).toContain('about arithmetic. Think step by step and then finish your answer with "the answer is (X)"');
  });

  it("is evaluated and graded by runEvaluation like a built-in", async () => {
    const benchmarks = await Promise.all(["house-arith", "house-mcq"].map(async (name) => ({ spec: getBenchmark(name), items: await getBenchmark(name).load() })));
    const result = await runEvaluation({ benchmarks, protocol, runner, outDir: join(dir, "run"), progress: false, now: () => new Date(0) });
    const byName = Object.fromEntries(result.benchmarks.map((b) => [b.benchmark, b]));
    expect(byName["house-arith"]).toMatchObject({ items: 6, samplesPerItem: 1, avgAtN: 0.5, column: "House arithmetic" });
    expect(byName["house-mcq"]).toMatchObject({ items: 4, avgAtN: 0.5, column: "MCQ" });
  });

  it("names registered benchmarks among the known ones on a typo", () => {
    expect(() => getBenchmark("house-arithm")).toThrow(/unknown benchmark "house-arithm"; known: .*house-arith, house-mcq.*registerBenchmark\(\)/);
  });
});
