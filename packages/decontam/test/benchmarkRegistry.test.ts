// A user benchmark registered once in @infialign/data's registry and used for decontamination through
// @infialign/decontam's public API; the evaluation side of the same kind of registration is tested in @infialign/eval.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSample, registerBenchmark, resolveInputs, runPipeline, silentLogger, unregisterBenchmark } from "@infialign/data";
import { benchmarkDecontamStage, Decontaminator, loadBenchmark, loadShippedBenchmarks } from "@infialign/decontam";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "decontam-user-benchmark-"));
afterAll(() => {
  unregisterBenchmark("house-olympiad");
  rmSync(dir, { recursive: true, force: true });
});

const PROBLEMS = [
  {
    uid: "ho-1",
    statement:
      "A lighthouse keeper winds the clockwork lamp every evening, adding eleven turns on windy nights and seven turns on calm nights; after a month of thirty nights he counted two hundred and sixty turns. How many nights were windy?",
    result: "16",
  },
  {
    uid: "ho-2",
    statement:
      "Three beekeepers share a meadow: the first keeps twice as many hives as the second, the third keeps five fewer hives than the first, and together they keep seventy hives. How many hives does the third beekeeper keep?",
    result: "25",
  },
];
writeFileSync(join(dir, "olympiad.jsonl"), `${PROBLEMS.map((p) => JSON.stringify(p)).join("\n")}\n`);

// Registered once, with answers: the same definition serves evaluation (`getBenchmark` in @infialign/eval).
registerBenchmark({
  id: "house-olympiad",
  format: "math",
  file: join(dir, "olympiad.jsonl"),
  fields: { problem: "statement", answer: "result", id: "uid" },
  licence: { spdx: "CC0-1.0", source: "written for this test" },
});

const leak = `Here is a puzzle for you. ${PROBLEMS[1]!.statement} Show your work.`;
const clean = "A gardener plants rows of tulips and daffodils along a fence and wonders how many bulbs she needs for next spring.";

describe("a user benchmark in the shared registry", () => {
  it("loads by name for matching, labelled with its id", async () => {
    const items = await loadBenchmark("house-olympiad");
    expect(items.map((i) => [i.benchmark, i.id, i.text])).toEqual(PROBLEMS.map((p) => ["house-olympiad", p.uid, p.statement]));
  });

  it("is matched by a Decontaminator", async () => {
    const dec = await Decontaminator.build(await loadBenchmark("house-olympiad"));
    const [hit, miss] = await dec.checkBatch([leak, clean]);
    expect(hit!.contaminated).toBe(true);
    expect(hit!.matches[0]).toMatchObject({ benchmark: "house-olympiad", id: "ho-2", method: "ngram" });
    expect(miss!.contaminated).toBe(false);
  });

  it("decontaminates a pipeline next to the shipped benchmarks", async () => {
    const rows = [leak, clean, "What is the sum of the first ten positive integers, written in base ten without any spaces?"].map((prompt, i) =>
      makeSample({ source: "pool", prompt, response: `Answer ${i}.`, meta: { origin: { file: "pool.jsonl", line: i + 1 } } }),
    );
    const input = join(dir, "pool.jsonl");
    writeFileSync(input, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
    const benchmarks = await loadShippedBenchmarks(["math500", "house-olympiad"]);
    const result = await runPipeline({
      name: "clean",
      runsDir: join(dir, "runs"),
      source: { files: await resolveInputs(input), decode: "samples" },
      stages: [benchmarkDecontamStage(benchmarks)],
      logger: silentLogger,
      progress: false,
    });
    const stage = result.stages[0]!;
    expect(stage.manifest.counts).toMatchObject({ in: 3, out: 2, rejected: 1 });
    expect(stage.manifest.counters).toMatchObject({ "contaminated.benchmark.house-olympiad": 1 });
    const reject = JSON.parse(readFileSync(join(stage.dir, "rejects.jsonl"), "utf8").trim()) as { code: string; id: string; message: string };
    expect(reject).toMatchObject({ code: "contaminated", id: rows[0]!.id });
    expect(reject.message).toMatch(/house-olympiad #ho-2 by ngram in prompt/);
  });

  it("keeps the former shipped name gsm8k-test working, labelled gsm8k and loaded once beside gsm8k", async () => {
    const items = await loadBenchmark("gsm8k-test");
    expect(items).toHaveLength(1319);
    expect(new Set(items.map((i) => i.benchmark))).toEqual(new Set(["gsm8k"]));
    expect(await loadShippedBenchmarks(["gsm8k", "gsm8k-test"])).toHaveLength(1319);
  });
});
