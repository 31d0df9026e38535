import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeWhen, sharedDataFile } from "@infialign/test-utils/vitest";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ADAPTERS, type AdaptContext, type AdaptResult, detectAdapter, getAdapter, type SourceAdapter } from "../src/adapters/index.js";
import { DataError } from "../src/errors.js";
import { extractBoxed } from "../src/normalize/answer.js";
import { makeSample, type SampleInit, SampleSchema } from "../src/schema/sample.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures/adapters");

function readJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function fieldsOf(records: Record<string, unknown>[]): Set<string> {
  return new Set(records.slice(0, 64).flatMap((r) => Object.keys(r)));
}

function ctx(file = "t.jsonl", line = 1, requireAnswer = true): AdaptContext {
  return { source: "t", loc: { file, line }, requireAnswer };
}

function adaptAll(adapter: SourceAdapter, records: Record<string, unknown>[], file: string): { samples: SampleInit[]; failures: AdaptResult[] } {
  const samples: SampleInit[] = [];
  const failures: AdaptResult[] = [];
  for (const [i, record] of records.entries()) {
    const result = adapter.adapt(record, ctx(file, i + 1));
    if (result.ok) samples.push(result.sample);
    else failures.push(result);
  }
  return { samples, failures };
}

function ok(result: AdaptResult): SampleInit {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.sample;
}

const mathTest = sharedDataFile("pools", "math-test.jsonl");
describeWhen(mathTest.missing)("math adapter on pools/math-test.jsonl", () => {
  const records = mathTest.missing ? [] : readJsonl(mathTest.path);
  const { samples, failures } = adaptAll(mathAdapterOf(records), records, "math-test.jsonl");

  it("is detected and adapts all 5000 records, each with a boxed answer", () => {
    expect(detectAdapter(fieldsOf(records), undefined, "math-test.jsonl").name).toBe("math");
    expect(records).toHaveLength(5000);
    expect(failures).toEqual([]);
    expect(samples).toHaveLength(5000);
    for (const [i, s] of samples.entries()) {
      expect(s.answer, `record ${i}`).toBeTruthy();
      expect(s.answer).toBe(extractBoxed(records[i]!.solution as string));
      expect(s.gold).toBe(s.answer);
    }
  });

  it("maps fields, level, subject and origin", () => {
    const first = samples[0]!;
    expect(first).toMatchObject({
      source: "t",
      domain: "algebra",
      prompt: "How many vertical asymptotes does the graph of $y=\\frac{2}{x^2+x-6}$ have?",
      answer: "2",
      meta: { adapter: "math", level: 3, idx: 0, origin: { file: "math-test.jsonl", line: 1 } },
    });
    expect(first.response).toBe(records[0]!.solution);
    expect(first.reasoning).toBe(first.response);
    expect(new Set(samples.map((s) => s.domain))).toEqual(
      new Set(["algebra", "counting & probability", "geometry", "intermediate algebra", "number theory", "prealgebra", "precalculus"]),
    );
    expect(new Set(samples.map((s) => s.meta?.level))).toEqual(new Set([1, 2, 3, 4, 5]));
  });

  it("extracts nested and escaped braces (spot checks)", () => {
    expect(samples[481]!.answer).toBe("\\frac{1}{2}");
    expect(samples[808]!.answer).toBe("\\text{(C)}");
    expect(samples[2276]!.answer).toBe("\\{-1\\} \\cup [0,7)");
    expect(samples[2622]!.answer).toBe("\\{1\\pm\\sqrt{5},-2\\}");
    // Two boxes (the solution boxes its answer twice): the last one wins.
    expect(samples[15]!.answer).toBe("\\frac{11}{2}");
  });
});

function mathAdapterOf(records: Record<string, unknown>[]): SourceAdapter {
  return records.length ? detectAdapter(fieldsOf(records)) : getAdapter("math");
}

const math500 = sharedDataFile("benchmarks", "math500.jsonl");
describeWhen(math500.missing)("math adapter on benchmarks/math500.jsonl", () => {
  const records = math500.missing ? [] : readJsonl(math500.path);

  it("takes the gold from the answer field and agrees with the boxed answer", () => {
    const adapter = detectAdapter(fieldsOf(records), undefined, "math500.jsonl");
    expect(adapter.name).toBe("math");
    const { samples, failures } = adaptAll(adapter, records, "math500.jsonl");
    expect(failures).toEqual([]);
    expect(samples).toHaveLength(500);
    for (const [i, s] of samples.entries()) expect(s.gold).toBe(records[i]!.answer);
    const agree = records.filter((r) => extractBoxed(r.solution as string) === r.answer).length;
    console.log(`MATH-500: extractBoxed(solution) === answer for ${agree}/500`);
    // Measured 500/500; the requirement is at least 98%.
    expect(agree).toBe(500);
    expect(samples[0]).toMatchObject({ domain: "precalculus", meta: { level: 2, tags: ["test", "precalculus"], unique_id: "test/precalculus/807.json" } });
  });
});

const aime24 = sharedDataFile("benchmarks", "aime24.jsonl");
describeWhen(aime24.missing)("benchmarks/aime24.jsonl (problem + solution + answer)", () => {
  it("goes to math, whose gold is the answer field", () => {
    const records = readJsonl(aime24.path);
    const adapter = detectAdapter(fieldsOf(records));
    expect(adapter.name).toBe("math");
    const { samples, failures } = adaptAll(adapter, records, "aime24.jsonl");
    expect(failures).toEqual([]);
    expect(samples).toHaveLength(30);
    for (const [i, s] of samples.entries()) expect(s.gold).toBe(records[i]!.answer);
    expect(samples[0]).toMatchObject({ gold: "204", meta: { id: 60, url: expect.stringContaining("2024_AIME_I") } });
  });
});

const aime25 = sharedDataFile("benchmarks", "aime25.jsonl");
describeWhen(aime25.missing)("competition-answer on benchmarks/aime25.jsonl", () => {
  it("adapts all 30 problems with string golds", () => {
    const records = readJsonl(aime25.path);
    const adapter = detectAdapter(fieldsOf(records));
    expect(adapter.name).toBe("competition-answer");
    const { samples, failures } = adaptAll(adapter, records, "aime25.jsonl");
    expect(failures).toEqual([]);
    expect(samples).toHaveLength(30);
    expect(samples[0]).toMatchObject({ prompt: "Find the sum of all integer bases $b>9$ for which $17_b$ is a divisor of $97_b.$", gold: "70" });
    expect(samples.every((s) => s.response === undefined && typeof s.gold === "string")).toBe(true);
    // Lines 19 and 28 contain form feeds from mis-escaped "\frac"; records are kept as they are.
    expect(samples[18]!.prompt).toContain("\f");
  });
});

const amc23 = sharedDataFile("benchmarks", "amc23.jsonl");
describeWhen(amc23.missing)("competition-answer on benchmarks/amc23.jsonl", () => {
  it("turns numeric answers into strings (27.0 → 27) and keeps id/url", () => {
    const records = readJsonl(amc23.path);
    const adapter = detectAdapter(fieldsOf(records));
    expect(adapter.name).toBe("competition-answer");
    const { samples, failures } = adaptAll(adapter, records, "amc23.jsonl");
    expect(failures).toEqual([]);
    expect(samples).toHaveLength(40);
    expect(samples[0]).toMatchObject({ gold: "27", meta: { id: 0, url: expect.stringContaining("2023_AMC_12A") } });
    for (const [i, s] of samples.entries()) expect(s.gold).toBe(String(records[i]!.answer));
  });
});

for (const [dir, file, count] of [
  ["pools", "gsm8k-train.jsonl", 7473],
  ["benchmarks", "gsm8k-test.jsonl", 1319],
] as const) {
  const { path, missing } = sharedDataFile(dir, file);
  describeWhen(missing)(`gsm8k adapter on ${dir}/${file}`, () => {
    it(`adapts all ${count} records`, () => {
      const records = readJsonl(path);
      const adapter = detectAdapter(fieldsOf(records));
      expect(adapter.name).toBe("gsm8k");
      const { samples, failures } = adaptAll(adapter, records, file);
      expect(failures).toEqual([]);
      expect(samples).toHaveLength(count);
      for (const s of samples) {
        expect(s.gold).toMatch(/^-?\d+(\.\d+)?$/);
        expect(s.answer).toBe(s.gold);
        expect(s.response).not.toContain("<<");
        expect(s.reasoning).not.toContain("####");
        expect(s.domain).toBe("arithmetic word problems");
      }
    });
  });
}

const gsmTrain = sharedDataFile("pools", "gsm8k-train.jsonl");
describeWhen(gsmTrain.missing)("gsm8k spot checks", () => {
  it("first record and a thousands comma", () => {
    const records = readJsonl(gsmTrain.path);
    const first = ok(getAdapter("gsm8k").adapt(records[0]!, ctx()));
    expect(first.response).toBe("Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether in April and May.\n#### 72");
    expect(first.reasoning).toBe("Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether in April and May.");
    expect(first.gold).toBe("72");
    // Line 346 ends in "#### 1,080".
    expect(ok(getAdapter("gsm8k").adapt(records[345]!, ctx())).gold).toBe("1080");
  });
});

describe("fixture adapters", () => {
  const load = (name: string) => readJsonl(join(fixtures, name));

  it("openai-messages", () => {
    const records = load("messages.jsonl");
    const adapter = detectAdapter(fieldsOf(records));
    expect(adapter.name).toBe("openai-messages");
    const [a, b, c] = records.map((r) => adapter.adapt(r, ctx("messages.jsonl")));
    expect(ok(a!)).toMatchObject({
      system: "Please reason step by step, and put your final answer within \\boxed{}.",
      prompt: "What is $\\frac{1}{2}+\\frac{1}{3}$?",
      response: "<think>\nCommon denominator 6: 3/6 + 2/6.\n</think>\nThe sum is $\\boxed{\\frac{5}{6}}$.",
      reasoning: "Common denominator 6: 3/6 + 2/6.",
      answer: "\\frac{5}{6}",
      meta: { adapter: "openai-messages", origin: { file: "messages.jsonl", line: 1 } },
    });
    expect(ok(a!).messages).toHaveLength(3);
    expect(ok(a!).gold).toBeUndefined();
    expect(ok(b!)).toMatchObject({ prompt: "Compute 6*7.", answer: "42", gold: "42" });
    expect(ok(b!).messages).toHaveLength(4);
    expect(ok(c!)).toMatchObject({ response: "2 is prime.", gold: "2" });
    const d = adapter.adapt(records[3]!, ctx());
    expect(d).toMatchObject({ ok: false, code: "missing_final_answer", field: "messages" });
    expect(ok(adapter.adapt(records[3]!, ctx("m", 1, false)))).toMatchObject({ prompt: "Tell me a joke.", response: "Why did the chicken cross the road?" });
  });

  it("sharegpt", () => {
    const records = load("sharegpt.jsonl");
    const adapter = detectAdapter(fieldsOf(records));
    expect(adapter.name).toBe("sharegpt");
    const a = ok(adapter.adapt(records[0]!, ctx()));
    expect(a).toMatchObject({ system: "You are a careful math tutor.", prompt: "Solve $x+1=3$.", reasoning: "subtract 1", answer: "2" });
    expect(a.messages?.map((m) => m.role)).toEqual(["system", "user", "assistant"]);
    const b = ok(adapter.adapt(records[1]!, ctx()));
    expect(b.messages?.map((m) => m.role)).toEqual(["system", "user", "tool", "tool", "assistant"]);
    expect(b).toMatchObject({ system: "Use tools when needed.", prompt: "What is 17*23?", answer: "391" });
    expect(adapter.adapt(records[2]!, ctx())).toMatchObject({ ok: false, code: "missing_final_answer" });
  });

  it("alpaca", () => {
    const records = load("alpaca.jsonl");
    const adapter = detectAdapter(fieldsOf(records));
    expect(adapter.name).toBe("alpaca");
    expect(ok(adapter.adapt(records[0]!, ctx()))).toMatchObject({ prompt: "Solve the equation.\n\n$2x = 10$", response: "Divide by 2: $x = \\boxed{5}$.", answer: "5" });
    const b = ok(adapter.adapt(records[1]!, ctx()));
    expect(b).toMatchObject({ prompt: "What is 3 squared?", system: "Answer briefly.", reasoning: "3*3=9", answer: "9" });
    expect(b.messages?.map((m) => [m.role, m.content.slice(0, 12)])).toEqual([
      ["system", "Answer brief"],
      ["user", "What is 2 sq"],
      ["assistant", "$\\boxed{4}$"],
      ["user", "And 1 square"],
      ["assistant", "$\\boxed{1}$"],
      ["user", "What is 3 sq"],
      ["assistant", "<think>3*3=9"],
    ]);
    expect(adapter.adapt(records[2]!, ctx("a", 3, false))).toMatchObject({ ok: true });
    expect(adapter.adapt(records[2]!, ctx())).toMatchObject({ ok: false, code: "missing_final_answer", field: "output" });
  });

  it("r1", () => {
    const records = load("r1.jsonl");
    const adapter = detectAdapter(fieldsOf(records));
    expect(adapter.name).toBe("r1");
    const a = ok(adapter.adapt(records[0]!, ctx()));
    // The first generation is marked wrong; the second is taken.
    expect(a).toMatchObject({ domain: "algebra", reasoning: "1+1 is 2.", answer: "2", gold: "2", meta: { generationIndex: 1, uuid: "r1-0001" } });
    expect(a.response).toBe("<think>\n1+1 is 2.\n</think>\nThe answer is $\\boxed{2}$.");
    // Opening tag missing, as R1 distills emit.
    expect(ok(adapter.adapt(records[1]!, ctx()))).toMatchObject({ reasoning: "Okay, 2+2 = 4.", answer: "4", meta: { generationIndex: 0 } });
    expect(ok(adapter.adapt(records[2]!, ctx()))).toMatchObject({ reasoning: "Three threes make nine.", answer: "9", gold: "9" });
    expect(adapter.adapt(records[3]!, ctx())).toMatchObject({ ok: false, code: "no_correct_generation", field: "generations" });
  });

  it("preference", () => {
    const records = load("preference.jsonl");
    const adapter = detectAdapter(fieldsOf(records));
    expect(adapter.name).toBe("preference");
    expect(ok(adapter.adapt(records[0]!, ctx()))).toMatchObject({
      prompt: "What is $2^{10}$?",
      response: "$2^{10} = \\boxed{1024}$.",
      rejected: "$2^{10} = \\boxed{2048}$.",
      answer: "1024",
      gold: "1024",
    });
    const b = ok(adapter.adapt(records[1]!, ctx()));
    expect(b).toMatchObject({ prompt: "What is 9*9?", system: "Be concise.", reasoning: "9*9=81", answer: "81", rejected: "$\\boxed{72}$" });
    expect(b.messages?.map((m) => m.role)).toEqual(["system", "user", "assistant"]);
    const c = ok(adapter.adapt(records[2]!, ctx()));
    expect(c).toMatchObject({ prompt: "Is 7 prime?", response: "Yes, $\\boxed{\\text{yes}}$.", rejected: "No." });
    expect(c.messages?.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(ok(adapter.adapt(records[3]!, ctx("p", 4, false)))).toMatchObject({ prompt: "Pick a color.", response: "Blue.", rejected: "I cannot." });
  });
});

describe("bad input", () => {
  const cases: [adapter: string, record: Record<string, unknown>, code: string, field: string, message?: string][] = [
    ["math", { problem: 1, solution: "\\boxed{1}" }, "wrong_type", "problem", 'field "problem" must be a string, got number'],
    ["math", { problem: "p" }, "missing_field", "solution", 'field "solution" is missing (expected a string)'],
    ["math", { problem: "p", solution: null }, "missing_field", "solution"],
    ["math", { problem: "  ", solution: "s" }, "missing_field", "problem"],
    ["math", { problem: "p", solution: "\\boxed{1}", answer: { x: 1 } }, "wrong_type", "answer", 'field "answer" must be a string or number, got object'],
    ["math", { problem: "p", solution: "\\boxed{1}", level: [3] }, "wrong_type", "level"],
    ["math", { problem: "p", solution: "\\boxed{1}", type: 7 }, "wrong_type", "type"],
    ["math", { problem: "p", solution: "no box here" }, "missing_final_answer", "solution"],
    ["gsm8k", { question: "q", answer: "2 + 2 = 4" }, "missing_final_answer", "answer"],
    ["gsm8k", { question: "q", answer: 4 }, "wrong_type", "answer", 'field "answer" must be a string, got number'],
    ["gsm8k", { answer: "#### 4" }, "missing_field", "question"],
    ["competition-answer", { problem: "p" }, "missing_final_answer", "answer"],
    ["competition-answer", { problem: "p", answer: "" }, "missing_final_answer", "answer"],
    ["competition-answer", { problem: "p", answer: [1] }, "wrong_type", "answer", 'field "answer" must be a string or number, got array'],
    ["competition-answer", { problem: "p", answer: true }, "wrong_type", "answer", 'field "answer" must be a string or number, got boolean'],
    ["openai-messages", { messages: "hi" }, "wrong_type", "messages", 'field "messages" must be an array of messages, got string'],
    ["openai-messages", {}, "missing_field", "messages"],
    ["openai-messages", { messages: [{ role: "user", content: "q" }, { role: "wizard", content: "a" }] }, "wrong_type", "messages[1].role"],
    ["openai-messages", { messages: [{ role: "user", content: 5 }] }, "wrong_type", "messages[0].content"],
    ["openai-messages", { messages: [{ content: "q" }] }, "missing_field", "messages[0].role"],
    ["openai-messages", { messages: [null] }, "wrong_type", "messages[0]"],
    ["openai-messages", { messages: [{ role: "assistant", content: "\\boxed{1}" }] }, "missing_field", "messages"],
    ["openai-messages", { messages: [{ role: "user", content: "q" }, { role: "assistant", content: "\\boxed{1}" }], answer: {} }, "wrong_type", "answer"],
    ["sharegpt", { conversations: [{ from: "bot", value: "x" }] }, "wrong_type", "conversations[0].from"],
    ["sharegpt", { conversations: [{ from: "human", value: "q" }, { from: "gpt", value: "\\boxed{1}" }], system: 3 }, "wrong_type", "system"],
    ["alpaca", { instruction: "i", input: "", output: "\\boxed{1}", history: [["q"]] }, "wrong_type", "history[0]"],
    ["alpaca", { instruction: "i", input: "" }, "missing_field", "output"],
    ["alpaca", { instruction: "i", input: 3, output: "\\boxed{1}" }, "wrong_type", "input"],
    ["r1", { problem: "p", generations: "x" }, "wrong_type", "generations", 'field "generations" must be an array of strings, got string'],
    ["r1", { problem: "p", generations: ["a", 1] }, "wrong_type", "generations[1]"],
    ["r1", { problem: "p", generations: [] }, "missing_field", "generations"],
    ["r1", { problem: "p", generations: ["\\boxed{1}"], correctness_math_verify: "yes" }, "wrong_type", "correctness_math_verify"],
    ["r1", { problem: "p" }, "missing_field", "generations"],
    ["r1", { problem: "p", response: "<think>cut off" }, "missing_final_answer", "response"],
    ["preference", { prompt: "p", chosen: "a" }, "missing_field", "rejected"],
    ["preference", { prompt: "p", chosen: 1, rejected: "b" }, "wrong_type", "chosen"],
    ["preference", { prompt: 1, chosen: "\\boxed{1}", rejected: "b" }, "wrong_type", "prompt"],
    ["preference", { chosen: "\\boxed{1}", rejected: "b" }, "missing_field", "prompt"],
    ["preference", { prompt: "p", chosen: [{ role: "user", content: "p" }], rejected: "b" }, "missing_field", "chosen"],
  ];
  it.each(cases)("%s %j → %s on %s", (name, record, code, field, message) => {
    const result = getAdapter(name).adapt(record, ctx());
    expect(result).toMatchObject({ ok: false, code, field });
    if (!result.ok) {
      expect(result.message).toContain(`"${field.split(/[.[]/)[0]}`);
      if (message) expect(result.message).toBe(message);
    }
  });

  it("requireAnswer: false keeps answerless records without a gold", () => {
    const math = ok(getAdapter("math").adapt({ problem: "p", solution: "no box" }, ctx("x", 1, false)));
    expect(math.gold).toBeUndefined();
    expect(math.answer).toBeUndefined();
    expect(ok(getAdapter("competition-answer").adapt({ problem: "p" }, ctx("x", 1, false))).gold).toBeUndefined();
    expect(ok(getAdapter("gsm8k").adapt({ question: "q", answer: "4" }, ctx("x", 1, false))).gold).toBeUndefined();
  });

  it("numbers and levels", () => {
    expect(ok(getAdapter("competition-answer").adapt({ problem: "p", answer: 2.5 }, ctx())).gold).toBe("2.5");
    expect(ok(getAdapter("math").adapt({ problem: "p", solution: "\\boxed{1}", level: "Level ?" }, ctx())).meta?.level).toBeUndefined();
    expect(ok(getAdapter("math").adapt({ problem: "p", solution: "\\boxed{1}", level: 4 }, ctx())).meta?.level).toBe(4);
    expect(ok(getAdapter("math").adapt({ problem: "p", solution: "\\boxed{1}", subject: "Counting & Probability" }, ctx())).domain).toBe("counting & probability");
  });
});

describe("detectAdapter", () => {
  it("resolves overlaps by priority", () => {
    const detect = (...fields: string[]) => detectAdapter(fields).name;
    expect(detect("problem", "solution", "level", "type", "idx")).toBe("math");
    expect(detect("problem", "solution", "answer", "url", "question", "id")).toBe("math");
    expect(detect("id", "problem", "answer", "url", "question")).toBe("competition-answer");
    expect(detect("question", "answer")).toBe("gsm8k");
    expect(detect("problem", "solution", "answer", "generations", "messages", "correctness_math_verify")).toBe("r1");
    expect(detect("problem", "response", "answer")).toBe("r1");
    expect(detect("prompt", "chosen", "rejected", "messages")).toBe("preference");
    expect(detect("conversations", "chosen", "rejected")).toBe("preference");
    expect(detect("messages")).toBe("openai-messages");
    expect(detect("conversations", "system")).toBe("sharegpt");
    expect(detect("instruction", "input", "output")).toBe("alpaca");
  });

  it("honours an override and rejects unknown names", () => {
    expect(detectAdapter(["question", "answer"], "math").name).toBe("math");
    expect(() => getAdapter("nope")).toThrow(DataError);
    expect(() => getAdapter("nope")).toThrow(/unknown adapter "nope". Known adapters: canonical \(id, source, prompt, lineage\), preference \(chosen, rejected\)/);
  });

  it("explains what it saw when nothing matches", () => {
    let error: unknown;
    try {
      detectAdapter(new Set(["foo", "bar"]), undefined, "x.jsonl");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DataError);
    const message = (error as Error).message;
    expect(message).toMatch(/^\[infialign\/data\] adapters: cannot detect the schema of "x\.jsonl" \(fields seen: foo, bar\)\. Known adapters: /);
    expect(message).toContain("math (problem, solution)");
    expect(message).toContain("gsm8k (question, answer)");
    expect(message).toContain("competition-answer (problem, answer)");
    expect(message).toContain("Pass --adapter NAME or map your fields.");
    expect(() => detectAdapter([])).toThrow(/fields seen: none/);
  });

  it("lists every adapter once, by descending priority", () => {
    expect(ADAPTERS.map((a) => a.name).sort()).toEqual(["alpaca", "canonical", "competition-answer", "gsm8k", "math", "openai-messages", "preference", "r1", "sharegpt"]);
    const priorities = ADAPTERS.map((a) => a.priority);
    expect(priorities).toEqual([...priorities].sort((a, b) => b - a));
  });
});

describe("adapters never throw", () => {
  const keys = [...new Set(ADAPTERS.flatMap((a) => a.signature.flatMap((s) => s.split("|"))))].concat([
    "input",
    "system",
    "history",
    "level",
    "type",
    "subject",
    "unique_id",
    "correctness_math_verify",
    "is_reasoning_complete",
    "generation",
    "response",
    "gold",
    "prompt",
    "__proto__",
    "constructor",
  ]);
  const turn = fc.record({ role: fc.constantFrom("user", "assistant", "system", "tool", "x"), content: fc.oneof(fc.string(), fc.constant(null), fc.integer()) });
  const sgTurn = fc.record({ from: fc.constantFrom("human", "gpt", "system", "observation", "y"), value: fc.oneof(fc.string(), fc.constant("\\boxed{1}")) });
  const value = fc.oneof(fc.jsonValue(), fc.array(turn), fc.array(sgTurn), fc.string().map((s) => `<think>${s}</think>\\boxed{${s}}`));
  const record = fc.oneof(fc.dictionary(fc.constantFrom(...keys), value), fc.object());

  it("returns ok (with a schema-valid sample) or a typed failure", () => {
    fc.assert(
      fc.property(record, fc.boolean(), (rec, requireAnswer) => {
        for (const adapter of ADAPTERS) {
          const result = adapter.adapt(rec as Record<string, unknown>, { source: "s", loc: { file: "f", line: 1 }, requireAnswer });
          if (result.ok) {
            expect(SampleSchema.safeParse(makeSample(result.sample)).success).toBe(true);
            expect(result.sample.meta?.adapter).toBe(adapter.name);
          } else {
            expect(typeof result.code).toBe("string");
            expect(result.message.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
