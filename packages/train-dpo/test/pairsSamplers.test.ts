import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiskCache, makeSample, OpenAIChatClient, resolveInputs, runPipeline } from "@infialign/data";
import { ByteTokenizer, type GenerateFn, type GenerationRequest } from "@infialign/model";
import { type OpenAIServer, startOpenAIServer } from "@infialign/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PreferenceRecord, pairConstructionStage } from "../src/pairs/pairStage.js";
import { localSampler, openAISampler } from "../src/pairs/samplers.js";

const quiet = { info() {}, warn() {}, debug() {} };

describe("openAISampler inside the pair stage", () => {
  let server: OpenAIServer;
  let dir: string;
  const N = 12;
  beforeAll(async () => {
    // The SFT model answers "n+1" correctly for seeds 0 and 1 and "n+2" otherwise: pass rate 2/4 on every prompt;
    // prompts with n % 5 == 0 are always answered correctly; the server truncates seed 2 of n % 7 == 0.
    server = await startOpenAIServer({
      handler: (req) => {
        const n = Number(/n=(\d+)/.exec(req.messages.at(-1)!.content)![1]);
        const seed = req.seed ?? 0;
        if (n % 7 === 0 && seed === 2) return { content: "Let me think", finishReason: "length" };
        const answer = n % 5 === 0 || seed < 2 ? n + 1 : n + 2;
        return `<think>n is ${n}</think> The result is \\boxed{${answer}}.`;
      },
    });
    dir = await mkdtemp(join(tmpdir(), "dpo-openai-"));
    const samples = Array.from({ length: N }, (_, n) => makeSample({ source: "synthetic", prompt: `Add one to n=${n}.`, gold: String(n + 1), response: `${n} + 1 = ${n + 1}. \\boxed{${n + 1}}` }));
    await writeFile(join(dir, "in.jsonl"), `${samples.map((s) => JSON.stringify(s)).join("\n")}\n`);
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("samples k per prompt with seeds seed+i, verifies, and reuses persisted samples on a forced rerun", async () => {
    const client = new OpenAIChatClient({ baseURL: server.url, model: "test-model", concurrency: 3, backoff: { initialMs: 1, maxMs: 2 } });
    const sampler = openAISampler({ client, temperature: 0.6, maxTokens: 256, seed: 0 });
    const files = await resolveInputs(join(dir, "in.jsonl"));
    const run = (force: boolean) =>
      runPipeline({
        name: "openai",
        runsDir: dir,
        source: { files, decode: "samples" },
        stages: [pairConstructionStage({ k: 4, passRateBand: [0.25, 0.75], concurrency: 3 }, { sampler })],
        logger: quiet,
        progress: false,
        force,
      });
    const result = await run(false);
    const m = result.stages[0]!.manifest;
    // n = 5, 10: 4/4 correct (too easy); n = 0: 3/4 correct and its only incorrect response is truncated.
    expect(m.counts).toMatchObject({ in: N, out: N - 3, rejected: 3 });
    expect(m.counts.rejectedByReason).toEqual({ too_easy: 2, truncated: 1 });
    expect(server.requests).toHaveLength(N * 4);
    const seeds = server.requests.map((r) => (r.body as { seed: number }).seed).sort();
    expect(seeds.filter((s) => s === 3)).toHaveLength(N);
    expect(server.maxInFlight).toBeLessThanOrEqual(3);

    const parts = (await readdir(join(result.runDir, "dpo-pairs"))).filter((f) => f.startsWith("part-"));
    const pairs = (await Promise.all(parts.map((f) => readFile(join(result.runDir, "dpo-pairs", f), "utf8"))))
      .join("")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as PreferenceRecord);
    const p7 = pairs.find((p) => p.prompt[0]!.content === "Add one to n=7.")!;
    // Seed 2 was truncated (dropped by cleaning), so seed 3 is the rejected response.
    expect(p7.meta.rejected_index).toBe(3);
    expect(p7.meta.verifier.samples[2]).toMatchObject({ correct: false, dropped: "truncated", finishReason: "length" });
    expect(p7.rejected[0]!.content).toBe("<think>n is 7</think> The result is \\boxed{9}.");

    await run(true);
    expect(server.requests).toHaveLength(N * 4);
    await client.close();
  });
});

describe("localSampler", () => {
  it("encodes the chat, decodes the requested samples as one batch with seeds seed+i, and persists them", async () => {
    const tokenizer = new ByteTokenizer();
    const calls: GenerationRequest[][] = [];
    const generate: GenerateFn = async (_model, tok, requests) => {
      calls.push([...requests]);
      return requests.map((r) => [{ text: `seed ${r.seed}: \\boxed{${r.seed}}`, tokenIds: tok.encode("x"), logprobs: [-0.1], finishReason: "stop" as const }]);
    };
    const model = { vocabSize: tokenizer.vocabSize, maxPositions: 512, step: async () => ({}) as never, selectRows: () => ({}) as never };
    const sampler = localSampler({ generate, model, tokenizer, modelId: "tiny-sft@step-10", seed: 100, maxTokens: 64, temperature: 0.8 });
    expect(sampler.id).toContain("local:tiny-sft@step-10");
    const dir = await mkdtemp(join(tmpdir(), "dpo-local-"));
    try {
      const cache = new DiskCache(dir);
      const seen: number[] = [];
      const messages = [{ role: "user" as const, content: "What is 1+1?" }];
      const out = await sampler.sample({ messages, indices: [0, 2, 3], onSample: async (i, r) => {
        seen.push(i);
        await cache.set(`k${i}00`, r);
      } });
      expect(out.map((r) => r.text)).toEqual(["seed 100: \\boxed{100}", "seed 102: \\boxed{102}", "seed 103: \\boxed{103}"]);
      expect(seen).toEqual([0, 2, 3]);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.map((r) => [r.seed, r.n, r.maxNewTokens, r.temperature])).toEqual([
        [100, 1, 64, 0.8],
        [102, 1, 64, 0.8],
        [103, 1, 64, 0.8],
      ]);
      expect(calls[0]![0]!.promptIds).toEqual(tokenizer.encodeChat(messages, { addGenerationPrompt: true }));
      expect(await cache.get("k200")).toEqual({ text: "seed 102: \\boxed{102}", finishReason: "stop" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects invalid sampling settings", () => {
    const tokenizer = new ByteTokenizer();
    const generate: GenerateFn = async () => [];
    const model = { vocabSize: 1, maxPositions: 1, step: async () => ({}) as never, selectRows: () => ({}) as never };
    expect(() => localSampler({ generate, model, tokenizer, modelId: "m", temperature: -1, topP: 2 })).toThrow(/temperature must be >= 0, got -1; topP must be in \(0, 1\], got 2/);
  });
});
