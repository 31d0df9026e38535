import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSample, resolveInputs, runPipeline, type Sample, silentLogger } from "@infialign/data";
import { runCli } from "@infialign/test-utils";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/program.js";
import {
  type BenchmarkDecontamStageOptions,
  type BenchmarkItem,
  benchmarkDecontamStage,
  Decontaminator,
  decontamStage,
  NgramIndex,
  ParaphraseIndex,
  tokenizeForMatch,
} from "../src/index.js";
import { ConceptEmbedder } from "./fixtures/conceptEmbedder.js";
import { HashingEmbedder } from "./fixtures/hashingEmbedder.js";
import { readJsonl, writeJsonl } from "./fixtures/jsonl.js";

const ITEMS: BenchmarkItem[] = [
  { benchmark: "alpha", id: "a1", text: "Let x be the smallest positive integer such that x squared leaves remainder one modulo seven." },
  { benchmark: "beta", id: "b7", text: "A train leaves the station at noon traveling east at sixty miles per hour toward a distant city." },
];
// The train item reworded with other words throughout: no shared word pair, nothing for the lexical layers.
const REWORDED = "At midday a locomotive departs the depot, heading eastbound at 60 mi per hr for a faraway town.";

function samples(): Sample[] {
  const rows = Array.from({ length: 12 }, (_, i) => makeSample({ source: "unit", prompt: `Record ${i}: how many apples are left if ${i + 3} are eaten?` }));
  rows[4] = makeSample({ source: "unit", prompt: REWORDED });
  rows[9] = makeSample({ source: "unit", prompt: ITEMS[0]!.text });
  return rows;
}

describe("embedding layer in the stage and the CLI", () => {
  it("the reworded item shares no word pair with it and passes both lexical layers", async () => {
    const pairs = (t: string) => new Set(tokenizeForMatch(t).flatMap((w, i, ws) => (i > 0 ? [`${ws[i - 1]} ${w}`] : [])));
    const shared = [...pairs(REWORDED)].filter((p) => pairs(ITEMS[1]!.text).has(p));
    expect(shared).toEqual([]);
    expect((await NgramIndex.build(ITEMS, { n: 2, minEvidenceWords: 2 })).check(REWORDED).contaminated).toBe(false);
    expect(ParaphraseIndex.build(ITEMS).check(REWORDED)).toEqual([]);
  });

  it("benchmarkDecontamStage with an embedder rejects the rewording by embedding; without one it passes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "decontam-emb-"));
    const input = join(dir, "in.jsonl");
    writeJsonl(input, samples());
    const files = await resolveInputs(input);
    const run = (name: string, options: BenchmarkDecontamStageOptions) =>
      runPipeline({ name, runsDir: dir, source: { files, decode: "samples" }, stages: [benchmarkDecontamStage(ITEMS, options)], logger: silentLogger, progress: false });
    const withEmbedder = await run("emb", { embedder: new ConceptEmbedder(), config: { embedding: { threshold: 0.9 } }, batchSize: 5 });
    const m = withEmbedder.stages[0]!.manifest;
    expect(m.counts).toMatchObject({ in: 12, out: 10, rejected: 2 });
    expect(m.counters).toMatchObject({ "contaminated.method.embedding": 1, "contaminated.method.ngram": 1 });
    const rejects = readJsonl(join(withEmbedder.stages[0]!.dir, "rejects.jsonl"));
    expect(rejects[0]!.message).toMatch(/^overlaps beta #b7 by embedding in prompt score 0\.9\d\d|^overlaps beta #b7 by embedding in prompt score 1\.000/);
    const without = await run("plain", {});
    expect(without.stages[0]!.manifest.counts).toMatchObject({ in: 12, out: 11, rejected: 1 });
  });

  it("CLI: check and run take --embedder (built by the injected factory, fitted on the benchmark texts) and --embedding-threshold", async () => {
    const dir = mkdtempSync(join(tmpdir(), "decontam-emb-cli-"));
    const bench = join(dir, "toy.jsonl");
    writeJsonl(bench, ITEMS.map((it) => ({ id: it.id, problem: it.text })));
    const specs: string[] = [];
    const createEmbedder = async (spec: string, { fitTexts }: { fitTexts: readonly string[] }) => {
      specs.push(`${spec} fitted on ${fitTexts.length}`);
      return new ConceptEmbedder();
    };
    const cli = (argv: string[], input = "") => runCli((a, io) => main(a, io, { createEmbedder }), argv, input, (a) => a[0] === "check");
    const args = ["--benchmarks", "none", "--benchmark-file", bench];
    const input = [REWORDED, "What is two plus two?"].map((text) => JSON.stringify({ text })).join("\n");
    const checked = await cli(["check", ...args, "--embedder", "concepts", "--embedding-threshold", "0.9"], input);
    expect(checked.code).toBe(0);
    expect(checked.lines[0]).toMatchObject({ contaminated: true, matches: [expect.objectContaining({ benchmark: "toy", id: "b7", method: "embedding" })] });
    expect(checked.lines[1]).toEqual({ contaminated: false, matches: [] });
    expect(specs).toEqual(["concepts fitted on 2"]);
    expect((await cli(["check", ...args], input)).lines[0]).toEqual({ contaminated: false, matches: [] });
    expect((await cli(["check", ...args, "--embedding-threshold", "0.9"], input)).err).toMatch(/--embedding-threshold needs --embedder/);
    expect((await cli(["check", ...args, "--embedder", "concepts", "--embedding-threshold", "2"], input)).err).toMatch(/--embedding-threshold must be a cosine between -1 and 1, got "2"/);

    const shards = join(dir, "pool.jsonl");
    writeJsonl(shards, samples());
    const out = join(dir, "out");
    const runArgs = ["run", "--input", shards, "--output", out, ...args];
    expect((await cli([...runArgs, "--embedder", "concepts"])).out).toMatch(/rejected 2 \(contaminated 2\)/);
    expect((await cli([...runArgs, "--embedder", "concepts"])).out).toMatch(/\[up to date\]/);
    const plain = await cli(runArgs);
    expect(plain.out).toMatch(/rejected 1 \(contaminated 1\)/);
    expect(plain.out).not.toMatch(/up to date/);
  });
});

describe("stage key", () => {
  it("is derived from everything that changes the verdicts: changing any option reruns the stage, an unchanged rerun does not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "decontam-key-"));
    const input = join(dir, "in.jsonl");
    writeJsonl(input, samples());
    const files = await resolveInputs(input);
    let builds = 0;
    const run = async (items: BenchmarkItem[], options: BenchmarkDecontamStageOptions = {}) => {
      const stage = benchmarkDecontamStage(items, options);
      const inner = stage.run.bind(stage);
      // Count index builds through the stage's first batch: an up-to-date stage never runs.
      stage.run = (records, ctx) => {
        builds++;
        return inner(records, ctx);
      };
      const res = await runPipeline({ name: "k", runsDir: dir, source: { files, decode: "samples" }, stages: [stage], logger: silentLogger, progress: false });
      return res.stages[0]!.skipped;
    };
    expect(await run(ITEMS)).toBe(false);
    expect(await run(ITEMS)).toBe(true);
    // Defaults passed explicitly resolve to the same config: same key.
    expect(await run(ITEMS, { config: { ngram: { n: 13 }, paraphrase: { threshold: 0.6 } }, learnRecords: 10_000, fields: ["prompt"] })).toBe(true);
    const variants: [string, BenchmarkItem[], BenchmarkDecontamStageOptions][] = [
      ["n-gram length", ITEMS, { config: { ngram: { n: 9 } } }],
      ["paraphrase threshold", ITEMS, { config: { paraphrase: { threshold: 0.7 } } }],
      ["paraphrase layer off", ITEMS, { config: { paraphrase: { enabled: false } } }],
      ["learned stock threshold", ITEMS, { config: { ngram: { backgroundStockDocs: 3 } } }],
      ["embedder", ITEMS, { embedder: new HashingEmbedder(64) }],
      ["another embedder", ITEMS, { embedder: new HashingEmbedder(128) }],
      ["embedding threshold", ITEMS, { embedder: new HashingEmbedder(128), config: { embedding: { threshold: 0.8 } } }],
      ["records learned from", ITEMS, { learnRecords: 5 }],
      ["fields", ITEMS, { fields: ["prompt", "response"] }],
      ["an item's text", [ITEMS[0]!, { ...ITEMS[1]!, text: `${ITEMS[1]!.text} Answer in hours.` }], {}],
      ["an item's id", [ITEMS[0]!, { ...ITEMS[1]!, id: "b8" }], {}],
      ["one more item", [...ITEMS, { benchmark: "beta", id: "b9", text: "Compute the sum of the first twenty odd numbers." }], {}],
      ["the defaults again", ITEMS, {}],
    ];
    for (const [what, items, options] of variants) {
      const before = builds;
      expect(await run(items, options), `${what}: reruns`).toBe(false);
      expect(builds, what).toBe(before + 1);
      expect(await run(items, options), `${what}: unchanged rerun`).toBe(true);
      expect(builds, `${what}: an up-to-date stage is not run`).toBe(before + 1);
    }
    // batchSize changes how records are grouped, not the verdicts: no rerun.
    expect(await run(ITEMS, { batchSize: 3 })).toBe(true);
  });

  it("decontamStage with a built Decontaminator takes the key from the checker itself", async () => {
    const a = await Decontaminator.build(ITEMS);
    const b = await Decontaminator.build(ITEMS, { ngram: { n: 8 } });
    const c = await Decontaminator.build(ITEMS, {}, { background: ["A train leaves the station at noon."] });
    const d = await Decontaminator.build(ITEMS, {}, { embedder: new HashingEmbedder() });
    const params = [a, b, c, d, await Decontaminator.build(ITEMS)].map((dec) => JSON.stringify(decontamStage({ decontaminator: dec }).params));
    expect(new Set(params.slice(0, 4)).size).toBe(4);
    expect(params[4]).toBe(params[0]);
    expect(c.identity.backgroundSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(d.identity.embedder).toBe("test/bow-hash:256");
  });
});

describe("learning stock phrases from the input", () => {
  const REMINDER = "Reminder: the number n factorial is the product of the integers from 1 to n, for example 5 factorial is 5 times 4 times 3 times 2 times 1 which is 120.";
  // The reminder is about 60% of the item's n-grams, as in MATH-500's prealgebra/1297: less than `copyOverlap`.
  const ITEM: BenchmarkItem = { benchmark: "toy", id: "f1", text: `How many zeroes are at the end of 42 factorial when it is written out in base ten? ${REMINDER}` };
  const rows = [
    `What is the largest prime factor of 97 factorial? ${REMINDER}`,
    `How many different primes divide 20 factorial? ${REMINDER}`,
    "A farmer has 12 cows and buys 5 more. How many cows does the farmer have?",
    `Please solve: ${ITEM.text}`,
  ].map((prompt) => makeSample({ source: "unit", prompt }));

  it("boilerplate shared by input records is no evidence once learned; a copy of the item still is", async () => {
    const dir = mkdtempSync(join(tmpdir(), "decontam-learn-"));
    const input = join(dir, "in.jsonl");
    writeJsonl(input, rows);
    const files = await resolveInputs(input);
    const rejectedIds = async (name: string, learnRecords: number) => {
      const res = await runPipeline({
        name,
        runsDir: dir,
        source: { files, decode: "samples" },
        stages: [benchmarkDecontamStage([ITEM], { learnRecords, batchSize: 2 })],
        logger: silentLogger,
        progress: false,
      });
      return readJsonl(join(res.stages[0]!.dir, "rejects.jsonl")).map((r) => r.id);
    };
    expect(await rejectedIds("off", 0)).toEqual([rows[0]!.id, rows[1]!.id, rows[3]!.id]);
    expect(await rejectedIds("on", 10)).toEqual([rows[3]!.id]);
    // Learning from the first two records only: the reminder is in 2 of them, enough.
    expect(await rejectedIds("head", 2)).toEqual([rows[3]!.id]);
    expect(await rejectedIds("one", 1)).toEqual([rows[0]!.id, rows[1]!.id, rows[3]!.id]);
  });
});
