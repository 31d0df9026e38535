import "@tensorflow/tfjs-backend-cpu";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NamedTensors, parseQwen2Config, resolvePeftLoraConfig } from "@infialign/model";
import * as tf from "@tensorflow/tfjs-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createTrainerState,
  latestCheckpoint,
  listCheckpoints,
  loadTrainingCheckpoint,
  readCheckpointModel,
  restoreCheckpointModel,
  saveTrainingCheckpoint,
} from "../src/core/checkpoint.js";
import type { AdamWState } from "../src/core/optimizer.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "core-ckpt-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Float32 values chosen to catch any lossy path: NaN with a payload, −0, a subnormal, the largest float. */
function awkward(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(seed * 7.3 + i * 1.7) * 10 ** ((i % 9) - 4);
  const bits = new Uint32Array(a.buffer);
  if (n > 3) {
    bits[0] = 0x7fc01234; // NaN with payload
    bits[1] = 0x80000000; // −0
    bits[2] = 0x00000001; // smallest subnormal
    bits[3] = 0x7f7fffff; // largest finite float32
  }
  return a;
}

const weights = (): NamedTensors =>
  new Map([
    ["model.embed_tokens.weight", { shape: [4, 3], data: awkward(12, 1) }],
    ["model.norm.weight", { shape: [3], data: awkward(3, 2) }],
  ]);

const optimizerState = (): AdamWState => ({
  step: 7,
  paramSteps: new Map([["model.embed_tokens.weight", 7], ["model.norm.weight", 5]]),
  expAvg: new Map([["model.embed_tokens.weight", { shape: [4, 3], data: awkward(12, 3) }], ["model.norm.weight", { shape: [3], data: awkward(3, 4) }]]),
  expAvgSq: new Map([["model.embed_tokens.weight", { shape: [4, 3], data: awkward(12, 5) }], ["model.norm.weight", { shape: [3], data: awkward(3, 6) }]]),
});

const bits = (t: { data: Float32Array }) => Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length));
const sameBits = (a: NamedTensors, b: NamedTensors) => {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [name, t] of a) {
    expect(b.get(name)!.shape).toEqual(t.shape);
    expect(bits(b.get(name)!)).toEqual(bits(t));
  }
};

async function save(step: number, extra: Partial<Parameters<typeof saveTrainingCheckpoint>[0]> = {}) {
  return saveTrainingCheckpoint({
    outputDir: dir,
    step,
    model: { format: "weights", weights: weights() },
    optimizer: optimizerState(),
    trainerState: createTrainerState({ global_step: step, epoch: step / 10, log_history: [{ loss: 1 / step, step, epoch: step / 10 }] }),
    rngState: { seed: 42, draws: step * 3 },
    dataCursor: { phase: 1, epoch: 0, position: step * 4, shuffleSeed: 9 },
    ...extra,
  });
}

describe("training checkpoints", () => {
  it("round-trips weights, optimizer state, trainer state, RNG state and data cursor bit-exactly", async () => {
    const path = await save(12);
    expect(path).toBe(join(dir, "checkpoint-12"));
    expect(readdirSync(path).sort()).toEqual(["data_cursor.json", "model.safetensors", "optimizer.safetensors", "rng_state.json", "trainer_state.json"]);
    const loaded = await loadTrainingCheckpoint(path);
    expect(loaded.step).toBe(12);
    expect(loaded.model.format).toBe("weights");
    if (loaded.model.format === "weights") sameBits(weights(), loaded.model.weights);
    const want = optimizerState();
    expect(loaded.optimizer!.step).toBe(7);
    expect(loaded.optimizer!.paramSteps).toEqual(want.paramSteps);
    sameBits(want.expAvg, loaded.optimizer!.expAvg);
    sameBits(want.expAvgSq, loaded.optimizer!.expAvgSq);
    expect(loaded.trainerState.global_step).toBe(12);
    expect(loaded.trainerState.log_history).toEqual([{ loss: 1 / 12, step: 12, epoch: 1.2 }]);
    expect(loaded.rngState).toEqual({ seed: 42, draws: 36 });
    expect(loaded.dataCursor).toEqual({ phase: 1, epoch: 0, position: 48, shuffleSeed: 9 });
  });

  it("writes trainer_state.json with HF's field names, keys sorted", async () => {
    const path = await save(3);
    const json = JSON.parse(readFileSync(join(path, "trainer_state.json"), "utf8")) as Record<string, unknown>;
    const keys = Object.keys(json);
    expect(keys).toEqual([...keys].sort());
    for (const k of ["best_metric", "best_model_checkpoint", "epoch", "global_step", "log_history", "logging_steps", "max_steps", "num_train_epochs", "save_steps", "total_flos", "train_batch_size"]) {
      expect(keys).toContain(k);
    }
  });

  it("writes full model directories and PEFT adapters through @infialign/model", async () => {
    const config = parseQwen2Config({ vocab_size: 4, hidden_size: 4, intermediate_size: 6, num_hidden_layers: 1, num_attention_heads: 1 });
    const full = await saveTrainingCheckpoint({ outputDir: dir, step: 1, model: { format: "model", options: { config, weights: weights() } }, trainerState: createTrainerState() });
    expect(existsSync(join(full, "config.json"))).toBe(true);
    const a = await loadTrainingCheckpoint(full);
    expect(a.model.format).toBe("model");
    if (a.model.format === "model") {
      expect(a.model.checkpoint.config.hiddenSize).toBe(4);
      sameBits(weights(), a.model.checkpoint.weights);
    }
    expect(a.optimizer).toBeUndefined();

    const lora = resolvePeftLoraConfig({ r: 2, lora_alpha: 4, target_modules: ["q_proj"] });
    const tensors: NamedTensors = new Map([
      ["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", { shape: [2, 3], data: awkward(6, 7) }],
      ["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", { shape: [3, 2], data: awkward(6, 8) }],
    ]);
    const adapter = await saveTrainingCheckpoint({ outputDir: dir, step: 2, model: { format: "adapter", config: lora, tensors }, trainerState: createTrainerState() });
    const b = await loadTrainingCheckpoint(adapter);
    expect(b.model.format).toBe("adapter");
    if (b.model.format === "adapter") {
      expect(b.model.config.r).toBe(2);
      sameBits(tensors, b.model.tensors);
    }
  });

  it("keeps the last saveTotalLimit checkpoints, sparing the best one (HF _rotate_checkpoints)", async () => {
    for (const step of [10, 20, 30]) await save(step, { saveTotalLimit: 2 });
    expect((await listCheckpoints(dir)).map((c) => c.step)).toEqual([20, 30]);
    const best = createTrainerState({ best_model_checkpoint: join(dir, "checkpoint-20") });
    for (const step of [40, 50]) await save(step, { saveTotalLimit: 2, trainerState: best });
    expect((await listCheckpoints(dir)).map((c) => c.step)).toEqual([20, 50]);
    await save(60, { saveTotalLimit: 1, trainerState: best });
    // limit 1 with a best checkpoint that is not the latest keeps both, as HF does
    expect((await listCheckpoints(dir)).map((c) => c.step)).toEqual([20, 60]);
    expect(await latestCheckpoint(dir)).toBe(join(dir, "checkpoint-60"));
  });

  it("a crash mid-write leaves the previous checkpoint usable and no partial directory", async () => {
    await save(5);
    const error = await save(10, {
      beforeCommit: async (temp) => {
        expect(existsSync(join(temp, "optimizer.safetensors"))).toBe(true);
        throw new Error("simulated crash");
      },
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe("simulated crash");
    expect(readdirSync(dir)).toEqual(["checkpoint-5"]);
    expect(await latestCheckpoint(dir)).toBe(join(dir, "checkpoint-5"));
    expect((await loadTrainingCheckpoint(join(dir, "checkpoint-5"))).trainerState.global_step).toBe(5);

    const throwing = await saveTrainingCheckpoint({
      outputDir: dir,
      step: 11,
      model: {
        format: "custom",
        write: async (d) => {
          await writeFile(join(d, "half.bin"), "x");
          throw new Error("model writer failed");
        },
      },
      trainerState: createTrainerState(),
    }).catch((e: unknown) => e);
    expect((throwing as Error).message).toBe("model writer failed");
    expect(readdirSync(dir)).toEqual(["checkpoint-5"]);
  });

  it("ignores and then removes temp directories left by a killed process; re-saving a step replaces it", async () => {
    await save(5);
    await mkdir(join(dir, ".tmp-checkpoint-9-deadbeef"));
    await writeFile(join(dir, ".tmp-checkpoint-9-deadbeef", "trainer_state.json"), "{");
    await mkdir(join(dir, "..tmp-checkpoint-9-deadbeef.tmp-123-cafe"));
    expect(await latestCheckpoint(dir)).toBe(join(dir, "checkpoint-5"));
    await save(5, { rngState: { seed: 1 } });
    expect(readdirSync(dir)).toEqual(["checkpoint-5"]);
    expect((await loadTrainingCheckpoint(join(dir, "checkpoint-5"))).rngState).toEqual({ seed: 1 });
  });

  it("keeps the loss state in its own loss_state.json, apart from the RNG state", async () => {
    const path = await save(6, { lossState: { bcoRunningMean: { sum: 1.5, count: 3 } } });
    expect(readdirSync(path).sort()).toEqual(["data_cursor.json", "loss_state.json", "model.safetensors", "optimizer.safetensors", "rng_state.json", "trainer_state.json"]);
    const loaded = await loadTrainingCheckpoint(path);
    expect(loaded.lossState).toEqual({ bcoRunningMean: { sum: 1.5, count: 3 } });
    expect(loaded.rngState).toEqual({ seed: 42, draws: 18 });
    expect((await loadTrainingCheckpoint(await save(7))).lossState).toBeUndefined();
  });

  it("restoreCheckpointModel assigns model, adapter and bare-weight files by name, in place, and refuses a mismatch before changing anything", async () => {
    const variables = new Map([...weights()].map(([name, t]) => [name, tf.variable(tf.zeros(t.shape), true)]));
    const config = parseQwen2Config({ vocab_size: 4, hidden_size: 4, intermediate_size: 6, num_hidden_layers: 1, num_attention_heads: 1 });
    for (const [step, model] of [
      [1, { format: "weights", weights: weights() }],
      [2, { format: "model", options: { config, weights: weights() } }],
    ] as const) {
      for (const v of variables.values()) v.assign(tf.zerosLike(v));
      const checkpoint = await loadTrainingCheckpoint(await saveTrainingCheckpoint({ outputDir: dir, step, model, trainerState: createTrainerState() }));
      restoreCheckpointModel(checkpoint.model, variables, checkpoint.dir);
      for (const [name, v] of variables) expect(bits({ data: v.dataSync() as Float32Array }), `${model.format} ${name}`).toEqual(bits(weights().get(name)!));
    }

    const lora = resolvePeftLoraConfig({ r: 2, lora_alpha: 4, target_modules: ["q_proj"] });
    const adapterTensors: NamedTensors = new Map([
      ["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", { shape: [2, 3], data: awkward(6, 7) }],
      ["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", { shape: [3, 2], data: awkward(6, 8) }],
    ]);
    const adapterDir = await saveTrainingCheckpoint({ outputDir: dir, step: 3, model: { format: "adapter", config: lora, tensors: adapterTensors }, trainerState: createTrainerState() });
    const loraVars = new Map([...adapterTensors].map(([name, t]) => [name, tf.variable(tf.zeros(t.shape), true)]));
    restoreCheckpointModel(await readCheckpointModel(adapterDir), loraVars, adapterDir);
    for (const [name, v] of loraVars) expect(bits({ data: v.dataSync() as Float32Array }), name).toEqual(bits(adapterTensors.get(name)!));

    const before = [...variables.values()].map((v) => Array.from(v.dataSync()));
    expect(() => restoreCheckpointModel({ format: "adapter", config: lora, tensors: adapterTensors }, variables, adapterDir)).toThrow(
      /checkpoint-3: weights do not match the model: "model\.embed_tokens\.weight" is missing/,
    );
    expect([...variables.values()].map((v) => Array.from(v.dataSync()))).toEqual(before);
    expect(() => restoreCheckpointModel({ format: "custom" }, variables, "ckpt")).toThrow(/ckpt holds no model files .* needs the trainer's own restoreModel/);
    tf.dispose([...variables.values(), ...loraVars.values()]);
  });

  it("names the file and field of a bad data cursor; latestCheckpoint of a missing dir is undefined", async () => {
    const path = await save(4);
    await writeFile(join(path, "data_cursor.json"), JSON.stringify({ phase: 0, epoch: -1 }));
    await expect(loadTrainingCheckpoint(path)).rejects.toThrow(/data_cursor\.json: field\(s\) epoch, position missing or invalid/);
    expect(await latestCheckpoint(join(dir, "nope"))).toBeUndefined();
    await expect(loadTrainingCheckpoint(join(dir, "nope"))).rejects.toThrow(/cannot read .*trainer_state\.json/);
    expect(JSON.parse(await readFile(join(path, "rng_state.json"), "utf8"))).toEqual({ seed: 42, draws: 12 });
  });
});
