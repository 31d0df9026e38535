// The onnxruntime training engine (the default) against the tfjs reference engine through the whole trainer: the same
// initial weights and batches give the same per-step losses and gradient norms over 20 steps, full and LoRA.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selectBackend } from "@infialign/kernels/tfjs";
import { loadAdapter } from "@infialign/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readMetrics } from "../src/core/metrics.js";
import { trainSft } from "../src/trainer.js";
import { patternSamples, runConfig, writeSamples, writeTinyModel } from "./trainerFixtures.js";

let root: string;
beforeAll(async () => {
  await selectBackend({ prefer: "wasm" });
  root = await mkdtemp(join(tmpdir(), "sft-engines-"));
  await writeTinyModel(join(root, "model"));
  await writeSamples(join(root, "data.jsonl"), patternSamples(80));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const trace = async (dir: string) => (await readMetrics(join(dir, "p1", "metrics.jsonl"))).filter((r) => typeof r.loss === "number").map((r) => ({ step: r.step, loss: r.loss as number, gradNorm: r.grad_norm as number }));

describe("trainSft: onnxruntime engine = tfjs engine", () => {
  for (const [label, lora] of [
    ["full fine-tuning", undefined],
    ["LoRA", { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] }],
  ] as const) {
    it(`${label}: 20 steps of per-step loss and grad_norm within 1e-4 relative`, async () => {
      const run = async (engine: "onnxruntime" | "tfjs") => {
        const config = runConfig(root, { outputDir: join(root, `${label}-${engine}`), ...(lora ? { lora: { ...lora, targetModules: [...lora.targetModules] } } : {}) });
        const summary = await trainSft({ ...config, phases: [{ ...config.phases[0]!, epochs: 4, batchSize: 4 }] }, { progress: false, engine, threads: 2 });
        expect(summary.engine).toBe(engine);
        return trace(config.outputDir);
      };
      const fast = await run("onnxruntime");
      const reference = await run("tfjs");
      expect(fast.length).toBeGreaterThanOrEqual(20);
      expect(fast.map((r) => r.step)).toEqual(reference.map((r) => r.step));
      for (const [i, r] of reference.slice(0, 20).entries()) {
        const f = fast[i]!;
        expect(Math.abs(f.loss - r.loss) / Math.abs(r.loss), `loss at step ${r.step}`).toBeLessThan(1e-4);
        expect(Math.abs(f.gradNorm - r.gradNorm) / Math.abs(r.gradNorm), `grad_norm at step ${r.step}`).toBeLessThan(1e-4);
      }
    }, 120_000);
  }
});

describe("trainSft on the onnxruntime engine: LoRA with dropout", () => {
  it("an interrupted and resumed run ends on the same adapter as an uninterrupted one (masks seeded per step)", async () => {
    const lora = { r: 4, alpha: 8, dropout: 0.2, targetModules: ["q_proj", "v_proj", "down_proj"] };
    const straight = await trainSft(runConfig(root, { outputDir: join(root, "dropout-a"), lora }), { progress: false, engine: "onnxruntime" });
    const config = runConfig(root, { outputDir: join(root, "dropout-b"), saveSteps: 2, lora });
    const controller = new AbortController();
    await trainSft(config, { progress: false, engine: "onnxruntime", signal: controller.signal, onLog: (_, r) => r.step === 3 && controller.abort() });
    const resumed = await trainSft(config, { progress: false, engine: "onnxruntime", resume: true });
    const a = (await loadAdapter(straight.adapterDir!)).tensors;
    const b = (await loadAdapter(resumed.adapterDir!)).tensors;
    expect(a.size).toBe(6);
    for (const [name, t] of a) {
      const other = b.get(name)!.data;
      let diff = 0;
      for (let i = 0; i < t.data.length; i++) diff = Math.max(diff, Math.abs(t.data[i]! - other[i]!));
      expect(diff, name).toBeLessThan(1e-6);
    }
    // Dropout is on: the same run without it ends elsewhere.
    const noDropout = await trainSft(runConfig(root, { outputDir: join(root, "dropout-c"), lora: { ...lora, dropout: 0 } }), { progress: false, engine: "onnxruntime" });
    const c = (await loadAdapter(noDropout.adapterDir!)).tensors;
    const [firstName, first] = [...a][0]!;
    expect(Math.max(...first.data.map((x, i) => Math.abs(x - c.get(firstName)!.data[i]!)))).toBeGreaterThan(1e-4);
  }, 120_000);
});
