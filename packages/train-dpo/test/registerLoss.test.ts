// A loss added from outside the package, through the public entry point only: R-DPO (Park et al. 2024, "Disentangling
// Length from Quality in Direct Preference Optimization", Eq. 9), DPO with a length penalty α·(|y_w| − |y_l|) on the
// margin. Registering it must be all it takes for the run config, the loss, trainDpo, the CLI help and the
// LLaMA-Factory export to know it and its hyperparameter.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selectBackend } from "@infialign/kernels/tfjs";
import { ByteTokenizer, parseQwen2Config, Qwen2Model, saveCheckpoint } from "@infialign/model";
import { runCli } from "@infialign/test-utils";
import {
  dpoCliMain,
  llamaFactoryPreferenceArgs,
  lossHyperparameters,
  needsReference,
  preferenceLoss,
  registerLoss,
  resolveDpoConfig,
  trainDpo,
} from "@infialign/train-dpo";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const alphaSpec = { description: "R-DPO α: margin penalty per token the chosen answer is longer than the rejected one", schema: z.number().min(0, "must be >= 0"), default: 0.01 };

function registerRdpo(): void {
  registerLoss({
    name: "rdpo",
    description: "R-DPO (Park et al. 2024, Eq. 9): DPO with a length penalty α·(|y_w| − |y_l|) on the margin",
    needsReference: true,
    reads: ["beta"],
    hyperparameters: { rdpoAlpha: alphaSpec },
    compute: (x, o) => {
      const margin = tf.sub(tf.sub(x.policyChosenLogps, x.refChosenLogps!), tf.sub(x.policyRejectedLogps, x.refRejectedLogps!));
      const z = tf.sub(tf.mul(margin, o.beta), tf.mul(tf.sub(x.chosenTokens, x.rejectedTokens), o.rdpoAlpha));
      return { losses: tf.softplus(tf.neg(z)) };
    },
  });
}

let dir: string;
beforeAll(async () => {
  registerRdpo();
  await selectBackend({ prefer: "cpu" });
  dir = await mkdtemp(join(tmpdir(), "dpo-register-"));
  const config = parseQwen2Config({ vocab_size: 260, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256 });
  const model = Qwen2Model.init(config, { seed: 1 });
  await saveCheckpoint(join(dir, "model"), { config, weights: model.toWeights(), tokenizer: new ByteTokenizer() });
  model.dispose();
  // Every rejected answer is one byte (one token) longer than the chosen one: |y_w| − |y_l| = −1 for every pair.
  const pairs = Array.from({ length: 8 }, (_, i) => ({
    id: `pair-${i}`,
    source: "test",
    prompt: [{ role: "user", content: `${i}+${i}=?` }],
    chosen: [{ role: "assistant", content: `${2 * i}` }],
    rejected: [{ role: "assistant", content: `${2 * i + 1}x` }],
    meta: { pass_rate: 0.5, k: 8 },
  }));
  await writeFile(join(dir, "pairs.jsonl"), `${pairs.map((p) => JSON.stringify(p)).join("\n")}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = () => ({ model: join(dir, "model"), pairs: join(dir, "pairs.jsonl"), batchSize: 8, loggingSteps: 1, saveSteps: 0, maxLength: 64, maxPromptLength: 32, reference: { engine: "tfjs" } });

describe("registerLoss from outside the package", () => {
  it("the run config accepts the loss and its hyperparameter, defaults it, and rejects a bad value by field", () => {
    const config = resolveDpoConfig({ ...base(), outputDir: join(dir, "a"), loss: { lossType: "rdpo", rdpoAlpha: 0.5 } });
    expect(config.loss).toMatchObject({ lossType: "rdpo", rdpoAlpha: 0.5, beta: 0.1 });
    expect(resolveDpoConfig({ ...base(), outputDir: "o", loss: { lossType: "rdpo" } }).loss.rdpoAlpha).toBe(0.01);
    expect(lossHyperparameters().get("rdpoAlpha")?.default).toBe(0.01);
    expect(() => resolveDpoConfig({ ...base(), outputDir: "o", loss: { lossType: "rdpo", rdpoAlpha: -1 } }, "dpo.yaml")).toThrow(/dpo\.yaml is invalid \(1 problem\):\n {2}loss\.rdpoAlpha: must be >= 0/);
    expect(() => resolveDpoConfig({ ...base(), outputDir: "o", loss: { lossType: "rdpo", rdpoAlpha: "big" } })).toThrow(/loss\.rdpoAlpha: .*expected number/);
    expect(() => resolveDpoConfig({ ...base(), outputDir: "o", loss: { lossType: "rdpo", rdpoAlfa: 1 } })).toThrow(/loss: unknown field "rdpoAlfa"/);
    expect(() => resolveDpoConfig({ ...base(), outputDir: "o", loss: { lossType: "rdpo2" } })).toThrow(/loss\.lossType/);
  });

  it("computes the registered formula, and refuses names and hyperparameters already taken", () => {
    // One pair, Δ = 2, β = 0.5, |y_w| − |y_l| = 2 − 4: −log σ(0.5·2 + 0.25·2) = softplus(−1.5).
    const batch = { policyChosenLogps: [-2], policyRejectedLogps: [-4], refChosenLogps: [-3], refRejectedLogps: [-3], chosenTokens: [2], rejectedTokens: [4] };
    const out = preferenceLoss(batch, { lossType: "rdpo", beta: 0.5, rdpoAlpha: 0.25 });
    expect(out.loss.dataSync()[0]).toBeCloseTo(Math.log1p(Math.exp(-1.5)), 6);
    expect(() => preferenceLoss(batch, { lossType: "rdpo", rdpoAlpha: -0.1 })).toThrow(/rdpoAlpha: must be >= 0, got -0\.1/);
    expect(needsReference(["rdpo"])).toBe(true);
    expect(registerRdpo).toThrow(/a loss named "rdpo" is already registered/);
    const other = { description: "d", needsReference: false, compute: () => ({ losses: tf.zeros([1]) }) };
    expect(() => registerLoss({ ...other, name: "rdpo_b", hyperparameters: { rdpoAlpha: alphaSpec } })).toThrow(/hyperparameter "rdpoAlpha" is already in the table \(of loss "rdpo"\)/);
    expect(() => registerLoss({ ...other, name: "mine", hyperparameters: { beta: alphaSpec } })).toThrow(/hyperparameter "beta" is already in the table/);
    expect(() => registerLoss({ ...other, name: "mine", hyperparameters: { mineAlpha: { ...alphaSpec, default: -1 } } })).toThrow(/its schema refuses its own default -1/);
    expect(() => registerLoss({ ...other, name: "mine", reads: ["gamma"] })).toThrow(/reads "gamma", which is not a hyperparameter of the table/);
    expect(() => llamaFactoryPreferenceArgs({ lossType: "rdpo" })).toThrow(/loss "rdpo" has no LLaMA-Factory pref_loss/);
  });

  it("is listed with its hyperparameter in infialign-dpo --help", async () => {
    const help = await runCli(dpoCliMain, ["--help"], "", () => false);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/\n {2}rdpo +R-DPO \(Park et al\. 2024, Eq\. 9\)/);
    expect(help.out).toMatch(/reference; reads beta, rdpoAlpha\)/);
    expect(help.out).toContain("rdpoAlpha (0.01): R-DPO α");
    // Every loss of the table, the built-in 17 and this one.
    expect(help.out.match(/^ {2}\w+ +.+\n {4,}\(reference/gm)).toHaveLength(18);
  });

  it("trains a tiny model with it: the step-1 loss is R-DPO's, the margin grows", async () => {
    const alpha = 0.5;
    const run = async (name: string, loss: Record<string, unknown>) => {
      const result = await trainDpo(resolveDpoConfig({ ...base(), outputDir: join(dir, name), epochs: 6, learningRate: 1e-2, loss }), { progress: false, saveFinal: false });
      const lines = (await readFile(join(dir, name, "metrics.jsonl"), "utf8")).trim().split("\n");
      return { result, logs: lines.map((l) => JSON.parse(l) as Record<string, number>).filter((r) => typeof r.loss === "number") };
    };
    const { result, logs } = await run("rdpo", { lossType: "rdpo", rdpoAlpha: alpha });
    expect(result.reference.misses).toBe(16);
    expect(logs.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // At step 1 the policy is the reference (Δ = 0 up to float error), so every pair's loss is −log σ(α·1).
    expect(logs[0]!.loss).toBeCloseTo(Math.log1p(Math.exp(-alpha)), 3);
    const sigmoid = await run("sigmoid", { lossType: "sigmoid" });
    expect(sigmoid.logs[0]!.loss).toBeCloseTo(Math.LN2, 3);
    for (const r of logs) for (const key of ["loss", "grad_norm", "rewards/chosen", "rewards/margins", "rewards/accuracies", "logps/chosen"]) expect(Number.isFinite(r[key]), `${key} at step ${r.step}`).toBe(true);
    expect(logs.at(-1)!.loss).toBeLessThan(logs[0]!.loss!);
    expect(logs.at(-1)!["rewards/margins"]).toBeGreaterThan(0);
    expect(logs.at(-1)!["rewards/accuracies"]).toBeGreaterThanOrEqual(0.75);
  });
});
