import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { boundedJsonValue, exceedsJsonDepth, normalizeStage, resolveInputs, runPipeline, type Stage } from "../src/index.js";
import { parseJsonArrayChunks, parseJsonlChunks } from "../src/readers/index.js";
import type { RawRecord } from "../src/runtime/types.js";

const quiet = { info() {}, warn() {}, debug() {} };

async function collect(source: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of source) out.push(r);
  return out;
}

async function* once(text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text);
}

function depthOf(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

/** The record: about 10 KB, 5,000 levels deep in the field the adapter reads. */
const deepRecord = `{"problem":${"[".repeat(5000)}${"]".repeat(5000)},"solution":"\\\\boxed{1}"}`;
const okRecord = (n: number) => JSON.stringify({ problem: `What is ${n}+${n}?`, solution: `\\boxed{${2 * n}}` });

describe("exceedsJsonDepth", () => {
  it("agrees with the depth of the parsed value; brackets inside strings do not count (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8, stringUnit: fc.constantFrom("[", "{", "\\", '"', "a") }), fc.integer({ min: 0, max: 8 }), (value, max) => {
        const buf = Buffer.from(JSON.stringify(value));
        expect(exceedsJsonDepth(buf, 0, buf.length, max)).toBe(depthOf(value) > max);
      }),
    );
  });

  it("bounds a value that JSON.stringify cannot serialize", () => {
    const deep = JSON.parse(deepRecord);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    const bounded = JSON.stringify(boundedJsonValue(deep, 4));
    expect(bounded).toBe('{"problem":[[["[truncated: nested deeper than 4 levels]"]]],"solution":"\\\\boxed{1}"}');
  });
});

describe("readers reject records nested deeper than maxDepth", () => {
  it("JSON Lines: too_deep with the line and a bounded preview; the next line is read", async () => {
    const records = await collect(parseJsonlChunks(once(`${okRecord(1)}\n${deepRecord}\n${okRecord(2)}\n`), "deep.jsonl"));
    expect(records.map((r) => (r.ok ? "ok" : `${r.code}@${r.loc.line}`))).toEqual(["ok", "too_deep@2", "ok"]);
    const reject = records[1] as Extract<RawRecord, { ok: false }>;
    expect(reject.message).toMatch(/line 2 nests arrays\/objects more than maxDepth \(256\) levels deep/);
    expect(reject.raw!.length).toBe(2048);
    const raised = await collect(parseJsonlChunks(once(`${deepRecord}\n`), "deep.jsonl", { maxDepth: 6000 }));
    expect(raised[0]!.ok).toBe(true);
  });

  it("JSON arrays: too_deep with the row and line; the next element is read", async () => {
    const records = await collect(parseJsonArrayChunks(once(`[${okRecord(1)},\n${deepRecord},\n${okRecord(2)}]`), "deep.json", { maxDepth: 100 }));
    expect(records.map((r) => (r.ok ? "ok" : `${r.code}@${r.loc.line}#${r.loc.row}`))).toEqual(["ok", "too_deep@2#1", "ok"]);
  });
});

describe("runPipeline with a deeply nested record", () => {
  async function run(maxDepth?: number, stages?: Stage<never, never, unknown>[]) {
    const dir = await mkdtemp(join(tmpdir(), "infialign-deep-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, `${okRecord(1)}\n${deepRecord}\n${okRecord(2)}\n`);
    const result = await runPipeline({
      name: "t",
      runsDir: dir,
      source: { files: await resolveInputs(input), ...(maxDepth ? { readOptions: { maxDepth } } : {}) },
      stages: stages ?? [normalizeStage({}) as Stage<never, never, unknown>],
      logger: quiet,
      progress: false,
    });
    const stageDir = join(dir, "t", result.stages[result.stages.length - 1]!.name);
    const rejects = (await readFile(join(stageDir, "rejects.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    return { result, rejects, input, stageDir };
  }

  it("ends as a too_deep reject with file and line, and the run goes on to its manifest", async () => {
    // Regression: JSON.stringify of the reject overflowed the stack and aborted the run.
    const { result, rejects, input, stageDir } = await run();
    expect(result.stages[0]!.manifest.counts).toMatchObject({ in: 3, out: 2, rejected: 1, rejectedByReason: { too_deep: 1 } });
    expect(existsSync(join(stageDir, "manifest.json"))).toBe(true);
    expect(rejects).toMatchObject([{ code: "too_deep", loc: { file: input, line: 2 } }]);
  });

  it("still writes a bounded reject when maxDepth is raised past what the stack can serialize", async () => {
    const { result, rejects, input } = await run(100_000);
    expect(result.stages[0]!.manifest.counts).toMatchObject({ in: 3, out: 2, rejected: 1 });
    expect(rejects).toMatchObject([{ code: "wrong_type", loc: { file: input, line: 2 }, recordTruncated: expect.stringMatching(/could not be serialized/) }]);
  });

  it("reads back its own shards whatever their depth (maxDepth limits sources, not shards)", async () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    const deepen: Stage = {
      name: "deepen",
      params: {},
      async *run(records) {
        for await (const r of records) yield { ...r, meta: { ...r.meta, deep: nest(300) } };
      },
    };
    const tail = (version: string): Stage => ({ name: "tail", params: {}, version, async *run(records) {
      yield* records;
    } });
    const dir = await mkdtemp(join(tmpdir(), "infialign-deep-"));
    const input = join(dir, "pool.jsonl");
    await writeFile(input, `${okRecord(1)}\n`);
    const files = await resolveInputs(input);
    const stages = (v: string) => [normalizeStage({}), deepen, tail(v)] as Stage<never, never, unknown>[];
    await runPipeline({ name: "t", runsDir: dir, source: { files }, stages: stages("1"), logger: quiet, progress: false });
    const again = await runPipeline({ name: "t", runsDir: dir, source: { files }, stages: stages("2"), logger: quiet, progress: false });
    expect(again.stages.map((s) => [s.skipped, s.manifest.counts.out])).toEqual([[true, 1], [true, 1], [false, 1]]);
  });

  it("rejects an output record that cannot be written as JSON instead of aborting", async () => {
    const withBigInt: Stage = {
      name: "bigint",
      params: {},
      async *run(records) {
        let i = 0;
        for await (const r of records) yield i++ === 0 ? { ...r, meta: { ...r.meta, n: 10n } } : r;
      },
    };
    const { result, rejects } = await run(undefined, [normalizeStage({}), withBigInt] as Stage<never, never, unknown>[]);
    expect(result.stages[1]!.manifest.counts).toMatchObject({ in: 2, out: 1, rejected: 1, rejectedByReason: { unserializable: 1 } });
    expect(rejects[0]).toMatchObject({ code: "unserializable", loc: { line: 1 }, record: { meta: { n: "10" } } });
  });
});
