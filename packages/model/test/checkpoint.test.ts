import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseQwen2Config, type Qwen2Config } from "../src/config.js";
import type { NamedTensors } from "../src/engine.js";
import { ModelError } from "../src/errors.js";
import { randomQwen2Weights } from "../src/qwen2/randomWeights.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";
import { loadHfTokenizer } from "../src/tokenizer/hfTokenizer.js";
import { loadCheckpoint, loadWeights, saveCheckpoint, saveWeights } from "../src/weights/checkpoint.js";
import { readSafetensors, serializeSafetensors } from "../src/weights/safetensors.js";

const root = mkdtempSync(join(tmpdir(), "infialign-checkpoint-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config: Qwen2Config = parseQwen2Config({
  vocab_size: 260,
  hidden_size: 8,
  intermediate_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
  bos_token_id: 256,
  eos_token_id: 258,
});


function expectBitExact(actual: NamedTensors, expected: NamedTensors): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, t] of expected) {
    const got = actual.get(name);
    expect(got?.shape, name).toEqual(t.shape);
    expect(Buffer.from((got?.data ?? new Float32Array()).buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
  }
}

const weights = randomQwen2Weights(config, { seed: 1, std: 0.3, biasStd: 0.3, normStd: 0.3 });

describe("saveWeights / loadWeights", () => {
  it("single file: model.safetensors with transformers' metadata, round trip bit-exact", async () => {
    const dir = join(root, "single");
    await saveWeights(dir, weights);
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
    expect((await readSafetensors(join(dir, "model.safetensors"))).metadata).toEqual({ format: "pt" });
    expectBitExact(await loadWeights(dir), weights);
  });

  it("shards like huggingface_hub: numbered files + index, equal to the single file", async () => {
    const dir = join(root, "sharded");
    // The embedding is 260·8·4 = 8320 bytes: over the limit, so it gets a shard of its own.
    await saveWeights(dir, weights, { maxShardBytes: 2000 });
    const files = readdirSync(dir).sort();
    const shards = files.filter((f) => f !== "model.safetensors.index.json");
    expect(files).toContain("model.safetensors.index.json");
    expect(shards.length).toBeGreaterThan(2);
    expect(shards).toEqual(shards.map((_, i) => `model-${String(i + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`));
    const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
    const totalSize = [...weights.values()].reduce((sum, t) => sum + t.data.length * 4, 0);
    expect(index.metadata).toEqual({ total_size: totalSize });
    expect(Object.keys(index.weight_map).sort()).toEqual([...weights.keys()].sort());
    expect(index.weight_map["model.embed_tokens.weight"]).toBe(shards[0]);
    for (const shard of shards.slice(1)) {
      const bytes = [...(await readSafetensors(join(dir, shard))).tensors.values()].reduce((sum, t) => sum + t.data.length * 4, 0);
      expect(bytes).toBeLessThanOrEqual(2000);
    }
    expectBitExact(await loadWeights(dir), weights);
    // Re-saving unsharded into the same directory removes the stale shards and index.
    await saveWeights(dir, weights);
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
  });

  it("BF16 and F16 saves load back as the rounded values, at half the size", async () => {
    for (const dtype of ["BF16", "F16"] as const) {
      const dir = join(root, `half-${dtype}`);
      await saveWeights(dir, weights, { dtype });
      const loaded = await loadWeights(dir);
      const single = readFileSync(join(dir, "model.safetensors"));
      const f32 = serializeSafetensors(weights);
      expect(single.length).toBeLessThan(f32.length * 0.6);
      // Round to nearest: relative error ≤ 2^-8 (BF16, 8 significant bits) or 2^-11 (F16), plus F16's subnormal step.
      let worst = 0;
      for (const [name, t] of weights) {
        const got = loaded.get(name)?.data as Float32Array;
        for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs((got[i] as number) - (t.data[i] as number)) - Math.abs(t.data[i] as number) * (dtype === "BF16" ? 2 ** -8 : 2 ** -11) - 2 ** -25);
      }
      expect(worst).toBeLessThanOrEqual(0);
      // Saving what was loaded is exact: rounding is idempotent.
      const again = join(root, `half-${dtype}-again`);
      await saveWeights(again, loaded, { dtype });
      expect(readFileSync(join(again, "model.safetensors")).equals(single)).toBe(true);
    }
  });

  it("rejects broken sharded layouts with the file and tensor named", async () => {
    const dir = join(root, "broken");
    await saveWeights(dir, weights, { maxShardBytes: 2000 });
    const indexPath = join(dir, "model.safetensors.index.json");
    const index = JSON.parse(readFileSync(indexPath, "utf8"));
    const write = (map: Record<string, string>) => writeFileSync(indexPath, JSON.stringify({ ...index, weight_map: map }));

    write({ ...index.weight_map, "model.norm.weight": "model-00009-of-00009.safetensors" });
    await expect(loadWeights(dir)).rejects.toThrow(/lists 1 tensor\(s\) in model-00009-of-00009\.safetensors, which does not exist/);

    const { "model.norm.weight": normFile, ...withoutNorm } = index.weight_map;
    write(withoutNorm);
    await expect(loadWeights(dir)).rejects.toThrow(new RegExp(`${normFile.replace(/\./g, "\\.")} holds tensor "model\\.norm\\.weight", which .* maps to no file`));

    write({ ...index.weight_map, "model.extra.weight": normFile });
    await expect(loadWeights(dir)).rejects.toThrow(/maps tensor "model\.extra\.weight" to .*, which does not contain it/);

    // The same tensor stored in two shards.
    const firstShard = index.weight_map["model.embed_tokens.weight"];
    writeFileSync(join(dir, firstShard), serializeSafetensors(new Map([["model.embed_tokens.weight", weights.get("model.embed_tokens.weight")!], ["model.norm.weight", weights.get("model.norm.weight")!]])));
    write(index.weight_map);
    await expect(loadWeights(dir)).rejects.toThrow(new RegExp(`${firstShard.replace(/\./g, "\\.")} holds tensor "model\\.norm\\.weight", which .* maps to ${normFile.replace(/\./g, "\\.")}`));

    write({ "model.norm.weight": "../elsewhere.safetensors" });
    await expect(loadWeights(dir)).rejects.toThrow(/must be a file name in the same directory/);
    writeFileSync(indexPath, "{");
    await expect(loadWeights(dir)).rejects.toThrow(ModelError);

    const empty = join(root, "empty");
    mkdirSync(empty);
    writeFileSync(join(empty, "pytorch_model.bin"), "");
    await expect(loadWeights(empty)).rejects.toThrow(/has neither model\.safetensors nor model\.safetensors\.index\.json\. It has pytorch_model\.bin/);
  });
});

describe("saveCheckpoint / loadCheckpoint", () => {
  it("writes a transformers-style directory and loads it back bit-exact", async () => {
    const dir = join(root, "ckpt");
    const tokenizer = new ByteTokenizer();
    await saveCheckpoint(dir, { config, weights, tokenizer, generationConfig: { max_new_tokens: 32 } });
    expect(readdirSync(dir).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
    const configJson = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    expect(configJson).toMatchObject({ architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", torch_dtype: "float32", vocab_size: 260 });
    expect(Object.keys(configJson)).toEqual(Object.keys(configJson).sort());
    const loaded = await loadCheckpoint(dir);
    expect(loaded.config).toEqual({ ...config, torchDtype: "float32" });
    expect(loaded.generationConfig).toEqual({ bos_token_id: 256, eos_token_id: tokenizer.eosTokenIds, pad_token_id: tokenizer.padTokenId, max_new_tokens: 32 });
    expectBitExact(loaded.weights, weights);
    // The saved tokenizer files load as an HfTokenizer with the byte tokenizer's stop and pad tokens.
    const hf = await loadHfTokenizer(dir);
    expect(hf.eosTokenIds).toEqual(tokenizer.eosTokenIds);
    expect(hf.padTokenId).toBe(tokenizer.padTokenId);
    expect(hf.encode("hé<|im_end|>")).toEqual(tokenizer.encode("hé<|im_end|>"));

    // Re-saving an HfTokenizer copies its source files unchanged; BF16 and sharding apply to the weights.
    const copy = join(root, "ckpt-copy");
    await saveCheckpoint(copy, { config, weights, tokenizer: hf, dtype: "BF16", maxShardBytes: 4000 });
    expect(readFileSync(join(copy, "tokenizer.json"), "utf8")).toBe(readFileSync(join(dir, "tokenizer.json"), "utf8"));
    expect(readFileSync(join(copy, "tokenizer_config.json"), "utf8")).toBe(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
    expect(existsSync(join(copy, "model.safetensors.index.json"))).toBe(true);
    const half = await loadCheckpoint(copy);
    expect(half.config.torchDtype).toBe("bfloat16");
    expect(half.weights.size).toBe(weights.size);
  });

  it("replaces an existing checkpoint as a whole, and a failed save leaves it untouched", async () => {
    const dir = join(root, "replace");
    await saveCheckpoint(dir, { config, weights, maxShardBytes: 2000 });
    expect(existsSync(join(dir, "model.safetensors.index.json"))).toBe(true);
    await saveCheckpoint(dir, { config, weights: randomQwen2Weights(config, { seed: 2, std: 0.3, biasStd: 0.3, normStd: 0.3 }) });
    expect(readdirSync(dir).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors"]);
    expectBitExact((await loadCheckpoint(dir)).weights, randomQwen2Weights(config, { seed: 2, std: 0.3, biasStd: 0.3, normStd: 0.3 }));

    const bad: NamedTensors = new Map([...weights, ["model.norm.weight", { shape: [8], data: new Float32Array(3) }]]);
    await expect(saveCheckpoint(dir, { config, weights: bad })).rejects.toThrow(/tensor "model\.norm\.weight": shape \[8\] needs 8 float32 values; got 3/);
    expectBitExact((await loadCheckpoint(dir)).weights, randomQwen2Weights(config, { seed: 2, std: 0.3, biasStd: 0.3, normStd: 0.3 }));
    expect(readdirSync(root).filter((f) => f.includes(".tmp-") || f.includes(".old-"))).toEqual([]);
  });

  it("names the missing or invalid config", async () => {
    await expect(loadCheckpoint(join(root, "single"))).rejects.toThrow(/single has no config\.json/);
    const dir = join(root, "bad-config");
    await saveCheckpoint(dir, { config, weights });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...JSON.parse(readFileSync(join(dir, "config.json"), "utf8")), hidden_act: "gelu" }));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/config\.json: field "hidden_act" must be "silu"/);
  });
});
