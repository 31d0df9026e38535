import { describe, expect, it } from "vitest";
import { countParameters, ModelError, parseQwen2Config, qwen2ConfigToJson } from "../src/index.js";

// Qwen2.5-0.5B-Instruct's config.json (Apache-2.0, Qwen team), the keys that matter.
const QWEN25_05B = {
  architectures: ["Qwen2ForCausalLM"],
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: "silu",
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: "qwen2",
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

describe("parseQwen2Config", () => {
  it("reads a real Qwen2.5 config.json and counts its parameters as published (494M)", () => {
    const config = parseQwen2Config(QWEN25_05B);
    expect(config).toMatchObject({ hiddenSize: 896, headDim: 64, numKeyValueHeads: 2, ropeTheta: 1e6, tieWordEmbeddings: true, eosTokenId: 151645 });
    expect(countParameters(config)).toBe(494_032_768);
  });

  it("round-trips through qwen2ConfigToJson", () => {
    const config = parseQwen2Config(QWEN25_05B);
    expect(parseQwen2Config(qwen2ConfigToJson(config))).toEqual(config);
  });

  it("fills transformers' defaults for optional keys", () => {
    const config = parseQwen2Config({ vocab_size: 10, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2 });
    expect(config).toMatchObject({ numKeyValueHeads: 2, rmsNormEps: 1e-6, ropeTheta: 10000, tieWordEmbeddings: false, maxPositionEmbeddings: 32768 });
  });

  it.each([
    [{ ...QWEN25_05B, hidden_size: undefined }, /"hidden_size" must be a positive integer \(required\)/],
    [{ ...QWEN25_05B, num_key_value_heads: 3 }, /"num_key_value_heads" must be a divisor of num_attention_heads \(14\)/],
    [{ ...QWEN25_05B, rope_scaling: { type: "yarn", factor: 4 } }, /"rope_scaling" must be null/],
    [{ ...QWEN25_05B, model_type: "llama" }, /"model_type" must be "qwen2"; got "llama"/],
    [{ ...QWEN25_05B, use_sliding_window: true }, /"use_sliding_window" must be false/],
    [{ ...QWEN25_05B, tie_word_embeddings: "yes" }, /"tie_word_embeddings" must be a boolean/],
    [[1, 2], /"\(root\)" must be a JSON object/],
  ])("rejects %#", (json, message) => {
    expect(() => parseQwen2Config(json, "ckpt/config.json")).toThrow(ModelError);
    expect(() => parseQwen2Config(json, "ckpt/config.json")).toThrow(message);
    expect(() => parseQwen2Config(json, "ckpt/config.json")).toThrow(/ckpt\/config\.json/);
  });
});
