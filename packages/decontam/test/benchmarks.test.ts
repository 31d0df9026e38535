import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeParquet } from "@infialign/data";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadGpqa, loadLiveCodeBench, loadMmluPro } from "../src/benchmarks/userBenchmarks.js";
import { loadBenchmark, loadBenchmarkFile, loadShippedBenchmarks, SHIPPED_BENCHMARKS } from "../src/index.js";

describe("shipped benchmarks", () => {
  it("loads every shipped benchmark with its ids and text", async () => {
    const counts: Record<string, number> = {};
    for (const it of await loadShippedBenchmarks()) counts[it.benchmark] = (counts[it.benchmark] ?? 0) + 1;
    expect(counts).toEqual({ aime24: 30, aime25: 30, amc23: 40, math500: 500, gsm8k: 1319 });
    const math = await loadBenchmark("math500");
    expect(math[0]).toMatchObject({ id: "test/precalculus/807.json" });
    expect(math[0]!.text).toMatch(/^Convert the point \$\(0,3\)\$/);
    expect((await loadBenchmark("aime24"))[0]!.id).toBe("60");
    expect((await loadBenchmark("aime25"))[1]!.id).toBe("2");
    expect((await loadBenchmark("gsm8k-test"))[0]!.text).toMatch(/^Janet’s ducks/);
    expect(SHIPPED_BENCHMARKS).toHaveLength(5);
  });

  it("rejects an unknown shipped name", async () => {
    await expect(loadBenchmark("gpqa" as never)).rejects.toThrow(/unknown benchmark "gpqa"/);
  });
});

describe("loadBenchmarkFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "decontam-"));

  it("reads a GPQA-style CSV by its Question column", async () => {
    const path = join(dir, "gpqa.csv");
    writeFileSync(path, 'Record ID,Question,Correct Answer\nrec1,"What is 2+2, in base ten?",4\nrec2,Name a noble gas.,Neon\n');
    const items = await loadBenchmarkFile(path, { name: "gpqa" });
    expect(items).toEqual([
      { benchmark: "gpqa", id: "rec1", text: "What is 2+2, in base ten?" },
      { benchmark: "gpqa", id: "rec2", text: "Name a noble gas." },
    ]);
  });

  it("uses line numbers when there is no id, and an explicit field", async () => {
    const path = join(dir, "mine.jsonl");
    writeFileSync(path, `${JSON.stringify({ prompt_text: "a b c" })}\n${JSON.stringify({ prompt_text: "d e f" })}\n`);
    const items = await loadBenchmarkFile(path, { name: "mine", field: "prompt_text" });
    expect(items.map((i) => i.id)).toEqual(["1", "2"]);
  });

  it("names the file, line and fields seen when the text field is missing", async () => {
    const path = join(dir, "bad.jsonl");
    writeFileSync(path, `${JSON.stringify({ problem: "ok" })}\n${JSON.stringify({ q: "x", answer: "1" })}\n`);
    await expect(loadBenchmarkFile(path, { name: "bad" })).rejects.toThrow(
      `[infialign/data] benchmarks: benchmark file "${path}" line 2 has no "problem" / "question" / "Question" / "prompt" / "text" text field (fields seen: q, answer)`,
    );
    await expect(loadBenchmarkFile(path, { name: "bad", field: "q" })).rejects.toThrow(/line 1 has no "q" text field \(fields seen: problem\)/);
  });
});

const FIXTURES = fileURLToPath(new URL("./fixtures/loaders/", import.meta.url));

describe("user benchmark loaders", () => {
  const dir = mkdtempSync(join(tmpdir(), "decontam-loaders-"));

  it("loadGpqa reads the official CSV: BOM, CRLF, quoted newlines and commas, Record ID ids", async () => {
    const items = await loadGpqa(join(FIXTURES, "gpqa_diamond.csv"));
    expect(items.map((i) => i.id)).toEqual(["recSynth0001", "recSynth0002", "recSynth0003"]);
    expect(items[0]).toEqual({
      benchmark: "gpqa",
      id: "recSynth0001",
      text: "A synthetic qubit is prepared in the state 0.6|0> + 0.8|1> and measured repeatedly.\nWhat is the expectation value, to one decimal place, of the operator 4 sigma_z + 3 sigma_x?",
      meta: { domain: "Physics", subdomain: "Quantum Mechanics", answer: "1.8" },
    });
    expect(items[1]!.text).not.toMatch(/quinuclidine/); // options are not matched text
    expect((await loadGpqa(join(FIXTURES, "gpqa_diamond.csv"), { name: "gpqa-diamond" }))[2]!.benchmark).toBe("gpqa-diamond");
  });

  it("loadGpqa names file, line and column when the CSV is not GPQA", async () => {
    const noQuestion = join(dir, "noq.csv");
    writeFileSync(noQuestion, "Record ID,Problem\nr1,What?\n");
    await expect(loadGpqa(noQuestion)).rejects.toThrow(`GPQA file "${noQuestion}" line 2 has no "Question" field (fields seen: Record ID, Problem)`);
    const noId = join(dir, "noid.csv");
    writeFileSync(noId, "Question,Correct Answer\nWhat is it?,x\n");
    await expect(loadGpqa(noId)).rejects.toThrow(/line 2 has no usable "Record ID" id .*official GPQA CSV/);
    const emptyQ = join(dir, "emptyq.csv");
    writeFileSync(emptyQ, 'Question,Record ID\n"  ",r1\n');
    await expect(loadGpqa(emptyQ)).rejects.toThrow(/line 2 has an empty "Question"/);
    const empty = join(dir, "empty.csv");
    writeFileSync(empty, "");
    await expect(loadGpqa(empty)).rejects.toThrow(`GPQA file "${empty}" is empty; expected a CSV with a header row`);
    const ragged = join(dir, "ragged.csv");
    writeFileSync(ragged, "Question,Record ID\nok,r1\nbad,r2,extra\n");
    await expect(loadGpqa(ragged)).rejects.toThrow(/GPQA file ".*ragged.csv" line 3: .*/);
    await expect(loadGpqa(join(dir, "missing.csv"))).rejects.toThrow(/GPQA file ".*missing.csv" cannot be opened/);
  });

  it("loadMmluPro reads JSONL and the same rows as Parquet, question as text, options in meta", async () => {
    const jsonl = join(FIXTURES, "mmlu_pro_test.jsonl");
    const items = await loadMmluPro(jsonl);
    expect(items.map((i) => i.id)).toEqual(["70", "10234", "10235"]);
    expect(items[1]!.meta).toMatchObject({ category: "physics", answer: "A", src: "synthetic-fixture" });
    expect((items[1]!.meta!.options as string[]).length).toBe(10);
    expect(items[2]!.text).toMatch(/^Which clause of a contract/);
    const rows = readFileSync(jsonl, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const parquet = join(dir, "test-00000-of-00001.parquet");
    await writeParquet(parquet, rows);
    const fromParquet = await loadMmluPro(parquet);
    expect(fromParquet.map(({ benchmark, id, text }) => ({ benchmark, id, text }))).toEqual(items.map(({ benchmark, id, text }) => ({ benchmark, id, text })));
    expect(fromParquet[1]!.meta!.options).toEqual(items[1]!.meta!.options);
  });

  it("loadMmluPro errors name the line and field", async () => {
    const bad = join(dir, "mmlu-bad.jsonl");
    writeFileSync(bad, `${JSON.stringify({ question_id: 1, question: "ok?", options: ["a"] })}\n${JSON.stringify({ question_id: 2, question: "q", options: "a,b" })}\n`);
    await expect(loadMmluPro(bad)).rejects.toThrow(/MMLU-Pro file ".*mmlu-bad.jsonl" line 2 has "options" that is not a list of strings/);
    const noQ = join(dir, "mmlu-noq.jsonl");
    writeFileSync(noQ, `${JSON.stringify({ question_id: 1, prompt: "x" })}\n`);
    await expect(loadMmluPro(noQ)).rejects.toThrow(/line 1 has no "question" field \(fields seen: question_id, prompt\)/);
    const broken = join(dir, "mmlu-broken.jsonl");
    writeFileSync(broken, `${JSON.stringify({ question_id: 1, question: "ok?" })}\n{oops\n`);
    await expect(loadMmluPro(broken)).rejects.toThrow(/MMLU-Pro file ".*mmlu-broken.jsonl" line 2: /);
    const arr = join(dir, "mmlu-arr.jsonl");
    writeFileSync(arr, "[1,2]\n");
    await expect(loadMmluPro(arr)).rejects.toThrow(/line 1 is not an object/);
  });

  it("loadLiveCodeBench: text = title + content, id and release metadata", async () => {
    const items = await loadLiveCodeBench(join(FIXTURES, "lcb_code_generation_lite.jsonl"));
    expect(items.map((i) => i.id)).toEqual(["3999", "abc999_c"]);
    expect(items[0]!.text).toMatch(/^Count Balanced Pairs\n\nYou are given an array nums/);
    expect(items[0]!.text).not.toMatch(/class Solution/);
    expect(items[1]!.meta).toEqual({ platform: "atcoder", contestDate: "2025-01-11T00:00:00", difficulty: "hard" });
    const bad = join(dir, "lcb-bad.jsonl");
    writeFileSync(bad, `${JSON.stringify({ question_title: "t", question_content: "c", question_id: null })}\n`);
    await expect(loadLiveCodeBench(bad)).rejects.toThrow(/LiveCodeBench file ".*lcb-bad.jsonl" line 1 has no usable "question_id" id \(got null/);
  });

  it("loadBenchmarkFile reads Parquet too, row numbers as ids when there is no id column", async () => {
    const path = join(dir, "mine.parquet");
    await writeParquet(path, [{ problem: "first problem text" }, { problem: "second problem text" }]);
    expect(await loadBenchmarkFile(path, { name: "mine" })).toEqual([
      { benchmark: "mine", id: "0", text: "first problem text" },
      { benchmark: "mine", id: "1", text: "second problem text" },
    ]);
    await expect(loadBenchmarkFile(join(dir, "nope.jsonl"), { name: "x" })).rejects.toThrow(/benchmark file ".*nope.jsonl" cannot be opened/);
  });

  it("property: any GPQA-shaped CSV round-trips its questions and ids", async () => {
    const cell = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() !== "" && !s.includes("\r") && !s.includes("\uFEFF"));
    let k = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(cell, cell), { minLength: 1, maxLength: 6 }), fc.boolean(), async (rows, bom) => {
        const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
        const body = `Question,Correct Answer,Record ID\n${rows.map(([q, id], i) => `${quote(q)},x,${quote(`${id}-${i}`)}`).join("\n")}\n`;
        const path = join(dir, `prop-${k++}.csv`);
        writeFileSync(path, bom ? `\uFEFF${body}` : body);
        const items = await loadGpqa(path);
        expect(items.map((i) => i.text)).toEqual(rows.map(([q]) => q));
        expect(items.map((i) => i.id)).toEqual(rows.map(([, id], i) => `${id}-${i}`.trim()));
      }),
      { numRuns: 40, seed: 42 },
    );
  });
});
