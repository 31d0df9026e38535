import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selectBackend } from "@infialign/kernels/tfjs";
import { ByteTokenizer, loadAdapter, loadCheckpoint, loadModelTokenizer, Qwen2Model } from "@infialign/model";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readMetrics } from "../src/core/metrics.js";
import { padBatch, padFreeBatch } from "../src/data/batch.js";
import { packSequences } from "../src/data/packing.js";
import { tokenizeSamples } from "../src/data/tokenize.js";
import { countLossTokens, SftBatchSource, toCausalLmBatch } from "../src/trainer/batches.js";
import { type SftRunSummary, trainSft } from "../src/trainer.js";
import { patternSamples, runConfig, tinyQwen2Config, writeSamples, writeTinyModel } from "./trainerFixtures.js";

let root: string;
beforeAll(async () => {
  await selectBackend({ prefer: "wasm" });
  root = await mkdtemp(join(tmpdir(), "sft-trainer-"));
  await writeTinyModel(join(root, "model"));
  await writeSamples(join(root, "data.jsonl"), patternSamples(40));
  await writeSamples(join(root, "data2.jsonl"), patternSamples(24, 100));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const quiet = { progress: false } as const;
const losses = async (dir: string) => (await readMetrics(join(dir, "metrics.jsonl"))).filter((r) => typeof r.loss === "number").map((r) => [r.step, r.loss as number] as const);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

async function finalWeights(dir: string) {
  return (await loadCheckpoint(dir)).weights;
}

describe("batches", () => {
  it("packed rows with per-document masks score exactly like the same documents padded", () => {
    const tokenizer = new ByteTokenizer();
    const model = Qwen2Model.init(tinyQwen2Config({ initializer_range: 0.3 }), { seed: 3 });
    try {
      const docs = tokenizeSamples(patternSamples(5), tokenizer, { trainOnPrompt: true });
      const packed = packSequences(docs, { maxLength: 128, strategy: "bfd" });
      // Two documents per row at least, or the test would not exercise the segment masks.
      expect(packed.rows.some((r) => r.documents.length >= 2)).toBe(true);
      const score = (batch: ReturnType<typeof padBatch>) => {
        const sums = tf.tidy(() => {
          const out = model.tokenLogProbs(toCausalLmBatch(batch));
          return tf.stack([tf.sum(out.logProbs), tf.scalar(out.logProbs.shape[0])]);
        });
        const [sum, n] = sums.dataSync();
        sums.dispose();
        return { sum: sum as number, n: n as number };
      };
      const padded = score(padBatch(docs, { padTokenId: tokenizer.padTokenId }));
      const packedScore = score(padBatch(packed.rows, { padTokenId: tokenizer.padTokenId }));
      // Each document scores its length − 1 next tokens in both layouts.
      const expectedItems = docs.reduce((s, d) => s + d.inputIds.length - 1, 0);
      expect(padded.n).toBe(expectedItems);
      expect(packedScore.n).toBe(expectedItems);
      expect(countLossTokens(padBatch(packed.rows, { padTokenId: tokenizer.padTokenId }))).toBe(expectedItems);
      expect(Math.abs(packedScore.sum / expectedItems - padded.sum / expectedItems)).toBeLessThan(1e-5);
      // Padding-free batches (one concatenated row per batch, TRL padding_free) score the same too.
      const flat = padFreeBatch(docs);
      expect(flat.batchSize).toBe(1);
      const flatScore = score(flat);
      expect(flatScore.n).toBe(expectedItems);
      expect(Math.abs(flatScore.sum / expectedItems - padded.sum / expectedItems)).toBeLessThan(1e-5);
      const source = new SftBatchSource({ rows: docs, batchSize: 5, epochs: 1, seed: 1, padTokenId: tokenizer.padTokenId, paddingFree: true });
      expect(source.next()?.batchSize).toBe(1);
    } finally {
      model.dispose();
    }
  });

  it("reshuffles per epoch from the seed and seeks to a cursor", () => {
    const rows = tokenizeSamples(patternSamples(10), new ByteTokenizer());
    const a = new SftBatchSource({ rows, batchSize: 3, epochs: 2, seed: 5, padTokenId: 259 });
    expect(a.batchesPerEpoch).toBe(4);
    expect(a.permutation(0)).not.toEqual(a.permutation(1));
    expect([...a.permutation(0)].sort((x, y) => x - y)).toEqual([...Array(10).keys()]);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push(a.next()!.batchSize);
    expect(seen).toEqual([3, 3, 3, 1, 3]);
    const b = new SftBatchSource({ rows, batchSize: 3, epochs: 2, seed: 5, padTokenId: 259 });
    b.seek(a.cursor());
    expect(Array.from(b.next()!.inputIds)).toEqual(Array.from(a.next()!.inputIds));
    expect(() => new SftBatchSource({ rows, batchSize: 3, epochs: 2, seed: 6, padTokenId: 259 }).seek(a.cursor())).toThrow(/seed 5 but the run uses seed 6/);
  });
});

describe("trainSft", () => {
  let summary: SftRunSummary;
  const cfg = () => runConfig(join(root), { outputDir: join(root, "run-main"), evalFraction: 0.1, evalSteps: 10, phases: [{ name: "p1", data: { files: [join(root, "data.jsonl")] }, epochs: 6, learningRate: 3e-3, batchSize: 4, maxLength: 128, packing: "bfd", scheduler: "constant" }] });

  beforeAll(async () => {
    summary = await trainSft(cfg(), quiet);
  }, 60_000);

  it("drives the loss on a small synthetic corpus below half its initial value", async () => {
    const curve = await losses(join(root, "run-main", "p1"));
    expect(curve.length).toBe(summary.phases[0]!.steps);
    const first = curve[0]![1];
    const last = curve.at(-1)![1];
    // An untrained byte model starts near ln(260) ≈ 5.56 nats per token.
    expect(first).toBeGreaterThan(5);
    expect(last).toBeLessThan(0.5 * first);
    expect(summary.phases[0]!.finalEvalLoss).toBeLessThan(0.6 * first);
  });

  it("writes an HF checkpoint, run.json, metrics and the report", async () => {
    const p = summary.phases[0]!;
    expect(p.trainSamples + p.evalSamples).toBe(40);
    expect(p.evalSamples).toBe(4);
    // bfd packs two ~54-token samples into each 128-token row.
    expect(p.batching.rows).toBeLessThan(p.trainSamples);
    expect(p.batching.packing?.strategy).toBe("bfd");
    // HF: max_steps = ceil(epochs × ceil(micro-batches per epoch / accumulation)).
    expect(p.maxSteps).toBe(6 * Math.ceil(p.batching.rows / 4));
    const final = join(root, "run-main", "final");
    for (const f of ["config.json", "model.safetensors", "generation_config.json", "tokenizer.json"]) expect(existsSync(join(final, f))).toBe(true);
    const checkpoint = await loadCheckpoint(final);
    expect(checkpoint.config.hiddenSize).toBe(32);
    const tokenizer = await loadModelTokenizer(final);
    expect(tokenizer.encode("ab")).toEqual([97, 98]);
    const run = JSON.parse(readFileSync(join(root, "run-main", "run.json"), "utf8"));
    expect(run.phases[0].steps).toBe(p.steps);
    expect(run.interrupted).toBe(false);
    const records = await readMetrics(join(root, "run-main", "p1", "metrics.jsonl"));
    expect(records.filter((r) => typeof r.eval_loss === "number").map((r) => r.step)).toEqual(Array.from({ length: Math.floor(p.steps / 10) }, (_, i) => 10 * (i + 1)).concat(p.steps % 10 === 0 ? [] : [p.steps]));
    // eval_num_tokens (TRL) = training tokens seen at that step, also on the end-of-phase eval the trainer adds itself.
    for (const r of records.filter((x) => typeof x.eval_loss === "number")) {
      const train = records.find((x) => x.step === r.step && typeof x.loss === "number")!;
      expect(r.eval_num_tokens, `step ${r.step}`).toBe(train.num_tokens);
      for (const k of ["eval_mean_token_accuracy", "eval_entropy"]) expect(typeof r[k]).toBe("number");
    }
    const step = records.find((r) => typeof r.loss === "number")!;
    for (const k of ["mean_token_accuracy", "entropy", "num_tokens", "learning_rate", "grad_norm", "tokens_per_second"]) expect(typeof step[k]).toBe("number");
    expect(readFileSync(join(root, "run-main", "report.html"), "utf8")).toContain("<svg");
  });

  it("resumed after an interruption equals the uninterrupted run", async () => {
    const config = { ...cfg(), outputDir: join(root, "run-resume"), saveSteps: 3 };
    const controller = new AbortController();
    const first = await trainSft(config, { ...quiet, signal: controller.signal, onLog: (_, r) => r.step === 7 && typeof r.loss === "number" && controller.abort() });
    expect(first.interrupted).toBe(true);
    expect(first.finalDir).toBeUndefined();
    expect(existsSync(join(root, "run-resume", "p1", "checkpoint-7"))).toBe(true);
    const resumed = await trainSft(config, { ...quiet, resume: true });
    expect(resumed.interrupted).toBe(false);
    expect(resumed.phases[0]!.resumedFromStep).toBe(7);
    const a = await losses(join(root, "run-main", "p1"));
    const b = await losses(join(root, "run-resume", "p1"));
    expect(b.map((r) => r[0])).toEqual(a.map((r) => r[0]));
    expect(maxAbsDiff(b.map((r) => r[1]), a.map((r) => r[1]))).toBeLessThan(1e-5);
    const wa = await finalWeights(join(root, "run-main", "final"));
    const wb = await finalWeights(join(root, "run-resume", "final"));
    for (const [name, t] of wa) expect(maxAbsDiff(wb.get(name)!.data, t.data)).toBeLessThan(1e-5);
  }, 60_000);

  it("batch 4 × accumulation 1 equals batch 2 × accumulation 2 (padded batches)", async () => {
    const phase = { name: "p1", data: { files: [join(root, "data.jsonl")] }, epochs: 1, learningRate: 3e-3, maxLength: 128, packing: "none" as const, scheduler: "constant" as const };
    await trainSft(runConfig(root, { outputDir: join(root, "acc1"), phases: [{ ...phase, batchSize: 4, gradAccumulation: 1 }] }), quiet);
    await trainSft(runConfig(root, { outputDir: join(root, "acc2"), phases: [{ ...phase, batchSize: 2, gradAccumulation: 2 }] }), quiet);
    const a = await losses(join(root, "acc1", "p1"));
    const b = await losses(join(root, "acc2", "p1"));
    expect(a.length).toBe(10);
    expect(maxAbsDiff(a.map((r) => r[1]), b.map((r) => r[1]))).toBeLessThan(1e-5);
  }, 60_000);

  it("phase 2 starts from phase 1's final weights", async () => {
    const p2 = { name: "p2", data: { files: [join(root, "data2.jsonl")] }, epochs: 1, learningRate: 1e-3, batchSize: 4, maxLength: 128, packing: "bfd_split" as const, scheduler: "cosine" as const, warmupRatio: 0.2 };
    const p1 = { name: "p1", data: { files: [join(root, "data.jsonl")] }, epochs: 1, learningRate: 3e-3, batchSize: 4, maxLength: 128, packing: "bfd" as const, scheduler: "constant" as const };
    const two = await trainSft(runConfig(root, { outputDir: join(root, "two"), phases: [p1, p2] }), quiet);
    expect(two.phases.map((p) => p.name)).toEqual(["p1", "p2"]);
    // The same phase 2 run on its own, starting from phase 1's saved model, lands on the same weights.
    const alone = await trainSft(runConfig(root, { model: join(root, "two", "p1", "final"), outputDir: join(root, "p2-alone"), phases: [p2] }), quiet);
    expect(alone.phases[0]!.steps).toBe(two.phases[1]!.steps);
    const a = await finalWeights(join(root, "two", "final"));
    const b = await finalWeights(join(root, "p2-alone", "final"));
    for (const [name, t] of a) expect(maxAbsDiff(b.get(name)!.data, t.data)).toBeLessThan(1e-6);
    // And phase 2 did move the weights away from phase 1's.
    const p1w = await finalWeights(join(root, "two", "p1", "final"));
    expect(maxAbsDiff(p1w.get("model.layers.0.mlp.up_proj.weight")!.data, a.get("model.layers.0.mlp.up_proj.weight")!.data)).toBeGreaterThan(1e-4);
    // Interrupted in phase 2, resumed: phase 1 is skipped (loaded from its final/), phase 2 continues from its checkpoint.
    const controller = new AbortController();
    const resumeConfig = runConfig(root, { outputDir: join(root, "two-resume"), phases: [p1, p2] });
    const cut = await trainSft(resumeConfig, { ...quiet, signal: controller.signal, onLog: (name, r) => name === "p2" && r.step === 1 && controller.abort() });
    expect(cut.interrupted).toBe(true);
    expect(cut.phases.map((p) => p.finalDir === undefined)).toEqual([false, true]);
    const resumed = await trainSft(resumeConfig, { ...quiet, resume: true });
    expect(resumed.phases[0]!.resumedFromStep).toBeUndefined();
    expect(resumed.phases[1]!.resumedFromStep).toBe(1);
    const c = await finalWeights(join(root, "two-resume", "final"));
    for (const [name, t] of a) expect(maxAbsDiff(c.get(name)!.data, t.data)).toBeLessThan(1e-5);
    const html = readFileSync(join(root, "two", "report.html"), "utf8");
    expect(html).toContain('class="marker"');
  }, 60_000);

  it("trains through micro-batches without any scored token (bfd_split rows of prompt pieces)", async () => {
    const phase = { name: "p1", data: { files: [join(root, "data.jsonl")], maxSamples: 3 }, epochs: 1, learningRate: 1e-3, batchSize: 1, maxLength: 8, packing: "bfd_split" as const, scheduler: "constant" as const };
    const result = await trainSft(runConfig(root, { outputDir: join(root, "split"), phases: [phase] }), quiet);
    const p = result.phases[0]!;
    expect(p.steps).toBe(p.maxSteps);
    expect(p.batching.rows).toBeGreaterThan(3 * 5);
    // Rows holding only prompt tokens contribute a zero loss; every logged loss stays finite.
    const curve = await losses(join(root, "split", "p1"));
    expect(curve.some((r) => r[1] === 0)).toBe(true);
    expect(curve.every((r) => Number.isFinite(r[1]))).toBe(true);
  }, 60_000);

  it("LoRA: an interrupted and resumed run ends on the same adapter", async () => {
    const lora = { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj", "down_proj"] };
    const straight = await trainSft(runConfig(root, { outputDir: join(root, "lora-a"), lora }), quiet);
    const config = runConfig(root, { outputDir: join(root, "lora-b"), saveSteps: 2, lora });
    const controller = new AbortController();
    await trainSft(config, { ...quiet, signal: controller.signal, onLog: (_, r) => r.step === 3 && controller.abort() });
    expect(existsSync(join(root, "lora-b", "p1", "checkpoint-3", "adapter_model.safetensors"))).toBe(true);
    const resumed = await trainSft(config, { ...quiet, resume: true });
    const a = (await loadAdapter(straight.adapterDir!)).tensors;
    const b = (await loadAdapter(resumed.adapterDir!)).tensors;
    expect(a.size).toBe(2 * 3);
    for (const [name, t] of a) expect(maxAbsDiff(b.get(name)!.data, t.data)).toBeLessThan(1e-5);
  }, 60_000);

  it("LoRA trains only the adapters and saves a PEFT adapter", async () => {
    const loaded = await loadCheckpoint(join(root, "model"));
    const model = Qwen2Model.fromWeights(loaded.config, loaded.weights);
    try {
      const before = model.toWeights();
      const config = runConfig(root, { outputDir: join(root, "lora"), saveSteps: 5, lora: { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj"] } });
      const result = await trainSft(config, { ...quiet, model, tokenizer: new ByteTokenizer() });
      // Base weights untouched (the adapters are unmerged again after the merged final save).
      for (const [name, t] of model.toWeights()) expect(maxAbsDiff(t.data, before.get(name)!.data)).toBe(0);
      const adapterConfig = JSON.parse(readFileSync(join(result.adapterDir!, "adapter_config.json"), "utf8"));
      expect(adapterConfig).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 8 });
      expect(existsSync(join(result.adapterDir!, "adapter_model.safetensors"))).toBe(true);
      expect(existsSync(join(root, "lora", "p1", "checkpoint-5", "adapter_config.json"))).toBe(true);
      expect(existsSync(join(root, "lora", "p1", "checkpoint-5", "model.safetensors"))).toBe(false);
      // The merged final model differs from the base only in the adapted projections.
      const merged = await finalWeights(result.finalDir!);
      for (const [name, t] of merged) {
        const diff = maxAbsDiff(t.data, before.get(name)!.data);
        if (/q_proj\.weight|v_proj\.weight/.test(name)) expect(diff).toBeGreaterThan(0);
        else expect(diff).toBe(0);
      }
      const curve = await losses(join(root, "lora", "p1"));
      expect(curve.at(-1)![1]).toBeLessThan(curve[0]![1]);
    } finally {
      model.dispose();
    }
  }, 60_000);
});
