// Inference speed of the onnxruntime engine (OnnxQwen2Model) vs the tfjs model on the wasm backend, same random weights.
// Usage: npx tsx bench/onnx.ts [--quick]  (writes bench-results/onnx.json). Every (engine, model) pair runs in its own
// child process, so peak RSS is that engine's alone; onnxruntime rates are medians of 3 runs after a warm-up. Reported: session/model creation time, prefill tokens/s (whole
// prompts, last-position logits), decode tokens/s (one token per row per step on the KV cache, greedy), peak RSS.
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { selectBackend } from "@infialign/kernels/tfjs";
import { runBenchChild } from "@infialign/test-utils";
import { countParameters, type Qwen2Config } from "../src/config.js";
import type { DecodeModel, KvCache, NamedTensors } from "../src/engine.js";
import { OnnxQwen2Model } from "../src/onnx/engine.js";
import { Qwen2Model } from "../src/qwen2/model.js";
import { randomQwen2Weights } from "../src/qwen2/randomWeights.js";

/** onnxruntime with its default thread count (all cores), pinned to one thread, and the tfjs model on tfjs-wasm. */
const ENGINES = ["onnxruntime", "onnxruntime-1thread", "tfjs-wasm"] as const;
type Engine = (typeof ENGINES)[number];

const body = { hiddenSize: 256, intermediateSize: 768, numHiddenLayers: 10, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 64 };
const common = { maxPositionEmbeddings: 4096, rmsNormEps: 1e-6, ropeTheta: 1e6, tieWordEmbeddings: true, initializerRange: 0.02 };
/** ~8M parameters with a byte vocabulary, and the same body with a 32k vocabulary (LM head dominates decode). */
const MODELS: Record<string, Qwen2Config> = {
  "byte-260": { ...body, ...common, vocabSize: 260 },
  "vocab-32k": { ...body, ...common, vocabSize: 32000 },
};

const quick = process.argv.includes("--quick");
const PREFILL = { batch: 4, tokens: 128, repeats: quick ? 1 : 3 };
/** 256 new tokens after a 16-token prompt, as the issue's generation benchmark; tfjs-wasm runs once (it takes minutes). */
const DECODE = { prompt: 16, steps: quick ? 16 : 256, batches: [1, 8], repeats: (engine: Engine) => (quick || engine === "tfjs-wasm" ? 1 : 3) };

interface WorkerResult {
  engine: Engine;
  model: string;
  parameters: number;
  threads: number;
  createSeconds: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: Record<string, number>;
  peakRssMiB: number;
}


async function createModel(engine: Engine, config: Qwen2Config, weights: NamedTensors): Promise<{ model: DecodeModel; threads: number; dispose: () => Promise<void> }> {
  switch (engine) {
    case "onnxruntime":
    case "onnxruntime-1thread": {
      const threads = engine === "onnxruntime" ? availableParallelism() : 1;
      const model = await OnnxQwen2Model.create(config, weights, { threads });
      return { model, threads, dispose: () => model.dispose() };
    }
    case "tfjs-wasm": {
      const info = await selectBackend({ prefer: "wasm" });
      const model = Qwen2Model.fromWeights(config, weights);
      return { model, threads: info.threads, dispose: async () => model.dispose() };
    }
  }
}

function argmaxRows(logits: Float32Array, rows: number, vocab: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let v = 1; v < vocab; v++) if ((logits[r * vocab + v] as number) > (logits[r * vocab + best] as number)) best = v;
    out[r] = best;
  }
  return out;
}

async function prefillTokensPerSecond(model: DecodeModel, vocab: number): Promise<number> {
  const { batch, tokens } = PREFILL;
  const input = {
    ids: Int32Array.from({ length: batch * tokens }, (_, i) => (i * 7919) % vocab),
    batch,
    newTokens: tokens,
    positionIds: Int32Array.from({ length: batch * tokens }, (_, i) => i % tokens),
    keyMask: new Uint8Array(batch * tokens).fill(1),
  };
  (await model.step(input)).cache.dispose(); // warm-up: first run pays for allocations and kernel selection
  const rates: number[] = [];
  for (let r = 0; r < PREFILL.repeats; r++) {
    const t0 = performance.now();
    (await model.step(input)).cache.dispose();
    rates.push((batch * tokens) / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

function median(xs: number[]): number {
  return [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
}

async function decodeTokensPerSecond(model: DecodeModel, vocab: number, batch: number): Promise<number> {
  const { prompt, steps } = DECODE;
  let out = await model.step({
    ids: Int32Array.from({ length: batch * prompt }, (_, i) => (i * 31) % vocab),
    batch,
    newTokens: prompt,
    positionIds: Int32Array.from({ length: batch * prompt }, (_, i) => i % prompt),
    keyMask: new Uint8Array(batch * prompt).fill(1),
  });
  let cache: KvCache = out.cache;
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    out = await model.step({
      ids: argmaxRows(out.logits, batch, vocab),
      batch,
      newTokens: 1,
      positionIds: new Int32Array(batch).fill(prompt + s),
      keyMask: new Uint8Array(batch * (prompt + s + 1)).fill(1),
      cache,
    });
    cache.dispose();
    cache = out.cache;
  }
  const seconds = (performance.now() - t0) / 1000;
  cache.dispose();
  return (batch * steps) / seconds;
}

async function worker(engine: Engine, name: string): Promise<WorkerResult> {
  const config = MODELS[name] as Qwen2Config;
  const weights = randomQwen2Weights(config, { seed: 1, biasStd: 0.02 });
  const t0 = performance.now();
  const { model, threads, dispose } = await createModel(engine, config, weights);
  const createSeconds = (performance.now() - t0) / 1000;
  const prefill = await prefillTokensPerSecond(model, config.vocabSize);
  const decode: Record<string, number> = {};
  for (const batch of DECODE.batches) {
    const rates: number[] = [];
    for (let r = 0; r < DECODE.repeats(engine); r++) rates.push(await decodeTokensPerSecond(model, config.vocabSize, batch));
    decode[`batch${batch}`] = median(rates);
  }
  await dispose();
  return {
    engine,
    model: name,
    parameters: countParameters(config),
    threads,
    createSeconds,
    prefillTokensPerSecond: prefill,
    decodeTokensPerSecond: decode,
    peakRssMiB: (process.resourceUsage().maxRSS * 1024) / 2 ** 20,
  };
}

const self = fileURLToPath(import.meta.url);
const workerAt = process.argv.indexOf("--worker");
if (workerAt >= 0) {
  const [engine, name] = process.argv.slice(workerAt + 1) as [Engine, string];
  process.stdout.write(`${JSON.stringify(await worker(engine, name))}\n`);
} else {
  const results: WorkerResult[] = [];
  const loadBefore = loadavg()[0] as number;
  for (const name of Object.keys(MODELS)) {
    for (const engine of ENGINES) {
      const run = runBenchChild<WorkerResult>([...process.execArgv, self, "--worker", engine, name, ...(quick ? ["--quick"] : [])]);
      if ("error" in run) throw new Error(`[infialign/model] bench/onnx: worker ${engine} ${name} failed: ${run.error}`);
      const result = run.value;
      results.push(result);
      console.log(
        `${name.padEnd(10)} ${engine.padEnd(12)} create ${result.createSeconds.toFixed(2)} s  prefill ${result.prefillTokensPerSecond.toFixed(0)} tok/s  decode ${Object.entries(
          result.decodeTokensPerSecond,
        )
          .map(([k, v]) => `${k} ${v.toFixed(0)}`)
          .join(", ")} tok/s  peak RSS ${result.peakRssMiB.toFixed(0)} MiB`,
      );
    }
  }
  // onnxruntime ÷ tfjs-wasm, per onnxruntime thread setting.
  const speedups = results
    .filter((r) => r.engine !== "tfjs-wasm")
    .flatMap((ort) => {
      const tfjs = results.find((r) => r.model === ort.model && r.engine === "tfjs-wasm");
      if (tfjs === undefined) return [];
      const decode = Object.fromEntries(Object.keys(ort.decodeTokensPerSecond).map((k) => [k, (ort.decodeTokensPerSecond[k] as number) / (tfjs.decodeTokensPerSecond[k] as number)]));
      return [{ model: ort.model, engine: ort.engine, prefill: ort.prefillTokensPerSecond / tfjs.prefillTokensPerSecond, decode }];
    });
  for (const s of speedups) {
    console.log(`${s.model.padEnd(10)} ${s.engine.padEnd(20)} ÷ tfjs-wasm: prefill ${s.prefill.toFixed(1)}×, decode ${Object.entries(s.decode).map(([k, v]) => `${k} ${v.toFixed(1)}×`).join(", ")}`);
  }
  const out = join(dirname(self), "..", "bench-results", "onnx.json");
  mkdirSync(dirname(out), { recursive: true });
  const meta = { date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: availableParallelism(), loadavgBefore: loadBefore, loadavgAfter: loadavg()[0], quick, prefill: PREFILL, decode: { ...DECODE, repeats: quick ? 1 : "3 (onnxruntime), 1 (tfjs-wasm)" } };
  writeFileSync(out, `${JSON.stringify({ meta, results, speedups }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
