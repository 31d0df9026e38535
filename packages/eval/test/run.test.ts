import { readFileSync, writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { startOpenAIServer } from "@infialign/test-utils";
import { describe, expect, it } from "vitest";
import { endpointRunner } from "../src/run/endpointRunner.js";
import { loadRun } from "../src/run/runDir.js";
import { runEvaluation } from "../src/run/runEvaluation.js";
import { readSamples } from "../src/run/samplesFile.js";
import type { SampleRecord } from "../src/types.js";
import { chatReply, expectedAccuracy, fakeMathServer, mathBench, PROBLEMS, protocol, scriptedServer, useTempDirs } from "./runHelpers.js";

const tmp = useTempDirs("eval-run-");

const chatRequests = (server: { requests: { path: string }[] }) => server.requests.filter((r) => r.path.endsWith("/chat/completions")).length;

async function setup(samples = 3) {
  const server = await fakeMathServer();
  const spec = mathBench();
  const items = await spec.load();
  const runner = endpointRunner({ baseUrl: server.url, model: "fake-math", sleep: async () => {} });
  return { server, spec, items, runner, proto: protocol(samples) };
}

describe("runEvaluation", () => {
  it("samples every item n times with seed + sampleIndex, grades, persists and summarizes", async () => {
    const { server, spec, items, runner, proto } = await setup(3);
    const out = tmp();
    try {
      const result = await runEvaluation({ benchmarks: [{ spec, items }], protocol: proto, runner, outDir: out, concurrency: 4, progress: false, now: () => new Date(0) });
      expect(chatRequests(server)).toBe(PROBLEMS * 3);
      const seeds = server.requests.filter((r) => r.path.endsWith("/chat/completions")).map((r) => (r.body as { seed: number }).seed);
      expect(new Set(seeds)).toEqual(new Set([7, 8, 9]));
      const body = server.requests.find((r) => r.path.endsWith("/chat/completions"))!.body as Record<string, unknown>;
      expect(body).toMatchObject({ model: "fake-math", temperature: 0.6, top_p: 0.95, max_tokens: 256 });
      expect(result.benchmarks[0]!.avgAtN).toBeCloseTo(expectedAccuracy(3, 7), 12);
      expect(result.average).toBeCloseTo(expectedAccuracy(3, 7), 12);
      expect(result.createdAt).toBe("1970-01-01T00:00:00.000Z");
      const { samples } = await readSamples(join(out, "samples.jsonl"));
      expect(samples).toHaveLength(PROBLEMS * 3);
      const s = samples.find((x) => x.itemId === "p1" && x.sampleIndex === 0)!;
      // (1 + 7) % 3 != 0: correct, extracted 2.
      expect(s.grade).toMatchObject({ correct: true });
      expect(s.completion).toContain("\\boxed{2}");
      const loaded = await loadRun(out);
      expect(loaded.result.benchmarks[0]!.avgAtN).toBe(result.benchmarks[0]!.avgAtN);
      expect(loaded.items.get("toy")?.get("p2")?.gold).toBe("4");
      // Per-item scores come with the result: no need to read the samples back.
      const bench = result.benchmarks[0]!;
      expect(Object.keys(bench.perItem)).toHaveLength(PROBLEMS);
      expect(Object.values(bench.perItem).reduce((a, b) => a + b, 0) / PROBLEMS).toBeCloseTo(bench.avgAtN, 12);
      expect(bench.perItem.p1).toBe(samples.filter((x) => x.itemId === "p1" && x.grade.correct).length / 3);
      expect(Object.values(bench.reasons).reduce((a, b) => a + b, 0)).toBe(PROBLEMS * 3);
      expect(loaded.result.benchmarks[0]!.perItem).toEqual(bench.perItem);
      // A results.json written before per-item scores existed gets them from its samples.
      const old = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
      for (const b of old.benchmarks) {
        delete b.perItem;
        delete b.reasons;
      }
      writeFileSync(join(out, "results.json"), JSON.stringify(old));
      expect((await loadRun(out)).result.benchmarks[0]).toEqual(bench);
    } finally {
      await runner.close?.();
      await server.close();
    }
  });

  it("resumes an interrupted run without re-querying, and ends with the uninterrupted result", async () => {
    const { server, spec, items, runner, proto } = await setup(4);
    const full = tmp();
    const partial = tmp();
    try {
      const reference = await runEvaluation({ benchmarks: [{ spec, items }], protocol: proto, runner, outDir: full, concurrency: 2, progress: false });
      const before = chatRequests(server);
      const stop = new AbortController();
      let seen = 0;
      await expect(
        runEvaluation({
          benchmarks: [{ spec, items }],
          protocol: proto,
          runner,
          outDir: partial,
          concurrency: 2,
          progress: false,
          signal: stop.signal,
          onSample: () => {
            if (++seen === 7) stop.abort(new Error("interrupted"));
          },
        }),
      ).rejects.toThrow("interrupted");
      const saved = (await readSamples(join(partial, "samples.jsonl"))).samples.length;
      expect(saved).toBeGreaterThanOrEqual(7);
      expect(saved).toBeLessThan(PROBLEMS * 4);
      const firstLeg = chatRequests(server) - before;
      const resumed = await runEvaluation({ benchmarks: [{ spec, items }], protocol: proto, runner, outDir: partial, concurrency: 2, progress: false });
      // The resumed leg requests exactly the samples not saved (one in flight at the abort was cut and not saved).
      expect(chatRequests(server) - before - firstLeg).toBe(PROBLEMS * 4 - saved);
      expect(resumed.resumedSamples).toBe(saved);
      expect(resumed.benchmarks).toEqual(reference.benchmarks);
      const again = await runEvaluation({ benchmarks: [{ spec, items }], protocol: proto, runner, outDir: partial, progress: false });
      expect(again.newSamples).toBe(0);
    } finally {
      await runner.close?.();
      await server.close();
    }
  });

  it("drops a torn last line and requests only that sample again", async () => {
    const { server, spec, items, runner, proto } = await setup(2);
    const out = tmp();
    try {
      const reference = await runEvaluation({ benchmarks: [{ spec, items }], protocol: proto, runner, outDir: out, progress: false });
      const path = join(out, "samples.jsonl");
      const lines = readFileSync(path, "utf8").trimEnd().split("\n");
      const last = JSON.parse(lines.at(-1)!) as SampleRecord;
      writeFileSync(path, `${lines.slice(0, -1).join("\n")}\n${lines.at(-1)!.slice(0, 25)}`);
      const read = await readSamples(path);
      expect(read.tornTail).toBe(true);
      expect(read.samples).toHaveLength(lines.length - 1);
      const before = chatRequests(server);
      const resumed = await runEvaluation({ benchmarks: [{ spec, items }], protocol: proto, runner, outDir: out, progress: false });
      expect(chatRequests(server) - before).toBe(1);
      const seedOfRepeat = (server.requests.at(-1)!.body as { seed: number }).seed;
      expect(seedOfRepeat).toBe(7 + last.sampleIndex);
      expect(resumed.benchmarks).toEqual(reference.benchmarks);
      const after = await readSamples(path);
      expect(after.tornTail).toBe(false);
      expect(after.samples).toHaveLength(lines.length);
    } finally {
      await runner.close?.();
      await server.close();
    }
  });

  it("keeps at most `concurrency` requests in flight and reports progress per sample", async () => {
    const server = await startOpenAIServer({ handler: async () => new Promise((r) => setTimeout(() => r("\\boxed{0}"), 50)) });
    const spec = mathBench();
    const items = await spec.load();
    const runner = endpointRunner({ baseUrl: server.url, model: "m", sleep: async () => {} });
    const events: string[] = [];
    const progress = { start: (total: number | undefined, label: string) => events.push(`start ${total} ${label}`), update: (done: number) => events.push(`update ${done}`), stop: () => events.push("stop") };
    try {
      await runEvaluation({ benchmarks: [{ spec, items }], protocol: protocol(2), runner, outDir: tmp(), concurrency: 3, progress });
      expect(server.maxInFlight).toBe(3);
      expect(events).toEqual([`start ${PROBLEMS * 2} eval m`, ...[...Array(PROBLEMS * 2)].map((_, i) => `update ${i + 1}`), "stop"]);
    } finally {
      await runner.close?.();
      await server.close();
    }
  });

  it("rejects a corrupt line before the end, naming the file and line", async () => {
    const out = tmp();
    const path = join(out, "samples.jsonl");
    writeFileSync(path, '{"benchmark":"a","itemId":"1","sampleIndex":0,"grade":{"correct":true}}\n{oops\n');
    await appendFile(path, '{"benchmark":"a","itemId":"2","sampleIndex":0,"grade":{"correct":true}}\n');
    await expect(readSamples(path)).rejects.toThrow(/samples\.jsonl line 2 is not valid JSON/);
  });

  it("refuses to resume a run directory of another protocol", async () => {
    const { server, spec, items, runner, proto } = await setup(1);
    const out = tmp();
    try {
      await runEvaluation({ benchmarks: [{ spec, items }], protocol: proto, runner, outDir: out, progress: false });
      await expect(runEvaluation({ benchmarks: [{ spec, items }], protocol: { ...proto, temperature: 1 }, runner, outDir: out, progress: false })).rejects.toThrow(/another protocol/);
      // More samples per item under the same sampling settings is a valid resume.
      const more = await runEvaluation({ benchmarks: [{ spec, items }], protocol: { ...proto, samples: { default: 2 } }, runner, outDir: out, progress: false });
      expect(more).toMatchObject({ resumedSamples: PROBLEMS, newSamples: PROBLEMS });
    } finally {
      await runner.close?.();
      await server.close();
    }
  });

  it("stops on a request that fails for good, keeping what was saved", async () => {
    const server = await startOpenAIServer({
      handler: () => "\\boxed{0}",
      faultFor: (req) => (/Problem 4:/.test(req.messages.at(-1)?.content ?? "") ? "400" : undefined),
    });
    const spec = mathBench();
    const items = await spec.load();
    const runner = endpointRunner({ baseUrl: server.url, model: "m", sleep: async () => {} });
    const out = tmp();
    try {
      await expect(runEvaluation({ benchmarks: [{ spec, items }], protocol: protocol(1), runner, outDir: out, concurrency: 1, progress: false })).rejects.toThrow(/rerun resumes.*HTTP 400/s);
      const { samples } = await readSamples(join(out, "samples.jsonl"));
      expect(samples.map((s) => s.itemId)).toEqual(["p0", "p1", "p2", "p3"]);
    } finally {
      await runner.close?.();
      await server.close();
    }
  });

  it("lets a rerun change the settings when the first run saved no sample: an empty run carries no protocol", async () => {
    const server = await startOpenAIServer({ handler: () => "\\boxed{0}", faults: ["400"] });
    const spec = mathBench();
    const items = await spec.load();
    const runner = endpointRunner({ baseUrl: server.url, model: "m", sleep: async () => {} });
    const out = tmp();
    try {
      await expect(runEvaluation({ benchmarks: [{ spec, items }], protocol: protocol(1), runner, outDir: out, concurrency: 1, progress: false })).rejects.toThrow(/HTTP 400/);
      expect((await readSamples(join(out, "samples.jsonl"))).samples).toHaveLength(0);
      const other = { ...protocol(1), temperature: 0, maxTokens: 128 };
      const rerun = await runEvaluation({ benchmarks: [{ spec, items }], protocol: other, runner, outDir: out, progress: false });
      expect(rerun.newSamples).toBe(PROBLEMS);
      // The settings of the run that saved samples now bind the directory.
      expect(JSON.parse(readFileSync(join(out, "run.json"), "utf8")).protocol).toMatchObject({ temperature: 0, maxTokens: 128 });
      await expect(runEvaluation({ benchmarks: [{ spec, items }], protocol: protocol(1), runner, outDir: out, progress: false })).rejects.toThrow(/another protocol/);
    } finally {
      await runner.close?.();
      await server.close();
    }
  });

  it("never saves a reply with content null as a graded sample: it is retried, then the run stops naming it", async () => {
    // Problem 0's first two replies are malformed; its third is fine. Problem 3 never gets a well-formed reply.
    const server = await scriptedServer((path, body) => {
      if (path === "/v1/models") return { json: { data: [] } };
      const messages = (body?.messages ?? []) as { content: string }[];
      const problem = /Problem (\d+):/.exec(messages.at(-1)?.content ?? "")?.[1];
      const tries = server.requests.filter((r) => r.path === path && JSON.stringify(r.body) === JSON.stringify(body)).length;
      if ((problem === "0" && tries <= 2) || problem === "3") return { json: { choices: [{ message: { content: null } }] } };
      return { json: chatReply(`\\boxed{${2 * Number(problem)}}`) };
    });
    const spec = mathBench();
    const items = await spec.load();
    const runner = endpointRunner({ baseUrl: server.url, model: "m", maxRetries: 2, sleep: async () => {} });
    const out = tmp();
    try {
      await expect(runEvaluation({ benchmarks: [{ spec, items }], protocol: protocol(1), runner, outDir: out, concurrency: 1, progress: false })).rejects.toThrow(
        /stopped after 3 new samples.*endpoint-runner: POST .* failed after 3 attempts: response is not a chat completion/s,
      );
      const { samples } = await readSamples(join(out, "samples.jsonl"));
      expect(samples.map((x) => x.itemId)).toEqual(["p0", "p1", "p2"]);
      expect(samples.every((x) => x.grade.correct)).toBe(true);
      expect(samples.some((x) => x.grade.reason === "no_answer")).toBe(false);
    } finally {
      await runner.close?.();
      await server.close();
    }
  });

  it("never saves a sandbox_unavailable grade; the run stops and a rerun asks for that sample again", async () => {
    const server = await fakeMathServer();
    const base = mathBench();
    let sandboxUp = false;
    const spec = { ...base, grade: async (item: Parameters<typeof base.grade>[0], completion: string) => (sandboxUp || item.id !== "p2" ? base.grade(item, completion) : { correct: false, reason: "sandbox_unavailable" }) };
    const items = await spec.load();
    const runner = endpointRunner({ baseUrl: server.url, model: "m", sleep: async () => {} });
    const out = tmp();
    try {
      await expect(runEvaluation({ benchmarks: [{ spec, items }], protocol: protocol(1), runner, outDir: out, concurrency: 1, progress: false })).rejects.toThrow(
        /toy item "p2" sample 0 could not be graded because the code sandbox is unavailable.*it was not saved/,
      );
      const { samples } = await readSamples(join(out, "samples.jsonl"));
      expect(samples.map((x) => x.itemId)).toEqual(["p0", "p1"]);
      sandboxUp = true;
      const rerun = await runEvaluation({ benchmarks: [{ spec, items }], protocol: protocol(1), runner, outDir: out, progress: false });
      expect(rerun).toMatchObject({ resumedSamples: 2, newSamples: PROBLEMS - 2 });
    } finally {
      await runner.close?.();
      await server.close();
    }
  });
});
