// DPO throughput on a small Qwen2 (byte vocabulary): pairs/s and real tokens/s of trainDpo (chosen + rejected rows in
// one forward, AdamW, the shared loop), reference scoring time of the tfjs engine vs the onnxruntime engine on the same
// items (and their largest disagreement), and peak RSS of the process (getrusage maxrss).
// Pairs: GSM8K questions from shared/data (chosen = the reference solution, rejected = the same with its final answer
// changed), or synthetic arithmetic when the shared data is absent.
//
// Needs @infialign/train-sft built with tfjs-core external (its dist of 20:42 bundles tfjs-core, which fails under plain
// Node ESM: "Dynamic require of \"util\""); until then run it through vite-node, which the 2026-11-24 numbers used.
// Usage: npx tsx bench/dpo.ts [--pairs 32] [--batch 4] [--hidden 128] [--layers 4] [--max-length 1024]
//   [--backend wasm] [--out bench-results/dpo.json]
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { selectBackend } from "@infialign/kernels/tfjs";
import { ByteTokenizer, countParameters, OnnxQwen2Model, parseQwen2Config, Qwen2Model, saveCheckpoint, scoreCompletions } from "@infialign/model";
import { sharedDataPath } from "@infialign/test-utils";
import { resolveDpoConfig } from "../src/config.js";
import type { PreferenceRecord } from "../src/pairs/pairStage.js";
import { tokenizePair, trainDpo } from "../src/trainer.js";

const { values } = parseArgs({
  options: {
    pairs: { type: "string", default: "32" },
    batch: { type: "string", default: "4" },
    hidden: { type: "string", default: "128" },
    layers: { type: "string", default: "4" },
    "max-length": { type: "string", default: "1024" },
    backend: { type: "string", default: "wasm" },
    out: { type: "string", default: "bench-results/dpo.json" },
  },
});
const nPairs = Number(values.pairs);
const batch = Number(values.batch);
const hidden = Number(values.hidden);
const layers = Number(values.layers);
const maxLength = Number(values["max-length"]);

function loadPairs(n: number): { source: string; records: PreferenceRecord[] } {
  const path = sharedDataPath("pools", "gsm8k-train.jsonl");
  const meta = { pass_rate: 0.5, k: 8 } as PreferenceRecord["meta"];
  if (path !== undefined && existsSync(path)) {
    const rows = readFileSync(path, "utf8").trim().split("\n").slice(0, n).map((l) => JSON.parse(l) as { question: string; answer: string });
    const records = rows.map((r, i) => ({
      id: `gsm8k-${i}`,
      source: "gsm8k",
      prompt: [{ role: "user" as const, content: r.question }],
      chosen: [{ role: "assistant" as const, content: r.answer }],
      rejected: [{ role: "assistant" as const, content: r.answer.replace(/#### (-?\d+)/, (_, x: string) => `#### ${Number(x) + 7}`) }],
      meta,
    }));
    return { source: "shared/data/pools/gsm8k-train.jsonl (question → solution; rejected: final answer + 7)", records };
  }
  const records = Array.from({ length: n }, (_, i) => ({
    id: `syn-${i}`,
    source: "synthetic",
    prompt: [{ role: "user" as const, content: `What is ${i} times ${i + 3}? Explain.` }],
    chosen: [{ role: "assistant" as const, content: `${i} × ${i + 3} = ${i * (i + 3)}. `.repeat(8) }],
    rejected: [{ role: "assistant" as const, content: `${i} × ${i + 3} = ${i * (i + 3) + 1}. `.repeat(8) }],
    meta,
  }));
  return { source: "synthetic arithmetic", records };
}

async function main(): Promise<void> {
  const backend = await selectBackend({ prefer: values.backend as "wasm" | "cpu" });
  const config = parseQwen2Config({
    vocab_size: 260,
    hidden_size: hidden,
    intermediate_size: Math.round((hidden * 3.5) / 16) * 16,
    num_hidden_layers: layers,
    num_attention_heads: Math.max(1, hidden / 32),
    num_key_value_heads: Math.max(1, hidden / 64),
    max_position_embeddings: 2048,
    tie_word_embeddings: true,
  });
  const dir = await mkdtemp(join(tmpdir(), "dpo-bench-"));
  try {
    const tokenizer = new ByteTokenizer();
    const init = Qwen2Model.init(config, { seed: 0 });
    const weights = init.toWeights();
    init.dispose();
    await saveCheckpoint(join(dir, "model"), { config, weights, tokenizer });
    const { source, records } = loadPairs(nPairs);
    await writeFile(join(dir, "pairs.jsonl"), `${records.map((r) => JSON.stringify(r)).join("\n")}\n`);

    // Reference scoring, engine against engine, on the trainer's own items.
    const items = records.flatMap((r) => {
      const p = tokenizePair(r, tokenizer, { maxLength, maxPromptLength: maxLength / 2 });
      return [
        { promptIds: p.promptIds, completionIds: p.chosenIds },
        { promptIds: p.promptIds, completionIds: p.rejectedIds },
      ];
    });
    const refTokens = items.reduce((s, it) => s + it.promptIds.length + it.completionIds.length, 0);
    const tfModel = Qwen2Model.fromWeights(config, weights);
    let t = performance.now();
    const tfScores = await scoreCompletions(tfModel, items);
    const tfjsSeconds = (performance.now() - t) / 1000;
    tfModel.dispose();
    let onnxSeconds: number | undefined;
    let maxDiff: number | undefined;
    try {
      const onnx = await OnnxQwen2Model.create(config, weights);
      t = performance.now();
      const onnxScores = await scoreCompletions(onnx, items);
      onnxSeconds = (performance.now() - t) / 1000;
      await onnx.dispose();
      let worst = 0;
      onnxScores.forEach((s, i) => {
        s.forEach((x, j) => {
          worst = Math.max(worst, Math.abs(x - tfScores[i]![j]!));
        });
      });
      maxDiff = worst;
    } catch (error) {
      console.error(`onnx engine unavailable: ${(error as Error).message}`);
    }

    const dpo = resolveDpoConfig({
      model: join(dir, "model"),
      pairs: join(dir, "pairs.jsonl"),
      outputDir: join(dir, "run"),
      batchSize: batch,
      epochs: 1,
      learningRate: 1e-4,
      loggingSteps: 1,
      saveSteps: 0,
      maxLength,
      maxPromptLength: maxLength / 2,
      reference: { engine: onnxSeconds === undefined ? "tfjs" : "onnx" },
    });
    const result = await trainDpo(dpo, { progress: false, saveFinal: false });
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "?", loadavg: loadavg() },
      backend: backend.name,
      data: source,
      model: { hidden_size: hidden, num_hidden_layers: layers, vocab_size: 260, parameters: countParameters(config) },
      pairs: nPairs,
      batchSize: batch,
      maxLength,
      reference: {
        items: items.length,
        tokens: refTokens,
        tfjsSeconds,
        onnxSeconds,
        tfjsTokensPerSecond: refTokens / tfjsSeconds,
        onnxTokensPerSecond: onnxSeconds === undefined ? undefined : refTokens / onnxSeconds,
        maxAbsLogpDiff: maxDiff,
        inTrainer: result.reference,
      },
      train: {
        truncatedPairs: result.truncatedPairs,
        identicalPairs: result.identicalPairs,
        steps: result.train.globalStep,
        seconds: result.trainSeconds,
        pairsPerSecond: result.pairsPerSecond,
        tokensPerSecond: result.tokensPerSecond,
        finalLoss: result.lastLog?.loss,
        finalMargin: result.lastLog?.["rewards/margins"],
      },
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    const out = resolve(dirname(fileURLToPath(import.meta.url)), "..", values.out);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
    const fmt = (x: number | undefined, d = 2) => (x === undefined ? "-" : x.toFixed(d));
    console.log(`DPO bench (${backend.name}, ${report.model.parameters} parameters, ${nPairs} pairs, batch ${batch}, maxLength ${maxLength})`);
    console.log("| measure | value |\n|---|---|");
    console.log(`| train pairs/s | ${fmt(report.train.pairsPerSecond)} |`);
    console.log(`| train tokens/s (chosen + rejected rows) | ${fmt(report.train.tokensPerSecond, 0)} |`);
    console.log(`| reference scoring, tfjs (s, tokens/s) | ${fmt(tfjsSeconds)} s, ${fmt(report.reference.tfjsTokensPerSecond, 0)} |`);
    console.log(`| reference scoring, onnx (s, tokens/s) | ${fmt(onnxSeconds)} s, ${fmt(report.reference.onnxTokensPerSecond, 0)} |`);
    console.log(`| max |Δ log p| tfjs vs onnx | ${maxDiff === undefined ? "-" : maxDiff.toExponential(1)} |`);
    console.log(`| peak RSS | ${report.peakRssMiB} MiB |`);
    console.log(`wrote ${out}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
