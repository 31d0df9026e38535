// LoRA on Qwen2Model: zero-B init is a no-op, merge equals the unmerged forward, unmerge restores the base, only the
// adapters get gradients and change in training, dropout only in training mode, PEFT state round-trips.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ModelError } from "../src/errors.js";
import { attachLora, detachLora, loadLora, loadLoraState, loraState, loraVariables, mergeLora, saveLora, unmergeLora } from "../src/qwen2/lora.js";
import { Qwen2Model } from "../src/qwen2/model.js";
import { maxRelDiff, randomIds, tinyConfig, useBackend } from "./qwen2Helpers.js";

const config = tinyConfig();
const ids = randomIds(10, config.vocabSize, 1);

function logits(model: Qwen2Model): Float32Array {
  return tf.tidy(() => model.logits(tf.tensor2d(ids, [1, ids.length], "int32")).dataSync() as Float32Array);
}

/** Gives every B a seeded non-zero value, as after some training. */
function randomizeB(model: Qwen2Model): void {
  let k = 0;
  for (const adapter of model.adapters.values()) tf.tidy(() => adapter.b.assign(tf.randomNormal(adapter.b.shape, 0, 0.2, "float32", 100 + k++)));
}

function batch() {
  const inputIds = tf.tensor2d(ids, [1, ids.length], "int32");
  return { inputIds, labels: inputIds };
}

describe("LoRA", () => {
  let model: Qwen2Model;
  beforeAll(async () => {
    await useBackend("wasm");
  });
  beforeEach(() => {
    model = Qwen2Model.init(config, { seed: 9 });
  });
  afterEach(() => model.dispose());

  it("zero-initialised B leaves the logits unchanged; A is PEFT's kaiming-uniform ±1/√in", () => {
    const base = logits(model);
    attachLora(model, { r: 4, alpha: 8, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] });
    expect(model.adapters.size).toBe(7 * config.numHiddenLayers);
    expect(logits(model)).toEqual(base);
    const a = model.adapters.get("model.layers.0.mlp.down_proj")?.a.dataSync() as Float32Array;
    const bound = 1 / Math.sqrt(config.intermediateSize);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.8 * bound);
  });

  it("merge equals the unmerged forward; unmerge restores the base weights", () => {
    const base = model.toWeights();
    attachLora(model, { r: 3, alpha: 6, targetModules: ["q_proj", "v_proj", "down_proj"] });
    randomizeB(model);
    const unmerged = logits(model);
    expect(model.trainableVariables.length).toBe(2 * model.adapters.size);
    expect(maxRelDiff(unmerged, logitsOfBase(base))).toBeGreaterThan(1e-2);
    mergeLora(model);
    expect(maxRelDiff(logits(model), unmerged)).toBeLessThan(1e-5);
    expect(() => mergeLora(model)).toThrow(/already merged/);
    unmergeLora(model);
    for (const [name, t] of model.toWeights()) expect(maxRelDiff(t.data, base.get(name)?.data as Float32Array), name).toBeLessThan(1e-6);
    expect(maxRelDiff(logits(model), unmerged)).toBeLessThan(1e-5);
  });

  it("only adapter variables are trainable and get gradients; training moves the loss and leaves the base untouched", () => {
    attachLora(model, { r: 2, alpha: 4, targetModules: ["q_proj", "up_proj"] });
    const adapterIds = new Set(model.trainableVariables.map((v) => v.id));
    expect(adapterIds.size).toBe(2 * 2 * config.numHiddenLayers);
    const { grads } = tf.variableGrads(() => model.loss(batch()).loss);
    const names = Object.keys(grads);
    expect(names.length).toBe(adapterIds.size);
    const gradNorm = (v: tf.Variable) => tf.tidy(() => tf.norm(grads[v.name] as tf.Tensor).dataSync()[0] as number);
    // B starts at 0, so dA = 0 at the first step while dB is not.
    for (const adapter of model.adapters.values()) expect(gradNorm(adapter.b)).toBeGreaterThan(0);
    tf.dispose(Object.values(grads));
    const base = model.toWeights();
    const optimizer = tf.train.adam(1e-2);
    const lossAt = () => tf.tidy(() => model.loss(batch()).loss.dataSync()[0] as number);
    const first = lossAt();
    for (let i = 0; i < 10; i++) optimizer.minimize(() => model.loss(batch()).loss, false, model.trainableVariables)?.dispose();
    optimizer.dispose();
    expect(lossAt()).toBeLessThan(first - 0.05);
    for (const [name, t] of model.toWeights()) expect(t.data, name).toEqual(base.get(name)?.data);
  });

  it("dropout applies in training mode only, and never in the decode step", async () => {
    attachLora(model, { r: 2, alpha: 4, dropout: 0.5, seed: 3 });
    randomizeB(model);
    const evalA = logits(model);
    expect(logits(model)).toEqual(evalA);
    model.training = true;
    const trainA = logits(model);
    // The decode step is inference: no dropout even in training mode.
    const out = await model.step({ ids: Int32Array.from(ids), batch: 1, newTokens: ids.length, positionIds: Int32Array.from(ids.keys()), keyMask: new Uint8Array(ids.length).fill(1) });
    out.cache.dispose();
    const stepTrain = out.logits;
    model.training = false;
    expect(maxRelDiff(trainA, evalA)).toBeGreaterThan(1e-4);
    expect(maxRelDiff(stepTrain, evalA.subarray((ids.length - 1) * config.vocabSize))).toBeLessThan(1e-5);
  });

  it("loraVariables: the adapters' own variables, A then B per adapter in attach order, under loraState's PEFT names", () => {
    expect(() => loraVariables(model)).toThrow(/no LoRA adapters; call attachLora first/);
    attachLora(model, { r: 2, targetModules: ["v_proj", "down_proj"] });
    const variables = loraVariables(model);
    const layers = Array.from({ length: config.numHiddenLayers }, (_, l) => l);
    expect([...variables.keys()]).toEqual(
      layers.flatMap((l) =>
        [`model.layers.${l}.self_attn.v_proj`, `model.layers.${l}.mlp.down_proj`].flatMap((p) => [`base_model.model.${p}.lora_A.weight`, `base_model.model.${p}.lora_B.weight`]),
      ),
    );
    expect([...variables.keys()]).toEqual([...loraState(model).tensors.keys()]);
    expect([...variables.values()]).toEqual(model.trainableVariables);
    for (const [prefix, adapter] of model.adapters) {
      expect(variables.get(`base_model.model.${prefix}.lora_A.weight`)).toBe(adapter.a);
      expect(variables.get(`base_model.model.${prefix}.lora_B.weight`)).toBe(adapter.b);
    }
  });

  it("loraState → loadLoraState round-trips in PEFT names; bad states are rejected by name", () => {
    attachLora(model, { r: 2, alpha: 5, targetModules: ["k_proj", "gate_proj"], seed: 4 });
    randomizeB(model);
    const want = logits(model);
    const state = loraState(model);
    expect(state.config).toMatchObject({ peft_type: "LORA", r: 2, lora_alpha: 5, target_modules: ["k_proj", "gate_proj"] });
    expect(state.tensors.get("base_model.model.model.layers.1.mlp.gate_proj.lora_B.weight")?.shape).toEqual([config.intermediateSize, 2]);
    expect(state.tensors.get("base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight")?.shape).toEqual([2, config.hiddenSize]);
    const other = Qwen2Model.fromWeights(config, model.toWeights());
    loadLoraState(other, { config: { ...state.config }, tensors: state.tensors });
    expect(logits(other)).toEqual(want);
    const broken = new Map(state.tensors);
    broken.delete("base_model.model.model.layers.1.mlp.gate_proj.lora_A.weight");
    expect(() => loadLoraState(other, { config: { ...state.config }, tensors: broken })).toThrow(ModelError);
    expect(() => loadLoraState(other, { config: { ...state.config }, tensors: broken })).toThrow(/missing base_model\.model\.model\.layers\.1\.mlp\.gate_proj\.lora_A\.weight/);
    expect(() => loadLoraState(other, { config: { ...state.config, use_dora: true }, tensors: state.tensors })).toThrow(/use_dora/);
    other.dispose();
  });

  it("saveLora → loadLora round-trips through a PEFT adapter directory; rsLoRA scales by alpha/√r", async () => {
    attachLora(model, { r: 4, alpha: 3, targetModules: ["o_proj", "down_proj"], useRslora: true, seed: 5 });
    randomizeB(model);
    expect(model.adapters.get("model.layers.0.self_attn.o_proj")?.scale).toBe(3 / 2);
    const want = logits(model);
    const dir = mkdtempSync(join(tmpdir(), "lora-"));
    try {
      await saveLora(model, join(dir, "adapter"), { baseModelNameOrPath: "tiny" });
      const json = JSON.parse(readFileSync(join(dir, "adapter", "adapter_config.json"), "utf8"));
      expect(json).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 3, use_rslora: true, target_modules: ["o_proj", "down_proj"], base_model_name_or_path: "tiny" });
      const other = Qwen2Model.fromWeights(config, model.toWeights());
      await loadLora(other, join(dir, "adapter"));
      expect(logits(other)).toEqual(want);
      other.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function logitsOfBase(weights: ReturnType<Qwen2Model["toWeights"]>): Float32Array {
  const base = Qwen2Model.fromWeights(config, weights);
  const out = logits(base);
  base.dispose();
  return out;
}

describe("LoRA detach", () => {
  it("detachLora frees the adapters and makes the base trainable again", async () => {
    await useBackend("cpu");
    const model = Qwen2Model.init(config);
    const all = model.trainableVariables.length;
    attachLora(model, { r: 1 });
    expect(model.trainableVariables.length).toBe(2 * 2 * config.numHiddenLayers);
    detachLora(model);
    expect(model.trainableVariables.length).toBe(all);
    expect([...model.variables.values()].every((v) => v.trainable)).toBe(true);
    model.dispose();
  });
});
