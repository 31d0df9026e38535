import { join } from "node:path";
import { type OpenAIServer, type OpenAIServerOptions, runCli, startOpenAIServer } from "@infialign/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../src/cli/program.js";
import { endpointRunner } from "../src/run/endpointRunner.js";
import { runEvaluation } from "../src/run/runEvaluation.js";
import { readSamples } from "../src/run/samplesFile.js";
import { answersCorrectly, expectedAccuracy, mathBench, PROBLEMS, protocol, useTempDirs } from "./runHelpers.js";

const tmp = useTempDirs("eval-fleet-");
const servers: OpenAIServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close().catch(() => {})));
});

/** The fake math model of `fakeMathServer`, with the test server's fault options. */
async function mathServer(opts: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const s = await startOpenAIServer({
    handler: (req) => {
      const i = Number(/Problem (\d+):/.exec(req.messages.at(-1)?.content ?? "")?.[1] ?? -1);
      const answer = answersCorrectly(i, req.seed ?? 0) ? 2 * i : 2 * i + 1;
      return `The answer is \\boxed{${answer}}.`;
    },
    ...opts,
  });
  servers.push(s);
  return s;
}

async function deadServer(): Promise<OpenAIServer> {
  const s = await startOpenAIServer();
  await s.close();
  return s;
}

const chats = (s: OpenAIServer) => s.requests.filter((r) => r.path === "/v1/chat/completions").length;

describe("endpointRunner with several base URLs", () => {
  for (const logprobs of [false, true]) {
    it(`routes around a down and a failing server and samples what one server samples (logprobs: ${logprobs})`, async () => {
      const dead = await deadServer();
      const failing = await mathServer({ faultFor: () => "500" });
      const a = await mathServer();
      const b = await mathServer();
      const spec = mathBench();
      const items = await spec.load();
      const proto = protocol(4);
      const fleet = endpointRunner({ baseUrl: [dead.url, failing.url, a.url, b.url], model: "m", logprobs, sleep: async () => {}, warn: () => {} });
      const single = endpointRunner({ baseUrl: a.url, model: "m", logprobs, sleep: async () => {}, warn: () => {} });
      const [fleetDir, singleDir] = [tmp(), tmp()];
      try {
        const viaFleet = await runEvaluation({ benchmarks: [{ spec, items }], protocol: proto, runner: fleet, outDir: fleetDir, concurrency: 8, progress: false, now: () => new Date(0) });
        const stats = fleet.endpointStats();
        const viaOne = await runEvaluation({ benchmarks: [{ spec, items }], protocol: proto, runner: single, outDir: singleDir, concurrency: 8, progress: false, now: () => new Date(0) });
        expect(viaFleet.benchmarks[0]!.avgAtN).toBeCloseTo(expectedAccuracy(4, 7), 12);
        expect(viaFleet.benchmarks).toEqual(viaOne.benchmarks);
        const strip = (s: { completion: string; itemId: string; sampleIndex: number }) => `${s.itemId}/${s.sampleIndex}: ${s.completion}`;
        const samples = async (dir: string) => (await readSamples(join(dir, "samples.jsonl"))).samples.map(strip).sort();
        expect(await samples(fleetDir)).toEqual(await samples(singleDir));
        expect(stats.map((s) => s.state)).toEqual(["down", expect.any(String), "up", "up"]);
        expect(stats[0]!.requests).toBe(0);
        expect(stats[1]!.successes).toBe(0);
        expect(stats[2]!.successes + stats[3]!.successes).toBe(PROBLEMS * 4);
        expect(stats[2]!.successes).toBeGreaterThan(0);
        expect(stats[3]!.successes).toBeGreaterThan(0);
        expect(chats(a) - stats[2]!.successes).toBe(PROBLEMS * 4);
      } finally {
        await fleet.close?.();
        await single.close?.();
      }
    });
  }

  it("reads the context length from the first server that answers GET /models", async () => {
    const dead = await deadServer();
    const a = await mathServer({ models: ["m"] });
    const warnings: string[] = [];
    const runner = endpointRunner({ baseUrl: [dead.url, a.url], model: "m", sleep: async () => {}, warn: (m) => warnings.push(m) });
    try {
      const [item] = await mathBench().load();
      expect((await runner.complete(item!, 0, protocol(1))).text).toContain("\\boxed{");
      expect(warnings).toEqual([]);
    } finally {
      await runner.close?.();
    }
    const alsoDead = await deadServer();
    const lost = endpointRunner({ baseUrl: [dead.url, alsoDead.url], model: "m", maxRetries: 1, sleep: async () => {}, warn: (m) => warnings.push(m) });
    const [item] = await mathBench().load();
    await expect(lost.complete(item!, 0, protocol(1))).rejects.toThrow(/^\[infialign\/eval\] endpoint-runner: POST \/chat\/completions \(model "m"\) failed after 2 attempts on 2 endpoints/);
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`from GET ${dead.url}/models \\(fetch failed\\), GET ${alsoDead.url}/models \\(fetch failed\\)`))]);
    await lost.close?.();
  });
});

describe("infialign-eval run with several --base-url", () => {
  it("takes repeated and comma-separated URLs as one fleet and prints per-server stats", async () => {
    const dead = await deadServer();
    const [a, b] = [await mathServer(), await mathServer()];
    const out = tmp();
    const args = ["--model", "m", "--benchmarks", "aime24", "--limit", "3", "--max-tokens", "64", "--context-length", "4096", "--out", out];
    const run = await runCli(main, ["run", "--base-url", `${dead.url},${a.url}`, "--base-url", b.url, ...args], "", () => false);
    expect(run.code).toBe(0);
    expect(chats(a) + chats(b)).toBe(3);
    const lines = run.err.split("\n").filter((l) => l.includes("requests,"));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain(`${dead.url} [down]: 0 requests`);
    expect(lines[1]).toMatch(new RegExp(`${a.url} \\[up\\]: \\d+ requests`));

    const twice = await runCli(main, ["run", "--base-url", `${a.url},${a.url}/`, ...args], "", () => false);
    expect(twice.code).toBe(2);
    expect(twice.err).toMatch(/--base-url lists a server twice/);
  });
});
