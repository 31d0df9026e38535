// SFT throughput with packing (`bfd`) vs padded batches (`none`): the same GSM8K-train samples (the shipped pool,
// question → answer, completion-only loss), the same small Qwen2 model with the byte tokenizer, one epoch through
// trainSft on the wasm backend. Real tokens/s counts non-padding tokens only, so it measures useful work; packing
// efficiency = real tokens / token slots of the micro-batches. Each run is a child process, so its peak RSS is its own.
// Usage: npx tsx bench/sft.ts [--quick] [--samples N]  (writes bench-results/sft.json)
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeSample } from "@infialign/data";
import { selectBackend } from "@infialign/kernels/tfjs";
import { ByteTokenizer, countParameters, parseQwen2Config, Qwen2Model, saveCheckpoint } from "@infialign/model";
import { sharedDataPath } from "@infialign/test-utils";
import { resolveCurriculumConfig } from "../src/curriculum.js";
import { trainSft } from "../src/trainer.js";

const STRATEGIES = ["bfd", "none"] as const;
type Strategy = (typeof STRATEGIES)[number];

const argv = process.argv;
const quick = argv.includes("--quick");
const samplesAt = argv.indexOf("--samples");
const SAMPLES = samplesAt >= 0 ? Number(argv[samplesAt + 1]) : quick ? 48 : 192;
// Twice the longest GSM8K samples (~600 byte tokens), so bfd can put two or more samples in a row.
const MAX_LENGTH = 1024;
const BATCH = 4;

/** ~0.11M parameters: hidden 64, 2 layers, tied embeddings, byte vocabulary (260). */
const MODEL_CONFIG = {
  vocab_size: 260,
  hidden_size: 64,
  intermediate_size: 176,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 1024,
  tie_word_embeddings: true,
};

interface RunResult {
  packing: Strategy;
  samples: number;
  rows: number;
  steps: number;
  realTokens: number;
  tokenSlots: number;
  efficiency: number;
  seconds: number;
  realTokensPerSecond: number;
  finalLoss: number | undefined;
  peakRssMiB: number;
  backend: string;
}

async function worker(packing: Strategy): Promise<RunResult> {
  await selectBackend({ prefer: "wasm" });
  const pool = sharedDataPath("pools", "gsm8k-train.jsonl");
  if (!pool) throw new Error("bench/sft: shared data not found (../shared/data or INFIALIGN_SHARED_DATA); it holds pools/gsm8k-train.jsonl.");
  const root = await mkdtemp(join(tmpdir(), "bench-sft-"));
  try {
    const lines = readFileSync(pool, "utf8").split("\n").filter(Boolean).slice(0, SAMPLES);
    const data = lines.map((l) => {
      const r = JSON.parse(l) as { question: string; answer: string };
      return JSON.stringify(makeSample({ source: "gsm8k", prompt: r.question, response: r.answer }));
    });
    writeFileSync(join(root, "data.jsonl"), `${data.join("\n")}\n`);
    const model = Qwen2Model.init(parseQwen2Config(MODEL_CONFIG), { seed: 0 });
    await saveCheckpoint(join(root, "model"), { config: model.config, weights: model.toWeights(), tokenizer: new ByteTokenizer() });
    model.dispose();
    const config = resolveCurriculumConfig({
      model: join(root, "model"),
      outputDir: join(root, "run"),
      loggingSteps: 1000,
      saveSteps: 100_000,
      phases: [{ name: "p", data: { files: [join(root, "data.jsonl")] }, epochs: 1, learningRate: 1e-3, batchSize: BATCH, maxLength: MAX_LENGTH, packing, scheduler: "constant" }],
    });
    const summary = await trainSft(config, { progress: false, tokenizer: new ByteTokenizer() });
    const p = summary.phases[0]!;
    return {
      packing,
      samples: p.trainSamples,
      rows: p.batching.rows,
      steps: p.steps,
      realTokens: p.batching.realTokens,
      tokenSlots: p.batching.paddedTokens,
      efficiency: p.batching.efficiency,
      seconds: p.seconds,
      realTokensPerSecond: p.tokensPerSecond,
      finalLoss: p.finalTrainLoss,
      peakRssMiB: (process.resourceUsage().maxRSS * 1024) / 2 ** 20,
      backend: summary.backend,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function mainBench(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const workerAt = argv.indexOf("--worker");
  if (workerAt >= 0) {
    process.stdout.write(`${JSON.stringify(await worker(argv[workerAt + 1] as Strategy))}\n`);
    return;
  }
  const results: RunResult[] = [];
  for (const packing of STRATEGIES) {
    const child = spawnSync(process.execPath, [...process.execArgv, self, ...argv.slice(2), "--worker", packing], { encoding: "utf8", maxBuffer: 1 << 24 });
    if (child.status !== 0) throw new Error(`bench/sft: the ${packing} run failed (exit ${child.status}):\n${child.stderr}`);
    results.push(JSON.parse(child.stdout.trim().split("\n").at(-1)!) as RunResult);
  }
  const [bfd, none] = results as [RunResult, RunResult];
  const ratio = bfd.realTokensPerSecond / none.realTokensPerSecond;
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, loadavg: loadavg() },
    data: "shared/data/pools/gsm8k-train.jsonl (first N records, question → answer)",
    model: { ...MODEL_CONFIG, parameters: countParameters(parseQwen2Config(MODEL_CONFIG)) },
    maxLength: MAX_LENGTH,
    batchSize: BATCH,
    results,
    bfdOverNoneRealTokensPerSecond: ratio,
  };
  const out = join(dirname(self), "..", "bench-results", "sft.json");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  console.log(row(["packing", "rows", "steps", "real tokens", "token slots", "efficiency", "seconds", "real tok/s", "peak RSS MiB"]));
  console.log(row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]));
  for (const r of results) {
    console.log(row([r.packing, r.rows, r.steps, r.realTokens, r.tokenSlots, `${(100 * r.efficiency).toFixed(1)}%`, r.seconds.toFixed(1), r.realTokensPerSecond.toFixed(0), r.peakRssMiB.toFixed(0)]));
  }
  console.log(`\nbfd / none real tokens/s: ${ratio.toFixed(2)}×  (${results[0]?.backend}, ${SAMPLES} samples, max length ${MAX_LENGTH}, batch ${BATCH}; written to ${out})`);
}

await mainBench();
