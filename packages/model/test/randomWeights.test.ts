import { describe, expect, it } from "vitest";
import { parseQwen2Config, qwen2ParameterShapes, randomQwen2Weights } from "../src/index.js";

const config = parseQwen2Config({ vocab_size: 50, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true });

describe("randomQwen2Weights", () => {
  it("fills every HF tensor (no lm_head when tied), deterministically per seed", () => {
    const a = randomQwen2Weights(config, { seed: 3 });
    expect([...a.keys()]).toEqual([...qwen2ParameterShapes(config).keys()]);
    expect(a.has("lm_head.weight")).toBe(false);
    expect(a.get("model.layers.0.self_attn.k_proj.weight")?.shape).toEqual([16, 32]);
    expect(randomQwen2Weights(config, { seed: 3 })).toEqual(a);
    expect(randomQwen2Weights(config, { seed: 4 }).get("model.embed_tokens.weight")?.data).not.toEqual(a.get("model.embed_tokens.weight")?.data);
  });

  it("draws with the requested spreads: transformers' init by default", () => {
    const w = randomQwen2Weights(config, { seed: 1 });
    expect([...(w.get("model.norm.weight")?.data ?? [])].every((v) => v === 1)).toBe(true);
    expect([...(w.get("model.layers.1.self_attn.q_proj.bias")?.data ?? [])].every((v) => v === 0)).toBe(true);
    const up = w.get("model.layers.0.mlp.up_proj.weight")?.data ?? new Float32Array();
    const std = Math.sqrt(up.reduce((s, v) => s + v * v, 0) / up.length);
    expect(std).toBeGreaterThan(0.017);
    expect(std).toBeLessThan(0.023);
    const jittered = randomQwen2Weights(config, { seed: 1, normStd: 0.2, biasStd: 0.1 });
    expect(jittered.get("model.norm.weight")?.data.some((v) => v !== 1)).toBe(true);
    expect(jittered.get("model.layers.1.self_attn.q_proj.bias")?.data.some((v) => v !== 0)).toBe(true);
  });
});
