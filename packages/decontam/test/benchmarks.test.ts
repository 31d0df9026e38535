import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadBenchmark, loadBenchmarkFile, loadShippedBenchmarks, SHIPPED_BENCHMARKS } from "../src/index.js";

describe("shipped benchmarks", () => {
  it("loads every shipped benchmark with its ids and text", async () => {
    const counts: Record<string, number> = {};
    for (const it of await loadShippedBenchmarks()) counts[it.benchmark] = (counts[it.benchmark] ?? 0) + 1;
    expect(counts).toEqual({ aime24: 30, aime25: 30, amc23: 40, math500: 500, "gsm8k-test": 1319 });
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
      `[infialign/decontam] benchmarks: benchmark file "${path}" line 2 has no "problem" / "question" / "Question" / "prompt" / "text" text field (fields seen: q, answer)`,
    );
    await expect(loadBenchmarkFile(path, { name: "bad", field: "q" })).rejects.toThrow(/line 1 has no "q" text field \(fields seen: problem\)/);
  });
});
