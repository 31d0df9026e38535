import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type OpenAIServer, startOpenAIServer } from "@infialign/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeStage, resolveInputs, runPipeline, type Stage, statsStage, teacherStage } from "../src/index.js";

// The teacher stage reads ahead (concurrent requests), so it resumes by replay: the
// runtime replays its input and suppresses what was already written, while the cache
// answers every request that had succeeded. This checks that path end to end.
const quiet = { info() {}, warn() {}, debug() {} };
const N = 120;

function reply(prompt: string) {
  const k = Number(/k=(\d+)/.exec(prompt)?.[1]);
  if (k % 17 === 0) return `<think>thinking about ${k}</think> I am not sure.`;
  if (k % 23 === 0) return { content: `<think>a very long thought about ${k}`, finishReason: "length" };
  return `<think>${k} plus one is ${k + 1}</think> The answer is $\\boxed{${k + 1}}$.`;
}

describe("teacher stage inside runPipeline", () => {
  let server: OpenAIServer;
  let dir: string;
  beforeAll(async () => {
    server = await startOpenAIServer({ handler: (req) => reply(req.messages.at(-1)?.content ?? "") });
    dir = await mkdtemp(join(tmpdir(), "infialign-teacher-pipeline-"));
    const lines = Array.from({ length: N }, (_, k) => JSON.stringify({ problem: `Compute k=${k} plus one.`, answer: String(k + 1) }));
    await writeFile(join(dir, "problems.jsonl"), `${lines.join("\n")}\n`);
  });
  afterAll(async () => server?.close());

  const stages = (crashAt?: { n: number }): Stage[] => [
    normalizeStage({}) as unknown as Stage,
    teacherStage({ baseURL: server.url, model: "test-model", concurrency: 4, backoff: { initialMs: 1, maxMs: 2 } }),
    {
      name: "downstream",
      params: {},
      async *run(records) {
        for await (const r of records) {
          if (crashAt && --crashAt.n === 0) throw new Error("simulated crash");
          yield r;
        }
      },
    },
    statsStage(),
  ];

  const run = async (name: string, crashAt?: { n: number }) =>
    runPipeline({ name, runsDir: dir, source: { files: await resolveInputs(join(dir, "problems.jsonl")) }, stages: stages(crashAt), shard: { maxRecords: 10 }, logger: quiet, progress: false });

  const text = async (name: string, stage: string, prefix: string) => {
    const files = (await readdir(join(dir, name, stage))).filter((f) => f.startsWith(prefix)).sort();
    return (await Promise.all(files.map((f) => readFile(join(dir, name, stage, f), "utf8")))).join("");
  };

  it("resumes after a crash with identical outputs and rejects, re-querying nothing that succeeded", async () => {
    const reference = await run("ref");
    const teacher = reference.stages[1]!.manifest;
    const expectedMissing = Array.from({ length: N }, (_, k) => k).filter((k) => k % 17 === 0).length;
    const expectedTruncated = Array.from({ length: N }, (_, k) => k).filter((k) => k % 23 === 0 && k % 17 !== 0).length;
    expect(teacher.counts).toMatchObject({ in: N, out: N - expectedMissing - expectedTruncated, rejected: expectedMissing + expectedTruncated });
    expect(teacher.counts.rejectedByReason).toEqual({ missing_final_answer: expectedMissing, teacher_truncated: expectedTruncated });
    const referenceRequests = server.requests.length;
    expect(referenceRequests).toBe(N);

    await expect(run("crash", { n: 57 })).rejects.toThrow("simulated crash");
    const beforeResume = server.requests.length;
    const resumed = await run("crash");
    expect(resumed.stages[1]!.resumed).toBe(true);
    // Every prompt was asked exactly once across the crashed run and the resume.
    expect(server.requests.length - referenceRequests).toBe(N);
    expect(beforeResume - referenceRequests).toBeGreaterThan(0);

    for (const stage of ["teacher", "downstream", "stats"]) {
      expect(await text("crash", stage, "part-"), stage).toBe(await text("ref", stage, "part-"));
    }
    expect(await text("crash", "teacher", "rejects")).toBe(await text("ref", "teacher", "rejects"));
    expect(resumed.stages[1]!.manifest.counts).toEqual(teacher.counts);
    expect(resumed.stages[3]!.manifest.stats).toEqual(reference.stages[3]!.manifest.stats);
  });
});
