// Serving throughput of infialign-serve: continuous batching (requests join and leave the running batch at every decode
// step) vs static batching (a request waits for the running generation call to end), same onnxruntime engine and random
// weights, for two model shapes. Usage: npx tsx bench/serve.ts [--quick] [--clients N] [--requests N] [--threads N]
// [--repeats N] [--models byte-260,vocab-32k]  (writes bench-results/serve.json).
// Each run starts the real HTTP server in a child process of its own (so its peak RSS is its own) and N clients (default
// 16) that each send their next /v1/completions request as soon as the previous one is answered, until the fixed list of
// requests is used up: prompts of 8–128 bytes and max_tokens of 16–128 (log-uniform, seeded, the same in every run),
// greedy with no stop tokens (not even EOS), so every request generates exactly max_tokens. Reported: requests/s and
// generated tokens/s over the whole list, requests per CPU-second of the run's process (server and its clients;
// steadier than wall time on a shared machine), the median request latency, decode steps and rows per step (how full
// the batch stays, whatever the hardware), where the time went (decode steps, prefill steps, cache copies), peak RSS.
// Modes alternate run by run; medians of --repeats runs (3).

import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRng } from "@infialign/kernels";
import { runBenchChild } from "@infialign/test-utils";
import { countParameters, type Qwen2Config } from "../src/config.js";
import type { DecodeModel } from "../src/engine.js";
import { OnnxQwen2Model } from "../src/onnx/engine.js";
import { randomQwen2Weights } from "../src/qwen2/randomWeights.js";
import { type BatchingMode, startServer } from "../src/serve/server.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";

const MODES = ["static", "continuous"] as const satisfies readonly BatchingMode[];

/**
 * The byte tokenizer without end-of-sequence ids (random weights sample EOS now and then, and every request must
 * generate exactly its max_tokens so that both modes do the same work); ids past the bytes and specials (which the
 * 32k-vocab model samples) decode as "?", a stand-in, since no one reads the text.
 */
class BenchTokenizer extends ByteTokenizer {
  override readonly eosTokenIds: readonly number[] = [];
  override decode(ids: Iterable<number>, options?: { skipSpecialTokens?: boolean }): string {
    const known = super.vocabSize;
    return super.decode(
      [...ids].map((id) => (id < known ? id : 63)),
      options,
    );
  }
}

const body = { hiddenSize: 256, intermediateSize: 768, numHiddenLayers: 10, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 64 };
const common = { maxPositionEmbeddings: 4096, rmsNormEps: 1e-6, ropeTheta: 1e6, tieWordEmbeddings: true, initializerRange: 0.02 };
/**
 * The shapes bench/onnx.ts uses: ~8M parameters with a byte vocabulary (a decode step's cost grows with its rows on a
 * CPU), and the same body with a 32k vocabulary, whose LM head makes a step's cost far less dependent on its rows
 * (weight reads dominate, as in serving a real model).
 */
const MODELS: Record<string, Qwen2Config> = {
  "byte-260": { ...body, ...common, vocabSize: new ByteTokenizer().vocabSize },
  "vocab-32k": { ...body, ...common, vocabSize: 32000 },
};

const argv = process.argv;
const quick = argv.includes("--quick");
const flag = (name: string, fallback: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const CLIENTS = flag("--clients", 16);
const REQUESTS = flag("--requests", quick ? 32 : 96);
const REPEATS = flag("--repeats", quick ? 1 : 3);
/** onnxruntime intra-op threads; 1 is often faster on a shared machine (see README). */
const THREADS = flag("--threads", availableParallelism());
const MAX_BATCH_SIZE = 16;

/** A seeded generator of floats in [0, 1) (@infialign/kernels' createRng), so every run serves the same requests. */
function rng(seed: number): () => number {
  const generator = createRng(seed >>> 0);
  return () => generator.nextFloat();
}

interface Workload {
  prompts: string[];
  maxTokens: number[];
}

function workload(count: number): Workload {
  const random = rng(7);
  const letters = "abcdefghijklmnopqrstuvwxyz ";
  const prompts: string[] = [];
  const maxTokens: number[] = [];
  for (let i = 0; i < count; i++) {
    const length = 8 + Math.floor(random() * 121);
    prompts.push(Array.from({ length }, () => letters[Math.floor(random() * letters.length)]).join(""));
    maxTokens.push(Math.round(16 * 8 ** random()));
  }
  return { prompts, maxTokens };
}

function emptyProfile() {
  return { decodeSteps: 0, decodeRows: 0, prefillSteps: 0, prefillTokenSlots: 0, decodeSeconds: 0, prefillSeconds: 0, cacheCopySeconds: 0 };
}

interface RunResult extends ReturnType<typeof emptyProfile> {
  mode: BatchingMode;
  model: string;
  repeat: number;
  requests: number;
  clients: number;
  seconds: number;
  requestsPerSecond: number;
  /** CPU time of the server process (every thread) over the run: less sensitive than wall time to other jobs' load. */
  cpuSeconds: number;
  requestsPerCpuSecond: number;
  tokensPerSecond: number;
  medianLatencySeconds: number;
  meanRowsPerDecodeStep: number;
  peakRssMiB: number;
  threads: number;
}

async function worker(mode: BatchingMode, name: string, repeat: number): Promise<RunResult> {
  const threads = THREADS;
  const config = MODELS[name] as Qwen2Config;
  const tokenizer = new BenchTokenizer();
  const model = await OnnxQwen2Model.create(config, randomQwen2Weights(config, { seed: 1, biasStd: 0.02 }), { threads });
  // Counts decode steps (one new token per row) and their rows: how full each mode keeps the batch, whatever the
  // hardware; and where the time goes (decode steps, prefill steps, cache copies by selectRows / mergeCaches).
  const profile = emptyProfile();
  const timed = <T>(key: "decodeSeconds" | "prefillSeconds" | "cacheCopySeconds", run: () => T): T => {
    const t0 = performance.now();
    const out = run();
    profile[key] += (performance.now() - t0) / 1000;
    return out;
  };
  const counting: DecodeModel = {
    vocabSize: model.vocabSize,
    maxPositions: model.maxPositions,
    step: async (input) => {
      const decode = input.cache !== undefined && input.newTokens === 1;
      if (decode) {
        profile.decodeSteps++;
        profile.decodeRows += input.batch;
      } else {
        profile.prefillSteps++;
        profile.prefillTokenSlots += input.batch * input.newTokens;
      }
      const t0 = performance.now();
      const out = await model.step(input);
      profile[decode ? "decodeSeconds" : "prefillSeconds"] += (performance.now() - t0) / 1000;
      return out;
    },
    selectRows: (cache, rows) => timed("cacheCopySeconds", () => model.selectRows(cache, rows)),
    mergeCaches: (parts, length) => timed("cacheCopySeconds", () => model.mergeCaches(parts, length)),
  };
  const server = await startServer({ model: counting, tokenizer, modelId: "bench", port: 0, batching: mode, maxBatchSize: MAX_BATCH_SIZE, maxQueue: 1024 });
  const url = `${server.url}/v1/completions`;
  const send = async (prompt: string, maxTokens: number) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "bench", prompt, max_tokens: maxTokens, temperature: 0 }),
    });
    const body = (await res.json()) as { usage?: { completion_tokens: number }; error?: { message: string } };
    if (res.status !== 200 || !body.usage) throw new Error(`[infialign/model] bench/serve: request failed with ${res.status}: ${body.error?.message}`);
    return body.usage.completion_tokens;
  };
  // Warm-up: the first steps pay for allocations and graph preparation.
  await Promise.all(Array.from({ length: 4 }, (_, i) => send(`warm up ${i}`, 4)));
  Object.assign(profile, emptyProfile());
  const { prompts, maxTokens } = workload(REQUESTS);
  let next = 0;
  let tokens = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const client = async () => {
    while (next < prompts.length) {
      const i = next++;
      const sent = performance.now();
      const generated = await send(prompts[i] as string, maxTokens[i] as number);
      tokens += generated;
      latencies.push((performance.now() - sent) / 1000);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await server.close();
  await model.dispose();
  const expected = maxTokens.reduce((a, b) => a + b, 0);
  if (tokens !== expected) throw new Error(`[infialign/model] bench/serve: generated ${tokens} tokens, expected ${expected}`);
  return {
    mode,
    model: name,
    repeat,
    requests: REQUESTS,
    clients: CLIENTS,
    seconds,
    requestsPerSecond: REQUESTS / seconds,
    cpuSeconds,
    requestsPerCpuSecond: REQUESTS / cpuSeconds,
    tokensPerSecond: tokens / seconds,
    medianLatencySeconds: median(latencies),
    ...profile,
    meanRowsPerDecodeStep: profile.decodeRows / profile.decodeSteps,
    peakRssMiB: (process.resourceUsage().maxRSS * 1024) / 2 ** 20,
    threads,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

interface Summary {
  requestsPerSecond: number;
  requestsPerCpuSecond: number;
  tokensPerSecond: number;
  medianLatencySeconds: number;
  decodeSteps: number;
  meanRowsPerDecodeStep: number;
  peakRssMiB: number;
}

function summarize(runs: RunResult[]): Summary {
  return {
    requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
    requestsPerCpuSecond: median(runs.map((r) => r.requestsPerCpuSecond)),
    tokensPerSecond: median(runs.map((r) => r.tokensPerSecond)),
    medianLatencySeconds: median(runs.map((r) => r.medianLatencySeconds)),
    decodeSteps: median(runs.map((r) => r.decodeSteps)),
    meanRowsPerDecodeStep: median(runs.map((r) => r.meanRowsPerDecodeStep)),
    peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
  };
}

const self = fileURLToPath(import.meta.url);
const workerAt = argv.indexOf("--worker");
if (workerAt >= 0) {
  const [mode, name, repeat] = [argv[workerAt + 1] as BatchingMode, argv[workerAt + 2] as string, Number(argv[workerAt + 3])];
  process.stdout.write(`${JSON.stringify(await worker(mode, name, repeat))}\n`);
} else {
  const loadBefore = loadavg()[0] as number;
  const names = argv.includes("--models") ? (argv[argv.indexOf("--models") + 1] as string).split(",") : Object.keys(MODELS);
  const results: RunResult[] = [];
  const { maxTokens } = workload(REQUESTS);
  console.log(`${REQUESTS} requests, ${CLIENTS} concurrent clients, max_tokens ${Math.min(...maxTokens)}–${Math.max(...maxTokens)} (${maxTokens.reduce((a, b) => a + b, 0)} tokens in all), onnxruntime (${THREADS} threads)`);
  const comparisons = [];
  for (const name of names) {
    if (!(name in MODELS)) throw new Error(`[infialign/model] bench/serve: --models: unknown model "${name}"; known: ${Object.keys(MODELS).join(", ")}`);
    console.log(`\n${name}: ${countParameters(MODELS[name] as Qwen2Config)} parameters`);
    // Alternated (static, continuous, static, …) so that a change in machine load hits both modes alike.
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      for (const mode of MODES) {
        const child = runBenchChild<RunResult>([...process.execArgv, self, ...argv.slice(2), "--worker", mode, name, String(repeat)]);
        if ("error" in child) throw new Error(`[infialign/model] bench/serve: ${name} ${mode} run ${repeat} failed: ${child.error}`);
        const r = child.value;
        results.push(r);
        console.log(
          `${r.mode.padEnd(10)} run ${repeat}  ${r.requestsPerSecond.toFixed(2).padStart(6)} req/s  ${r.tokensPerSecond.toFixed(0).padStart(5)} tok/s  median latency ${r.medianLatencySeconds.toFixed(2)} s  ${r.decodeSteps} decode steps (${r.meanRowsPerDecodeStep.toFixed(1)} rows each)  ${r.seconds.toFixed(1)} s = decode ${r.decodeSeconds.toFixed(1)} + prefill ${r.prefillSeconds.toFixed(1)} + cache copies ${r.cacheCopySeconds.toFixed(1)} + other  peak RSS ${r.peakRssMiB.toFixed(0)} MiB`,
        );
      }
    }
    const runs = results.filter((r) => r.model === name);
    const summary = Object.fromEntries(MODES.map((mode) => [mode, summarize(runs.filter((r) => r.mode === mode))])) as Record<BatchingMode, Summary>;
    comparisons.push({
      model: name,
      summary,
      /** Goal ≥ 2 (continuous batching issue): medians of wall-clock requests/s. */
      speedup: summary.continuous.requestsPerSecond / summary.static.requestsPerSecond,
      cpuSpeedup: summary.continuous.requestsPerCpuSecond / summary.static.requestsPerCpuSecond,
      /** Per alternated pair (static run i, continuous run i), which share the machine's load most closely. */
      pairSpeedups: Array.from({ length: REPEATS }, (_, i) => {
        const [a, b] = MODES.map((mode) => runs.find((r) => r.mode === mode && r.repeat === i) as RunResult);
        return (b as RunResult).requestsPerSecond / (a as RunResult).requestsPerSecond;
      }),
    });
  }
  console.log(`\n| model | batching | requests/s | requests per CPU-s | tokens/s | median latency | decode steps | rows per step | peak RSS |\n|---|---|---|---|---|---|---|---|---|`);
  for (const c of comparisons) {
    for (const mode of MODES) {
      const s = c.summary[mode];
      console.log(
        `| ${c.model} | ${mode} | ${s.requestsPerSecond.toFixed(2)} | ${s.requestsPerCpuSecond.toFixed(2)} | ${s.tokensPerSecond.toFixed(0)} | ${s.medianLatencySeconds.toFixed(2)} s | ${s.decodeSteps} | ${s.meanRowsPerDecodeStep.toFixed(1)} | ${s.peakRssMiB.toFixed(0)} MiB |`,
      );
    }
  }
  for (const c of comparisons) {
    console.log(
      `${c.model}: continuous ÷ static ${c.speedup.toFixed(2)}× requests/s, ${c.cpuSpeedup.toFixed(2)}× requests per CPU-second (medians of ${REPEATS}); per alternated pair ${c.pairSpeedups.map((x) => `${x.toFixed(2)}×`).join(", ")}`,
    );
  }
  const out = join(dirname(self), "..", "bench-results", "serve.json");
  mkdirSync(dirname(out), { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: availableParallelism(),
    loadavgBefore: loadBefore,
    loadavgAfter: loadavg()[0],
    quick,
    engine: "onnxruntime",
    models: Object.fromEntries(names.map((name) => [name, { parameters: countParameters(MODELS[name] as Qwen2Config), config: MODELS[name] }])),
    clients: CLIENTS,
    requests: REQUESTS,
    maxBatchSize: MAX_BATCH_SIZE,
    repeats: REPEATS,
    threads: THREADS,
    workload: "prompts of 8–128 random letters, max_tokens log-uniform in 16–128 (seed 7), greedy, no stop tokens",
  };
  writeFileSync(out, `${JSON.stringify({ meta, results, comparisons }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
