// End-to-end generation speed through generate(): the tfjs Qwen2Model on the wasm backend with the KV cache vs a full
// recompute every step, and onnxruntime (OnnxQwen2Model) vs tfjs-wasm with the cache, same random weights.
// Usage: npx tsx bench/generate.ts [--quick] [--new-tokens N] [--recompute-budget S]  (writes
// bench-results/generate.json). Every run is a child process, so its peak RSS is its own. Greedy, 16-token prompts, no
// stop tokens: every row makes N tokens; tokens/s = generated tokens / wall time including the prefill. Recomputing the
// whole sequence costs O(N²) (30 min for batch 8 at N = 256 on stock tfjs-wasm), so a recompute run is stopped through
// generate's AbortSignal after S seconds (default 90) and its rate is over the shorter sequences it reached: cheaper
// per token than the full run, so the reported KV-cache speedup is a lower bound (the JSON says where it stopped).
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runBenchChild } from "@infialign/test-utils";
import { countParameters, type Qwen2Config } from "../src/config.js";
import type { DecodeModel, NamedTensors } from "../src/engine.js";
import { generate } from "../src/generate/generate.js";
import { randomQwen2Weights } from "../src/qwen2/randomWeights.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";

const ENGINES = ["tfjs-wasm", "onnxruntime"] as const;
type Engine = (typeof ENGINES)[number];

/** ~8M parameters with the byte tokenizer's vocabulary (the shape bench/onnx.ts uses). */
const tokenizer = new ByteTokenizer();
const CONFIG: Qwen2Config = {
  vocabSize: tokenizer.vocabSize,
  hiddenSize: 256,
  intermediateSize: 768,
  numHiddenLayers: 10,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  headDim: 64,
  maxPositionEmbeddings: 4096,
  rmsNormEps: 1e-6,
  ropeTheta: 1e6,
  tieWordEmbeddings: true,
  initializerRange: 0.02,
};

const argv = process.argv;
const quick = argv.includes("--quick");
const at = argv.indexOf("--new-tokens");
const NEW_TOKENS = at >= 0 ? Number(argv[at + 1]) : quick ? 32 : 256;
const budgetAt = argv.indexOf("--recompute-budget");
const RECOMPUTE_BUDGET_SECONDS = budgetAt >= 0 ? Number(argv[budgetAt + 1]) : 90;
const PROMPT_TOKENS = 16;
const BATCHES = [1, 8];

interface Run {
  engine: Engine;
  useCache: boolean;
  batch: number;
}

interface RunResult extends Run {
  newTokens: number;
  /** Tokens each row generated (< newTokens when a recompute run hit its time budget). */
  generatedPerRow: number;
  seconds: number;
  tokensPerSecond: number;
  peakRssMiB: number;
  backend: string;
}


/** Loads the engine lazily, so each child process pays only for its own runtime. */
async function createModel(engine: Engine, weights: NamedTensors): Promise<{ model: DecodeModel; backend: string; dispose: () => Promise<void> | void }> {
  if (engine === "onnxruntime") {
    const { OnnxQwen2Model } = await import("../src/onnx/engine.js");
    const model = await OnnxQwen2Model.create(CONFIG, weights);
    return { model, backend: `onnxruntime cpu, ${availableParallelism()} threads`, dispose: () => model.dispose() };
  }
  const { selectBackend } = await import("@infialign/kernels/tfjs");
  const info = await selectBackend({ prefer: "wasm" });
  const { Qwen2Model } = await import("../src/qwen2/model.js");
  const model = Qwen2Model.fromWeights(CONFIG, weights);
  return { model, backend: `tfjs ${info.name} (simd ${info.simd}, ${info.threads} thread${info.threads === 1 ? "" : "s"})`, dispose: () => model.dispose() };
}

async function worker(run: Run): Promise<RunResult> {
  const { model, backend, dispose } = await createModel(run.engine, randomQwen2Weights(CONFIG, { seed: 1, biasStd: 0.02 }));
  const requests = Array.from({ length: run.batch }, (_, i) => ({
    promptIds: Array.from({ length: PROMPT_TOKENS }, (_, j) => (i * 131 + j * 31) % 256),
    temperature: 0,
    maxNewTokens: NEW_TOKENS,
    stopTokenIds: [],
  }));
  // Warm-up: the first steps pay for allocations, kernel selection and (onnxruntime) graph preparation.
  await generate(model, tokenizer, requests.map((r) => ({ ...r, maxNewTokens: 2 })), { useCache: run.useCache, maxBatchSize: run.batch });
  const controller = new AbortController();
  const t0 = performance.now();
  // Checked per token (a timer would not fire: a synchronous wasm step yields only microtasks).
  const onToken = () => {
    if (!run.useCache && performance.now() - t0 > RECOMPUTE_BUDGET_SECONDS * 1000) controller.abort();
  };
  const out = await generate(model, tokenizer, requests, { useCache: run.useCache, maxBatchSize: run.batch, onToken, signal: controller.signal });
  const seconds = (performance.now() - t0) / 1000;
  const lengths = out.map((r) => r[0]?.tokenIds.length ?? 0);
  const tokens = lengths.reduce((a, b) => a + b, 0);
  await dispose();
  return { ...run, newTokens: NEW_TOKENS, generatedPerRow: Math.min(...lengths), seconds, tokensPerSecond: tokens / seconds, peakRssMiB: (process.resourceUsage().maxRSS * 1024) / 2 ** 20, backend };
}

const self = fileURLToPath(import.meta.url);
const workerAt = argv.indexOf("--worker");
if (workerAt >= 0) {
  const run = JSON.parse(argv[workerAt + 1] as string) as Run;
  process.stdout.write(`${JSON.stringify(await worker(run))}\n`);
} else {
  const runs: Run[] = [];
  for (const batch of BATCHES) {
    runs.push({ engine: "tfjs-wasm", useCache: true, batch }, { engine: "tfjs-wasm", useCache: false, batch }, { engine: "onnxruntime", useCache: true, batch });
  }
  const loadBefore = loadavg()[0] as number;
  const results: RunResult[] = [];
  const failures: { run: Run; error: string }[] = [];
  for (const run of runs) {
    const child = runBenchChild<RunResult>([...process.execArgv, self, ...argv.slice(2), "--worker", JSON.stringify(run)]);
    if ("error" in child) {
      // onnxruntime is optional: report its absence instead of losing the tfjs numbers.
      failures.push({ run, error: child.error });
      console.log(`${run.engine} cache=${run.useCache} batch=${run.batch}: FAILED (${child.error})`);
      continue;
    }
    const r = child.value;
    results.push(r);
    console.log(`${r.engine.padEnd(12)} cache=${String(r.useCache).padEnd(5)} batch=${r.batch}  ${r.tokensPerSecond.toFixed(1).padStart(8)} tok/s  ${r.generatedPerRow}/${r.newTokens} tokens in ${r.seconds.toFixed(2)} s  peak RSS ${r.peakRssMiB.toFixed(0)} MiB  [${r.backend}]`);
  }
  const find = (engine: Engine, useCache: boolean, batch: number) => results.find((r) => r.engine === engine && r.useCache === useCache && r.batch === batch);
  const ratios = BATCHES.map((batch) => {
    const cached = find("tfjs-wasm", true, batch);
    const uncached = find("tfjs-wasm", false, batch);
    const ort = find("onnxruntime", true, batch);
    return {
      batch,
      /** Goal ≥ 5 (issue 5); a lower bound when the recompute run stopped at its time budget. */
      kvCacheSpeedup: cached && uncached ? cached.tokensPerSecond / uncached.tokensPerSecond : null,
      /** Goal ≥ 3 (issue 5). */
      onnxruntimeOverTfjsWasm: cached && ort ? ort.tokensPerSecond / cached.tokensPerSecond : null,
    };
  });
  console.log("\n| batch | KV cache vs recompute (tfjs-wasm) | onnxruntime vs tfjs-wasm (cache) |\n|---|---|---|");
  for (const r of ratios) console.log(`| ${r.batch} | ${r.kvCacheSpeedup?.toFixed(2) ?? "n/a"}× | ${r.onnxruntimeOverTfjsWasm?.toFixed(2) ?? "n/a"}× |`);
  const out = join(dirname(self), "..", "bench-results", "generate.json");
  mkdirSync(dirname(out), { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: availableParallelism(),
    loadavgBefore: loadBefore,
    loadavgAfter: loadavg()[0],
    parameters: countParameters(CONFIG),
    config: CONFIG,
    promptTokens: PROMPT_TOKENS,
    newTokens: NEW_TOKENS,
    recomputeBudgetSeconds: RECOMPUTE_BUDGET_SECONDS,
  };
  writeFileSync(out, `${JSON.stringify({ meta, results, ratios, failures }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
