import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { writeParquet } from "@infialign/data";
import { shippedDataDir } from "@infialign/decontam";
import { describe, expect, it } from "vitest";
import { customMathBenchmark } from "../src/benchmarks/custom.js";
import { releaseWindow } from "../src/benchmarks/liveCodeBench.js";
import { R1_MATH_INSTRUCTION } from "../src/benchmarks/prompts.js";
import { BENCHMARKS, getBenchmark } from "../src/benchmarks/registry.js";

const dir = mkdtempSync(join(tmpdir(), "eval-bench-"));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("shipped math benchmarks", () => {
  it("load every shipped file with gold answers and the R1 prompt", async () => {
    const counts: Record<string, number> = { aime24: 30, aime25: 30, amc23: 40, math500: 500, gsm8k: 1319 };
    for (const [name, n] of Object.entries(counts)) {
      const items = await getBenchmark(name).load();
      expect(items).toHaveLength(n);
      expect(new Set(items.map((i) => i.id)).size).toBe(n);
      for (const it of items) {
        expect(it.kind).toBe("math");
        expect(it.gold.trim()).not.toBe("");
        expect(it.messages).toHaveLength(1);
        expect(it.messages[0]?.role).toBe("user");
        expect(it.messages[0]?.content.endsWith(`\n\n${R1_MATH_INSTRUCTION}`)).toBe(true);
      }
    }
  });

  it("carries fields from the files: ids, gold, MATH-500 level as difficulty, GSM8K final number", async () => {
    const firstLine = (f: string) => JSON.parse(readFileSync(join(shippedDataDir(), f), "utf8").split("\n")[0] as string) as Record<string, unknown>;
    const aime24 = (await BENCHMARKS.aime24!.load())[0]!;
    expect(aime24.id).toBe(String(firstLine("aime24.jsonl").id));
    expect(aime24.gold).toBe(firstLine("aime24.jsonl").answer);
    const m = (await BENCHMARKS.math500!.load({ limit: 1 }))[0]!;
    const raw = firstLine("math500.jsonl");
    expect(m).toMatchObject({ id: raw.unique_id, gold: raw.answer, meta: { level: Number(raw.level), difficulty: Number(raw.level), subject: raw.subject } });
    const g = (await BENCHMARKS.gsm8k!.load({ limit: 1 }))[0]!;
    expect(g).toMatchObject({ id: "1", gold: "18" }); // "... #### 18"
    const amc = (await BENCHMARKS.amc23!.load({ limit: 1 }))[0]!;
    expect(Number(amc.gold)).toBe(27);
  });

  it("repairs AIME 2025's under-escaped \\frac and \\triangle", async () => {
    const items = await BENCHMARKS.aime25!.load();
    const text = items.map((i) => i.messages[0]?.content).join("\n");
    expect(text).not.toMatch(/[\f\t]/);
    expect(items[18]?.messages[0]?.content).toContain("\\frac{\\log_k");
  });

  it("getBenchmark names the known benchmarks on a typo", () => {
    expect(() => getBenchmark("aime2024")).toThrow(/unknown benchmark "aime2024"; known: aime24, aime25/);
    expect(Object.keys(BENCHMARKS)).toEqual(["aime24", "aime25", "amc23", "math500", "gsm8k", "gpqa-diamond", "mmlu-pro", "livecodebench"]);
  });
});

describe("GPQA-Diamond", () => {
  const header = '"Question","Correct Answer","Incorrect Answer 1","Incorrect Answer 2","Incorrect Answer 3","Record ID","High-level domain","Writer\'s Difficulty Estimate"\n';
  const rows = Array.from({ length: 40 }, (_, i) => `"What is ${i}+1?"," ${i + 1} ","${i + 2}","${i + 3}","${i + 4}","rec${i}","Physics","Hard graduate level (could be a question on a hard graduate exam)"`);
  const csv = write("gpqa_diamond.csv", header + rows.join("\n"));

  it("inserts the correct answer at a seeded position and sets the gold letter to it", async () => {
    const items = await getBenchmark("gpqa-diamond").load({ path: csv, seed: 7 });
    expect(items).toHaveLength(40);
    for (const [i, it] of items.entries()) {
      expect(it.kind).toBe("choice");
      expect(it.choices).toHaveLength(4);
      expect(it.choices?.["ABCD".indexOf(it.gold)]).toBe(String(i + 1));
      expect([...(it.choices ?? [])].sort()).toEqual([i + 1, i + 2, i + 3, i + 4].map(String).sort());
      expect(it.messages[0]?.content).toContain("'Answer: $LETTER' (without quotes) where LETTER is one of ABCD");
      expect(it.messages[0]?.content).toContain(`\nA) ${it.choices?.[0]}\nB) `);
      expect(it.meta).toEqual({ category: "Physics", difficulty: "Hard graduate level" });
    }
    // Not always the same letter: with 40 items every position occurs.
    expect(new Set(items.map((i) => i.gold))).toEqual(new Set(["A", "B", "C", "D"]));
  });

  it("is deterministic per seed and item, independent of file order", async () => {
    const a = await getBenchmark("gpqa-diamond").load({ path: csv, seed: 7 });
    const reversed = write("gpqa_rev.csv", header + [...rows].reverse().join("\n"));
    const b = await getBenchmark("gpqa-diamond").load({ path: reversed, seed: 7 });
    const byId = new Map(b.map((it) => [it.id, it.gold]));
    expect(a.every((it) => byId.get(it.id) === it.gold)).toBe(true);
    const c = await getBenchmark("gpqa-diamond").load({ path: csv, seed: 8 });
    expect(c.map((i) => i.gold)).not.toEqual(a.map((i) => i.gold));
  });

  it("explains a missing path or column", async () => {
    await expect(getBenchmark("gpqa-diamond").load()).rejects.toThrow(/needs the path of your GPQA CSV/);
    const bad = write("bad.csv", '"Question","Record ID"\n"q","r1"\n');
    await expect(getBenchmark("gpqa-diamond").load({ path: bad })).rejects.toThrow(/line 2 has no "Correct Answer" field.*fields seen: Question, Record ID/);
  });
});

describe("MMLU-Pro", () => {
  const rec = (id: number, options: string[], answerIndex: number, category: string) =>
    JSON.stringify({ question_id: id, question: `Question ${id}?`, options, answer: "ABCDEFGHIJ"[answerIndex], answer_index: answerIndex, category, src: "ori_mmlu" });
  const ten = Array.from({ length: 10 }, (_, i) => `opt${i}`);
  const path = write(
    "mmlu.jsonl",
    [rec(1, ten, 9, "law"), rec(2, ["a", "b", "c", "N/A", "N/A"], 2, "math"), JSON.stringify({ question_id: 3, question: "Q3", options: ["x", "y"], answer: "B", category: "other" })].join("\n"),
  );

  it("removes N/A padding, keeps up to 10 options and maps the gold letter", async () => {
    const items = await getBenchmark("mmlu-pro").load({ path });
    expect(items.map((i) => [i.id, i.gold, i.choices?.length, i.meta.category])).toEqual([
      ["1", "J", 10, "law"],
      ["2", "C", 3, "math"],
      ["3", "B", 2, "other"],
    ]);
    const prompt = items[0]?.messages[0]?.content ?? "";
    expect(prompt).toContain('about law. Think step by step and then finish your answer with "the answer is (X)"');
    expect(prompt).toContain("\nJ. opt9\nAnswer: Let's think step by step.");
    expect(items[1]?.messages[0]?.content).not.toContain("N/A");
  });

  it("reads the Parquet export too", async () => {
    const parquet = join(dir, "mmlu.parquet");
    await writeParquet(parquet, [{ question_id: 70, question: "Q?", options: ["a", "b", "c", "N/A"], answer: "B", answer_index: 1, category: "physics", src: "stemez" }]);
    const items = await getBenchmark("mmlu-pro").load({ path: parquet });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id: "70", gold: "B", choices: ["a", "b", "c"], meta: { category: "physics", src: "stemez" } });
  });

  it("rejects a gold that names removed padding", async () => {
    const bad = write("mmlu-bad.jsonl", rec(4, ["a", "b", "N/A"], 2, "law"));
    await expect(getBenchmark("mmlu-pro").load({ path: bad })).rejects.toThrow(/line 1 has no usable gold/);
  });
});

describe("LiveCodeBench", () => {
  const tests = (n: number) => [{ input: `${n}\n`, output: `${n * 2}\n`, testtype: "stdin" }];
  // Minimal protocol-4 pickle of a str, built from the spec: PROTO 4, BINUNICODE, MEMOIZE, STOP.
  const pickled = (s: string) => {
    const t = Buffer.from(s);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(t.length);
    return deflateSync(Buffer.concat([Buffer.from([0x80, 4, 0x58]), len, t, Buffer.from([0x94, 0x2e])])).toString("base64");
  };
  const record = (id: string, date: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      question_title: `T${id}`,
      question_content: `Double ${id}.`,
      platform: "atcoder",
      question_id: id,
      contest_id: "abc",
      contest_date: `${date}T00:00:00`,
      starter_code: "",
      difficulty: "easy",
      public_test_cases: JSON.stringify(tests(1)),
      private_test_cases: pickled(JSON.stringify(tests(5))),
      metadata: "{}",
      ...extra,
    });
  const path = write(
    "lcb.jsonl",
    [
      record("a", "2023-06-10"),
      record("b", "2024-08-05", { private_test_cases: JSON.stringify(tests(7)) }),
      record("c", "2024-12-01", {
        starter_code: "class Solution:\n    def double(self, x: int) -> int:\n        ",
        public_test_cases: JSON.stringify([{ input: "3", output: "6", testtype: "functional" }]),
        metadata: JSON.stringify({ func_name: "double" }),
      }),
      record("d", "2025-03-01"),
    ].join("\n"),
  );

  it("decodes public + private tests (JSON or pickled) and the functional func_name", async () => {
    const items = await getBenchmark("livecodebench").load({ path });
    expect(items.map((i) => i.id)).toEqual(["a", "b", "c", "d"]);
    expect(items[0]?.tests?.cases).toEqual([...tests(1), ...tests(5)]);
    expect(items[1]?.tests?.cases).toEqual([...tests(1), ...tests(7)]);
    expect(items[2]?.tests).toMatchObject({ funcName: "double", starterCode: expect.stringContaining("class Solution") });
    expect(items[0]?.meta).toMatchObject({ platform: "atcoder", difficulty: "easy", contestDate: "2023-06-10T00:00:00" });
    expect(items[0]?.messages[0]?.content).toContain("### Format: Read the inputs from stdin");
    expect(items[2]?.messages[0]?.content).toContain("### Format: You will use the following starter code");
    expect(items[2]?.messages[0]?.content).toMatch(/```python\nclass Solution:[\s\S]*```\n\n### Answer: \(use the provided format with backticks\)\n\n$/);
  });

  it("filters by release window and by since/until", async () => {
    const ids = async (name: string) => (await getBenchmark(name).load({ path })).map((i) => i.id);
    expect(await ids("livecodebench:v4_v5")).toEqual(["b", "c"]);
    expect(await ids("livecodebench:release_v1")).toEqual(["a"]);
    expect(await ids("livecodebench:release_v6")).toEqual(["a", "b", "c", "d"]);
    expect(await ids("livecodebench:v6")).toEqual(["d"]);
    const { liveCodeBenchBenchmark } = await import("../src/benchmarks/liveCodeBench.js");
    const since = await liveCodeBenchBenchmark({ since: "2024-08-05", until: "2024-12-01" }).load({ path });
    expect(since.map((i) => i.id)).toEqual(["b", "c"]);
    expect(releaseWindow("v4_v5")).toEqual(["2024-08-01", "2025-02-01"]);
    expect(() => releaseWindow("v5_v4")).toThrow(/unknown release "v5_v4"/);
    expect(() => liveCodeBenchBenchmark({ since: "Aug 2024" })).toThrow(/since must be a date YYYY-MM-DD/);
  });

  it("reports functional tests without func_name and bad test payloads with file and line", async () => {
    const bad = write(
      "lcb-bad.jsonl",
      `${record("x", "2024-01-01", { public_test_cases: JSON.stringify([{ input: "1", output: "2", testtype: "functional" }]) })}\n`,
    );
    await expect(getBenchmark("livecodebench").load({ path: bad })).rejects.toThrow(/lcb-bad.jsonl" line 1 \(question_id x\) has functional tests but no "metadata"/);
    const garbled = write("lcb-garbled.jsonl", record("y", "2024-01-01", { private_test_cases: "!!!" }));
    await expect(getBenchmark("livecodebench").load({ path: garbled })).rejects.toThrow(/line 1 \(question_id y\): private_test_cases are neither JSON/);
  });
});

describe("customMathBenchmark", () => {
  it("builds items with the R1 prompt and difficulty/domain meta, graded by verifyMath", async () => {
    const spec = customMathBenchmark({
      name: "heldout",
      title: "Held-out",
      items: [
        { id: "p1", problem: "What is 1/2 + 0?", answer: "\\frac{1}{2}", difficulty: 2, domain: "arithmetic" },
        { id: "p2", problem: "2+2?", answer: "4" },
      ],
    });
    expect(spec).toMatchObject({ name: "heldout", title: "Held-out", column: "Held-out", kind: "math" });
    const items = await spec.load();
    expect(items[0]).toMatchObject({ benchmark: "heldout", id: "p1", gold: "\\frac{1}{2}", meta: { difficulty: 2, domain: "arithmetic" } });
    expect(items[1]?.meta).toEqual({});
    expect(await spec.grade(items[0]!, "so \\boxed{0.5}")).toMatchObject({ correct: true, extracted: "0.5" });
    expect(await spec.grade(items[1]!, "\\boxed{5}")).toMatchObject({ correct: false, reason: "unequal" });
    expect(await spec.load({ limit: 1 })).toHaveLength(1);
  });

  it("reports every invalid item at once", () => {
    expect(() =>
      customMathBenchmark({ name: "x", title: "X", items: [{ id: "a", problem: "", answer: "1" }, { id: "a", problem: "p", answer: "" }] }),
    ).toThrow(/item 0 \(id "a"\): "problem" must be a non-empty string\n {2}item 1 \(id "a"\): duplicate id\n {2}item 1 \(id "a"\): "answer"/);
  });
});
