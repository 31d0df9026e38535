import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSample, resolveInputs, runPipeline, type Sample, type StageContext, silentLogger } from "@infialign/data";
import { describe, expect, it } from "vitest";
import { resolveDecontaminatorConfig } from "../src/decontaminator.js";
import { type BenchmarkItem, benchmarkSetIdentity, DEFAULT_LEARN_RECORDS, NgramIndex } from "../src/index.js";
import { benchmarkDecontamStage, type DecontamChecker, decontamStage, type IdentifiedDecontamChecker } from "../src/stage/decontamStage.js";
import { readJsonl, writeJsonl } from "./fixtures/jsonl.js";

const ITEMS: BenchmarkItem[] = [
  { benchmark: "alpha", id: "a1", text: "Let x be the smallest positive integer such that x squared leaves remainder one modulo seven." },
  { benchmark: "beta", id: "b7", text: "A train leaves the station at noon traveling east at sixty miles per hour toward a distant city." },
];

function ngramChecker(items: BenchmarkItem[], n = 8): () => Promise<DecontamChecker> {
  return async () => {
    const index = await NgramIndex.build(items, { n });
    return { checkBatch: async (texts) => texts.map((t) => index.check(t)) };
  };
}

function samples(count: number, seed = 7): Sample[] {
  // Deterministic mix: every 5th record copies an item into the prompt, every 7th into the response.
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const out: Sample[] = [];
  for (let i = 0; i < count; i++) {
    const filler = `Record ${i} asks about ${Math.floor(rnd() * 1e6)} apples and ${Math.floor(rnd() * 1e6)} pears.`;
    const prompt = i % 5 === 0 ? `Solve this: ${ITEMS[i % 2]!.text}` : filler;
    const response = i % 7 === 0 ? `Recall: ${ITEMS[1]!.text} The answer is 3.` : `The answer is ${i}.`;
    out.push(makeSample({ source: "unit", prompt, response, meta: { origin: { file: "src.jsonl", line: i + 1 } } }));
  }
  return out;
}

const writeShard = (dir: string, rows: Sample[]): string => writeJsonl(join(dir, "input.jsonl"), rows);

describe("benchmarkDecontamStage", () => {
  it("checks against the benchmarks with a Decontaminator built on first use and hashes set + config into its params", async () => {
    const stage = benchmarkDecontamStage(ITEMS, { config: { ngram: { n: 8 } }, batchSize: 6 });
    expect(stage.params).toEqual({ checker: benchmarkSetIdentity(ITEMS, resolveDecontaminatorConfig({ ngram: { n: 8 } })), fields: ["prompt"], learnRecords: DEFAULT_LEARN_RECORDS });
    const dir = mkdtempSync(join(tmpdir(), "decontam-bench-stage-"));
    const rows = samples(40);
    const files = await resolveInputs(writeShard(dir, rows));
    const result = await runPipeline({ name: "t", runsDir: dir, source: { files, decode: "samples" }, stages: [stage], logger: silentLogger, progress: false });
    const bad = rows.filter((_, i) => i % 5 === 0).map((r) => r.id);
    expect(result.stages[0]!.manifest.counts).toMatchObject({ in: 40, out: 40 - bad.length, rejected: bad.length });
  });
});

describe("decontamStage in runPipeline", () => {
  it("rejects contaminated records with evidence, keeps order, balances accounting, skips reruns and reruns on a new benchmark set", async () => {
    const dir = mkdtempSync(join(tmpdir(), "decontam-stage-"));
    const rows = samples(40);
    const files = await resolveInputs(writeShard(dir, rows));
    let builds = 0;
    const stage = (items: BenchmarkItem[], fields?: ("prompt" | "response")[]) =>
      decontamStage({
        decontaminator: {
          identity: benchmarkSetIdentity(items, { n: 8 }),
          build: async () => {
            builds++;
            return ngramChecker(items)();
          },
        },
        fields,
        batchSize: 6,
      });
    const run = (items: BenchmarkItem[], fields?: ("prompt" | "response")[]) =>
      runPipeline({ name: "t", runsDir: dir, source: { files, decode: "samples" }, stages: [stage(items, fields)], logger: silentLogger, progress: false });

    const first = await run(ITEMS);
    const m = first.stages[0]!.manifest;
    const expectedBad = rows.filter((_, i) => i % 5 === 0);
    expect(m.counts).toMatchObject({ in: 40, out: 40 - expectedBad.length, rejected: expectedBad.length, rejectedByReason: { contaminated: expectedBad.length } });
    expect(m.counters).toMatchObject({ contaminated: 8, "contaminated.benchmark.alpha": 4, "contaminated.benchmark.beta": 4, "contaminated.method.ngram": 8 });
    expect(m.stats).toMatchObject({ checked: 40, contaminated: 8, byBenchmark: { alpha: 4, beta: 4 }, byMethod: { ngram: 8 }, fields: ["prompt"] });
    const stageDir = first.stages[0]!.dir;
    const kept = m.shards.flatMap((s) => readJsonl(join(stageDir, s.file)));
    expect(kept.map((r) => r.id)).toEqual(rows.filter((_, i) => i % 5 !== 0).map((r) => r.id));
    const rejects = readJsonl(join(stageDir, "rejects.jsonl"));
    expect(rejects.map((r) => r.id)).toEqual(expectedBad.map((r) => r.id));
    expect(rejects[0]).toMatchObject({ code: "contaminated", stage: "decontam", field: "prompt", loc: { file: "src.jsonl", line: 1 } });
    expect(rejects[0]!.message).toMatch(/^overlaps alpha #a1 by ngram in prompt "let x be the smallest/);
    const evidence = (rejects[1]!.record as Sample).meta.decontam as { matches: Array<Record<string, unknown>> };
    expect(evidence.matches).toEqual([expect.objectContaining({ benchmark: "beta", id: "b7", method: "ngram", field: "prompt", overlap: 1 })]);
    expect(builds).toBe(1);

    const again = await run(ITEMS);
    expect(again.stages[0]!.skipped).toBe(true);
    expect(builds).toBe(1); // the factory is never called for an up-to-date stage

    const changed = await run([ITEMS[0]!]);
    expect(changed.stages[0]!.skipped).toBe(false);
    expect(changed.stages[0]!.manifest.counts.rejected).toBe(4);

    const both = await run(ITEMS, ["prompt", "response"]);
    const bc = both.stages[0]!.manifest.counts;
    const dirty = rows.filter((_, i) => i % 5 === 0 || i % 7 === 0).length;
    expect(bc).toMatchObject({ in: 40, rejected: dirty, out: 40 - dirty });
    expect(bc.in).toBe(bc.out + bc.rejected + bc.deduplicated);
    const r0 = readJsonl(join(both.stages[0]!.dir, "rejects.jsonl"))[0]!;
    expect(r0.field).toBe("prompt,response");
  });
});

describe("decontamStage resume", () => {
  // Also the deprecated form (a bare factory with its identity in `params`), kept for callers of the old signature.
  it("a run that dies mid-way and is rerun writes the same shards and rejects as an uninterrupted run", async () => {
    const rows = samples(50);
    const params = benchmarkSetIdentity(ITEMS, { n: 8 });
    const build = ngramChecker(ITEMS);
    const runIn = async (dir: string, decontaminator: () => Promise<DecontamChecker>) =>
      runPipeline({
        name: "t",
        runsDir: dir,
        // Written once per dir: a new mtime would change the input key and void the checkpoint.
        source: { files: await resolveInputs(existsSync(join(dir, "input.jsonl")) ? join(dir, "input.jsonl") : writeShard(dir, rows)), decode: "samples" },
        stages: [decontamStage({ decontaminator, batchSize: 7, params })],
        shard: { maxRecords: 5 },
        logger: silentLogger,
        progress: false,
      });
    const clean = mkdtempSync(join(tmpdir(), "decontam-clean-"));
    const reference = await runIn(clean, build);

    const crashed = mkdtempSync(join(tmpdir(), "decontam-crash-"));
    let batches = 0;
    const dying = async (): Promise<DecontamChecker> => {
      const inner = await build();
      return {
        checkBatch: async (texts) => {
          if (++batches === 4) throw new Error("simulated crash");
          return inner.checkBatch(texts);
        },
      };
    };
    await expect(runIn(crashed, dying)).rejects.toThrow(/simulated crash/);
    const resumed = await runIn(crashed, build);
    expect(resumed.stages[0]!.resumed).toBe(true);
    const files = (dir: string, m: typeof reference) => [
      ...m.stages[0]!.manifest.shards.map((s) => readFileSync(join(dir, "t", "decontam", s.file), "utf8")),
      readFileSync(join(dir, "t", "decontam", "rejects.jsonl"), "utf8"),
    ];
    expect(files(crashed, resumed)).toEqual(files(clean, reference));
    expect(resumed.stages[0]!.manifest.counts).toEqual(reference.stages[0]!.manifest.counts);
    expect(resumed.stages[0]!.manifest.counters).toEqual(reference.stages[0]!.manifest.counters);
  });
});

describe("decontamStage unit", () => {
  const ctx = (rejected: unknown[], counts: Record<string, number>): StageContext =>
    ({
      reject: (record: unknown) => rejected.push(record),
      duplicate: () => {},
      count: (name: string, by = 1) => {
        counts[name] = (counts[name] ?? 0) + by;
      },
      logger: silentLogger,
      signal: new AbortController().signal,
      cacheDir: tmpdir(),
      seed: 0,
    }) as unknown as StageContext;

  it("never reads more than one batch ahead and counts every method", async () => {
    const rows = samples(10);
    let pulled = 0;
    const source = (async function* () {
      for (const r of rows) {
        pulled++;
        yield r;
      }
    })();
    const seenAt: number[] = [];
    const checker: IdentifiedDecontamChecker = {
      identity: "unit",
      async checkBatch(texts) {
        seenAt.push(pulled);
        return texts.map((t) =>
          /^Record [36] /.test(t)
            ? { contaminated: true, matches: [{ benchmark: "x", id: "1", method: "embedding", score: 0.93 }, { benchmark: "y", id: "2", method: "paraphrase", score: 0.81 }] }
            : { contaminated: false, matches: [] },
        );
      },
    };
    const stage = decontamStage({ decontaminator: checker, batchSize: 4 });
    const rejected: unknown[] = [];
    const counts: Record<string, number> = {};
    const out: Sample[] = [];
    for await (const s of stage.run(source, ctx(rejected, counts))) out.push(s);
    expect(seenAt).toEqual([4, 8, 10]);
    const dirty = rows.filter((r) => /^Record [36] /.test(r.prompt));
    expect(rejected).toHaveLength(dirty.length);
    expect(out).toHaveLength(rows.length - dirty.length);
    expect(dirty).toHaveLength(2);
    expect(counts).toMatchObject({ "contaminated.method.embedding": dirty.length, "contaminated.method.paraphrase": dirty.length, "contaminated.benchmark.x": dirty.length });
    expect(await stage.finish?.()).toMatchObject({ checked: 10, contaminated: dirty.length });
  });

  it("validates options and the checker's result count", async () => {
    const empty = { identity: "unit", checkBatch: async () => [] };
    expect(() => decontamStage({ decontaminator: empty, fields: [] })).toThrow(/fields is empty/);
    expect(() => decontamStage({ decontaminator: empty, fields: ["answer" as never] })).toThrow(/unknown field "answer"/);
    expect(() => decontamStage({ decontaminator: empty, batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => decontamStage({ decontaminator: async () => empty })).toThrow(/a factory decontaminator needs its identity/);
    expect(() => decontamStage({ decontaminator: { checkBatch: async () => [] } as never })).toThrow(/the checker has no identity/);
    expect(() => decontamStage({ decontaminator: empty, params: benchmarkSetIdentity(ITEMS, null) })).toThrow(/params is only for a bare factory/);
    expect(() => decontamStage({ decontaminator: { identity: 1, learnRecords: -1, build: async () => empty } })).toThrow(/learnRecords must be a non-negative integer/);
    const stage = decontamStage({ decontaminator: empty });
    const drain = async () => {
      for await (const _ of stage.run((async function* () { yield* samples(2); })(), ctx([], {}))) void _;
    };
    await expect(drain()).rejects.toThrow(/checker returned 0 results for 2 texts/);
  });

  it("benchmarkSetIdentity changes with any item id or text, not with meta", () => {
    const base = benchmarkSetIdentity(ITEMS, { n: 8 });
    expect(benchmarkSetIdentity(ITEMS.map((i) => ({ ...i, meta: { x: 1 } })), { n: 8 })).toEqual(base);
    expect(benchmarkSetIdentity([{ ...ITEMS[0]!, id: "a2" }, ITEMS[1]!], { n: 8 }).itemsSha256).not.toBe(base.itemsSha256);
    expect(benchmarkSetIdentity([{ ...ITEMS[0]!, text: `${ITEMS[0]!.text}!` }, ITEMS[1]!], { n: 8 }).itemsSha256).not.toBe(base.itemsSha256);
    expect(base.benchmarks).toEqual({ alpha: 1, beta: 1 });
  });
});
