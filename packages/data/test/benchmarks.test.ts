import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  type BenchmarkFormat,
  defineBenchmark,
  hasBenchmark,
  listBenchmarks,
  loadBenchmarkItems,
  registerBenchmark,
  resolveBenchmark,
  shippedBenchmarkDir,
  unregisterBenchmark,
} from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "infialign-benchmarks-"));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const jsonl = (rows: object[]) => `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`;
const LICENCE = { spdx: "CC-BY-4.0", source: "written for this test" };

describe("built-in benchmarks", () => {
  it("lists every built-in with its licence, shipped ones with their files", () => {
    const all = listBenchmarks();
    expect(all.map((b) => b.id).slice(0, 8)).toEqual(["aime24", "aime25", "amc23", "math500", "gsm8k", "gpqa-diamond", "mmlu-pro", "livecodebench"]);
    for (const b of all.slice(0, 8)) {
      expect(b.licence?.spdx).toBeTruthy();
      expect(b.licence?.source).toBeTruthy();
    }
    expect(all.filter((b) => b.shipped).map((b) => b.file)).toEqual(["aime24", "aime25", "amc23", "math500", "gsm8k-test"].map((f) => `${f}.jsonl`));
    expect(readdirSync(shippedBenchmarkDir()).filter((f) => f.endsWith(".jsonl")).sort()).toEqual(["aime24.jsonl", "aime25.jsonl", "amc23.jsonl", "gsm8k-test.jsonl", "math500.jsonl"]);
    expect(resolveBenchmark("gpqa-diamond").licence).toMatchObject({ spdx: "CC-BY-4.0", note: expect.stringContaining("not be published") });
  });

  it("loads the shipped sets with unique ids, gold answers and their problems", async () => {
    const counts = { aime24: 30, aime25: 30, amc23: 40, math500: 500, gsm8k: 1319 };
    for (const [id, n] of Object.entries(counts)) {
      const items = await loadBenchmarkItems(id);
      expect(items).toHaveLength(n);
      expect(new Set(items.map((i) => i.id)).size).toBe(n);
      expect(items.every((i) => i.benchmark === id && i.text.trim() !== "" && i.task?.kind === "math" && i.task.answer.trim() !== "")).toBe(true);
    }
    const [m] = await loadBenchmarkItems("math500", { limit: 1 });
    expect(m).toMatchObject({ id: "test/precalculus/807.json", meta: { level: 2, difficulty: 2, subject: "Precalculus" }, task: { answer: "\\left( 3, \\frac{\\pi}{2} \\right)" } });
    expect((await loadBenchmarkItems("gsm8k", { limit: 1 }))[0]).toMatchObject({ id: "1", text: expect.stringMatching(/^Janet’s ducks/), task: { answer: "18" } });
    // AIME 2025 line 19: a form feed stood for the \f of \frac.
    expect((await loadBenchmarkItems("aime25"))[18]!.text).toContain("\\frac{\\log_k");
  });

  it("resolves the former decontam name gsm8k-test to gsm8k, once with a deprecation warning", async () => {
    const warnings: Error[] = [];
    const listen = (w: Error) => warnings.push(w);
    process.on("warning", listen);
    try {
      expect(hasBenchmark("gsm8k-test")).toBe(true);
      const items = await loadBenchmarkItems("gsm8k-test", { limit: 2 });
      expect(items.map((i) => `${i.benchmark}/${i.id}`)).toEqual(["gsm8k/1", "gsm8k/2"]);
      resolveBenchmark("gsm8k-test");
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", listen);
    }
    expect(warnings.map((w) => [w.name, (w as Error & { code?: string }).code])).toEqual([["DeprecationWarning", "INFIALIGN_BENCHMARK_ALIAS"]]);
    expect(warnings[0]!.message).toMatch(/"gsm8k-test" is deprecated and resolves to "gsm8k"/);
  });

  it("names the known benchmarks on a typo and asks for the path of sets it does not ship", async () => {
    expect(() => resolveBenchmark("aime2024")).toThrow(/unknown benchmark "aime2024"; known: aime24, aime25, amc23, math500, gsm8k, gpqa-diamond/);
    await expect(loadBenchmarkItems("gpqa-diamond")).rejects.toThrow(/benchmark "gpqa-diamond" needs the path of your GPQA CSV \(gated/);
    await expect(loadBenchmarkItems("math500", { limit: -1 })).rejects.toThrow(/limit must be a non-negative integer/);
    expect(() => resolveBenchmark("math500:v1")).toThrow(/benchmark "math500" has no variants/);
  });
});

describe("registerBenchmark", () => {
  const registered: string[] = [];
  afterEach(() => {
    for (const id of registered.splice(0)) unregisterBenchmark(id);
  });
  const register = (def: Parameters<typeof registerBenchmark>[0]) => {
    const out = registerBenchmark(def);
    registered.push(out.id);
    return out;
  };

  it("adds a file in the user's own schema, loaded by name like a built-in", async () => {
    const file = write("olympiad.jsonl", jsonl([{ uid: "o1", statement: "Find x if 2x = 6.", final: 3, level: "4" }, { uid: "o2", statement: "Compute 1 + 1.", final: "2" }]));
    const def = register({ id: "my-olympiad", title: "My Olympiad", format: "math", file, fields: { problem: "statement", answer: "final", id: "uid" }, licence: LICENCE, aliases: ["olympiad-v0"] });
    expect(def).toMatchObject({ title: "My Olympiad", column: "My Olympiad", file, shipped: false });
    expect(hasBenchmark("my-olympiad")).toBe(true);
    const items = await loadBenchmarkItems("my-olympiad");
    expect(items).toEqual([
      { benchmark: "my-olympiad", id: "o1", text: "Find x if 2x = 6.", meta: { level: 4, difficulty: 4 }, task: { kind: "math", answer: "3" } },
      { benchmark: "my-olympiad", id: "o2", text: "Compute 1 + 1.", meta: {}, task: { kind: "math", answer: "2" } },
    ]);
    expect((await loadBenchmarkItems("olympiad-v0")).map((i) => i.benchmark)).toEqual(["my-olympiad", "my-olympiad"]);
    expect(listBenchmarks().at(-1)?.id).toBe("my-olympiad");
  });

  it("rejects a taken id or alias, and reports every problem of a definition at once", () => {
    expect(() => register({ id: "math500", format: "math", file: "x.jsonl", licence: LICENCE })).toThrow(/the name "math500" is taken by benchmark "math500" \(built in\)/);
    expect(() => register({ id: "mine", format: "math", file: "x.jsonl", licence: LICENCE, aliases: ["gsm8k-test"] })).toThrow(/the name "gsm8k-test" is taken by benchmark "gsm8k"/);
    expect(() => register({ id: "Bad Id", format: "mathz", file: "x.jsonl", records: [], fields: { question: "q" } })).toThrow(
      /benchmark "Bad Id" is invalid:\n {2}format: unknown format "mathz"[^\n]*\n {2}id: must be lowercase[^\n]*\n {2}licence: required[^\n]*\n {2}file and records: give one of them/,
    );
    expect(() => register({ id: "m", format: "math", file: "x.jsonl", licence: LICENCE, fields: { question: "q" } })).toThrow(/fields\.question: format "math" maps only problem, answer, id/);
    expect(() => register({ id: "m", format: "math", file: "x.jsonl", licence: LICENCE, path: "y" } as never)).toThrow(/Unrecognized key.*"path"/);
    expect(() => unregisterBenchmark("aime24")).toThrow(/built in and cannot be unregistered/);
    expect(unregisterBenchmark("never-registered")).toBe(false);
  });

  it("takes a format of the user's own, and in-memory records", async () => {
    const riddle: BenchmarkFormat = {
      name: "riddle",
      kind: "math",
      parse: (rec, ctx) => ({ benchmark: ctx.benchmark, id: String(rec.value.n), text: String(rec.value.riddle), task: { kind: "math", answer: String(rec.value.solution) } }),
    };
    register({ id: "riddles", format: riddle, records: [{ n: 1, riddle: "What is two squared?", solution: 4 }], licence: LICENCE });
    expect(await loadBenchmarkItems("riddles")).toEqual([{ benchmark: "riddles", id: "1", text: "What is two squared?", task: { kind: "math", answer: "4" } }]);
  });

  it("refuses duplicate ids, naming both places", async () => {
    const file = write("dup.jsonl", jsonl([{ id: "a", problem: "p", answer: "1" }, { id: "a", problem: "q", answer: "2" }]));
    await expect(loadBenchmarkItems({ id: "dup", format: "math", file })).rejects.toThrow(/dup.jsonl" line 2: id "a" repeats benchmark file ".*dup.jsonl" line 1/);
  });

  it("property: any math records round-trip their problems, answers and ids", async () => {
    const text = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim() !== "" && !/[\f\t\b]/.test(s));
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z0-9]{1,8}$/), text, text), { minLength: 1, maxLength: 8, selector: ([id]) => id }), async (rows) => {
        const def = defineBenchmark({ id: "prop", format: "math", records: rows.map(([id, problem, answer]) => ({ id, problem, answer })) });
        const items = await loadBenchmarkItems(def);
        expect(items.map((i) => [i.id, i.text, i.task?.kind === "math" ? i.task.answer : undefined])).toEqual(rows);
      }),
      { numRuns: 50, seed: 7 },
    );
  });
});

describe("formats", () => {
  it("gpqa: question as text, correct option first; textOnly needs no answer columns", async () => {
    const header = '"Question","Correct Answer","Incorrect Answer 1","Incorrect Answer 2","Incorrect Answer 3","Record ID","High-level domain","Writer\'s Difficulty Estimate"\n';
    const csv = write("gpqa.csv", `${header}"What is 1+1?"," 2 ","3","4","5","rec1","Physics","Hard graduate level (could be a question on a hard graduate exam)"\n`);
    expect(await loadBenchmarkItems("gpqa-diamond", { path: csv })).toEqual([
      {
        benchmark: "gpqa-diamond",
        id: "rec1",
        text: "What is 1+1?",
        meta: { domain: "Physics", difficulty: "Hard graduate level", answer: " 2 " },
        task: { kind: "choice", options: ["2", "3", "4", "5"], answer: 0, shuffle: true },
      },
    ]);
    const questionsOnly = write("gpqa-q.csv", '"Question","Record ID"\n"Name a noble gas.","r1"\n');
    expect(await loadBenchmarkItems("gpqa-diamond", { path: questionsOnly, textOnly: true })).toEqual([{ benchmark: "gpqa-diamond", id: "r1", text: "Name a noble gas.", meta: {} }]);
    await expect(loadBenchmarkItems("gpqa-diamond", { path: questionsOnly })).rejects.toThrow(/GPQA file ".*gpqa-q.csv" line 2 has no "Correct Answer" field \(fields seen: Question, Record ID\)/);
  });

  it("mmlu-pro: N/A padding removed and the gold mapped past it", async () => {
    const path = write("mmlu.jsonl", jsonl([{ question_id: 7, question: "Pick c.", options: ["a", "N/A", "b", "c"], answer: "D", answer_index: 3, category: "law", src: "x" }]));
    const [item] = await loadBenchmarkItems("mmlu-pro", { path });
    expect(item).toMatchObject({ id: "7", text: "Pick c.", meta: { category: "law", src: "x", answer: "D" }, task: { kind: "choice", options: ["a", "b", "c"], answer: 2, shuffle: false } });
  });

  it("livecodebench: release variants filter by contest date; tests are decoded unless textOnly", async () => {
    const pickled = (s: string) => {
      const t = Buffer.from(s);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(t.length);
      return deflateSync(Buffer.concat([Buffer.from([0x80, 4, 0x58]), len, t, Buffer.from([0x94, 0x2e])])).toString("base64");
    };
    const tests = [{ input: "1\n", output: "2\n", testtype: "stdin" }];
    const rec = (id: string, date: string, priv: string) => ({ question_id: id, question_title: `T${id}`, question_content: `Double ${id}.`, contest_date: `${date}T00:00:00`, public_test_cases: "[]", private_test_cases: priv });
    const path = write("lcb.jsonl", jsonl([rec("a", "2023-06-10", pickled(JSON.stringify(tests))), rec("b", "2024-11-05", "!!!")]));
    expect((await loadBenchmarkItems("livecodebench:v1", { path }))[0]).toMatchObject({ id: "a", text: "Ta\n\nDouble a.", task: { kind: "code", statement: "Double a.", tests } });
    expect((await loadBenchmarkItems("livecodebench:v5", { path, textOnly: true })).map((i) => i.id)).toEqual(["b"]);
    await expect(loadBenchmarkItems("livecodebench:v5", { path })).rejects.toThrow(/lcb.jsonl" line 2 \(question_id b\): private_test_cases are neither JSON/);
    expect(() => resolveBenchmark("livecodebench:v9")).toThrow(/unknown release "v9"/);
    await expect(loadBenchmarkItems("livecodebench", { path, options: { since: "May 2024" } })).rejects.toThrow(/since must be a date YYYY-MM-DD/);
  });

  it("text: the first known text field, for decontamination only", async () => {
    const path = write("texts.jsonl", jsonl([{ prompt: "first" }, { idx: 9, text: "second" }]));
    expect(await loadBenchmarkItems({ id: "texts", format: "text" }, { path })).toEqual([
      { benchmark: "texts", id: "1", text: "first" },
      { benchmark: "texts", id: "9", text: "second" },
    ]);
  });

  it("a folder of files without ids: positions name their file, so line 1 of each stays distinct", async () => {
    const folder = join(dir, "split");
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, "a.jsonl"), jsonl([{ problem: "one" }]));
    writeFileSync(join(folder, "b.jsonl"), jsonl([{ problem: "two" }]));
    const items = await loadBenchmarkItems({ id: "split", format: "text" }, { path: folder });
    expect(items.map((i) => [i.id, i.text])).toEqual([
      ["a.jsonl:1", "one"],
      ["b.jsonl:1", "two"],
    ]);
  });
});
