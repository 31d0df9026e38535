// The onnxruntime training engine (the default) against the tfjs reference engine through trainDpo: the same policy
// and pairs give the same per-step losses, gradient norms and rewards over 20 steps (sigmoid DPO, full and LoRA).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selectBackend } from "@infialign/kernels/tfjs";
import { readMetrics } from "@infialign/train-sft";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainDpo } from "../src/trainer.js";
import { tinyDpoConfig, tinyPairs, writePairs, writeTinyModel } from "./trainerHelpers.js";

let dir: string;
beforeAll(async () => {
  await selectBackend({ prefer: "wasm" });
  dir = await mkdtemp(join(tmpdir(), "dpo-engines-"));
  await writeTinyModel(join(dir, "model"));
  await writePairs(join(dir, "pairs.jsonl"), tinyPairs(16));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("trainDpo: onnxruntime engine = tfjs engine", () => {
  for (const [label, lora] of [
    ["sigmoid, full fine-tuning", undefined],
    ["sigmoid, LoRA", { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj", "gate_proj", "down_proj"] }],
  ] as const) {
    it(`${label}: 20 steps of loss, grad_norm and rewards/margins within 1e-4 relative`, async () => {
      const run = async (engine: "onnxruntime" | "tfjs") => {
        const outputDir = join(dir, `${label}-${engine}`);
        const config = tinyDpoConfig(dir, { outputDir, batchSize: 4, epochs: 5, learningRate: 5e-4, ...(lora ? { lora: { ...lora, targetModules: [...lora.targetModules] } } : {}) });
        const result = await trainDpo(config, { progress: false, engine, threads: 2, saveFinal: false });
        expect(result.engine).toBe(engine);
        return (await readMetrics(join(outputDir, "metrics.jsonl"))).filter((r) => typeof r.loss === "number");
      };
      const fast = await run("onnxruntime");
      const reference = await run("tfjs");
      expect(reference.length).toBe(20);
      expect(fast.map((r) => r.step)).toEqual(reference.map((r) => r.step));
      const close = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);
      for (const [i, r] of reference.entries()) {
        const f = fast[i]!;
        for (const key of ["loss", "grad_norm", "rewards/margins", "logps/chosen"]) {
          expect(close(f[key] as number, r[key] as number), `${key} at step ${r.step}`).toBeLessThan(1e-4);
        }
      }
    }, 120_000);
  }
});
