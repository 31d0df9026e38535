// The Qwen2 configuration as Hugging Face's Qwen2Config holds it in config.json, validated, with the keys this
// implementation does not support rejected instead of silently ignored.
import { ModelError } from "./errors.js";

/** A Qwen2 decoder's shape (Hugging Face `config.json` of `Qwen2ForCausalLM`, camelCased). */
export interface Qwen2Config {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  /** hiddenSize / numAttentionHeads (Qwen2 has no separate `head_dim`). */
  headDim: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  /** Standard deviation of the normal init of weight matrices (`initializer_range`). */
  initializerRange: number;
  bosTokenId?: number;
  /** One id or several (generation_config.json style). */
  eosTokenId?: number | number[];
  /** Data type the checkpoint was saved in (`torch_dtype`); computation is float32 regardless. */
  torchDtype?: string;
}

type Json = Record<string, unknown>;

const DEFAULTS = { rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, initializer_range: 0.02, max_position_embeddings: 32768 };

/**
 * Validates a parsed config.json. Required: `vocab_size`, `hidden_size`, `intermediate_size`, `num_hidden_layers`,
 * `num_attention_heads`; `num_key_value_heads` defaults to the attention heads, the rest to transformers' Qwen2Config
 * defaults. Rejected: `model_type` other than qwen2, `hidden_act` other than silu, `rope_scaling`, an enabled sliding
 * window — features this implementation does not compute, which would otherwise give silently different logits.
 *
 * @param source file name used in error messages
 */
export function parseQwen2Config(json: unknown, source = "config.json"): Qwen2Config {
  const fail = (field: string, expected: string, got?: unknown): never => {
    throw new ModelError("config", `${source}: field "${field}" must be ${expected}${got === undefined ? "" : `; got ${JSON.stringify(got)}`}.`);
  };
  if (json === null || typeof json !== "object" || Array.isArray(json)) fail("(root)", "a JSON object");
  const c = json as Json;
  const positiveInt = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (v === undefined) return fail(key, "a positive integer (required)");
    if (!Number.isInteger(v) || (v as number) <= 0) fail(key, "a positive integer", v);
    return v as number;
  };
  const positiveNumber = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== "number" || !(v > 0)) fail(key, "a positive number", v);
    return v as number;
  };
  if (c.model_type !== undefined && c.model_type !== "qwen2") fail("model_type", '"qwen2"', c.model_type);
  if (c.hidden_act !== undefined && c.hidden_act !== "silu") fail("hidden_act", '"silu" (SwiGLU)', c.hidden_act);
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) fail("rope_scaling", "null (RoPE scaling is not implemented)", c.rope_scaling);
  if (c.use_sliding_window === true) fail("use_sliding_window", "false (sliding-window attention is not implemented)", true);

  const hiddenSize = positiveInt("hidden_size");
  const numAttentionHeads = positiveInt("num_attention_heads");
  const numKeyValueHeads = positiveInt("num_key_value_heads", numAttentionHeads);
  if (hiddenSize % numAttentionHeads !== 0) fail("hidden_size", `a multiple of num_attention_heads (${numAttentionHeads})`, hiddenSize);
  if (numAttentionHeads % numKeyValueHeads !== 0) fail("num_key_value_heads", `a divisor of num_attention_heads (${numAttentionHeads})`, numKeyValueHeads);
  const headDim = hiddenSize / numAttentionHeads;
  if (headDim % 2 !== 0) fail("hidden_size", "such that hidden_size / num_attention_heads is even (RoPE rotates pairs)", hiddenSize);
  const tie = c.tie_word_embeddings ?? DEFAULTS.tie_word_embeddings;
  if (typeof tie !== "boolean") fail("tie_word_embeddings", "a boolean", tie);
  const eos = c.eos_token_id;
  if (eos !== undefined && eos !== null && !Number.isInteger(eos) && !(Array.isArray(eos) && eos.every(Number.isInteger))) fail("eos_token_id", "an integer or a list of integers", eos);
  const bos = c.bos_token_id;
  if (bos !== undefined && bos !== null && !Number.isInteger(bos)) fail("bos_token_id", "an integer", bos);

  return {
    vocabSize: positiveInt("vocab_size"),
    hiddenSize,
    intermediateSize: positiveInt("intermediate_size"),
    numHiddenLayers: positiveInt("num_hidden_layers"),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    maxPositionEmbeddings: positiveInt("max_position_embeddings", DEFAULTS.max_position_embeddings),
    rmsNormEps: positiveNumber("rms_norm_eps", DEFAULTS.rms_norm_eps),
    ropeTheta: positiveNumber("rope_theta", DEFAULTS.rope_theta),
    tieWordEmbeddings: tie as boolean,
    initializerRange: positiveNumber("initializer_range", DEFAULTS.initializer_range),
    ...(bos === undefined || bos === null ? {} : { bosTokenId: bos as number }),
    ...(eos === undefined || eos === null ? {} : { eosTokenId: eos as number | number[] }),
    ...(typeof c.torch_dtype === "string" ? { torchDtype: c.torch_dtype } : {}),
  };
}

/** A config.json that transformers, vLLM and LLaMA-Factory load as `Qwen2ForCausalLM`. */
export function qwen2ConfigToJson(config: Qwen2Config): Json {
  return {
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numHiddenLayers,
    num_attention_heads: config.numAttentionHeads,
    num_key_value_heads: config.numKeyValueHeads,
    hidden_act: "silu",
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: config.tieWordEmbeddings,
    initializer_range: config.initializerRange,
    use_sliding_window: false,
    sliding_window: null,
    max_window_layers: config.numHiddenLayers,
    attention_dropout: 0,
    use_cache: true,
    torch_dtype: config.torchDtype ?? "float32",
    ...(config.bosTokenId === undefined ? {} : { bos_token_id: config.bosTokenId }),
    ...(config.eosTokenId === undefined ? {} : { eos_token_id: config.eosTokenId }),
  };
}

/** Number of parameters (tied embeddings counted once). */
export function countParameters(config: Qwen2Config): number {
  const { vocabSize: v, hiddenSize: h, intermediateSize: i, numHiddenLayers: l, numKeyValueHeads: kv, headDim: d } = config;
  const attention = h * h + h + 2 * (h * kv * d + kv * d) + h * h;
  const mlp = 3 * h * i;
  return v * h + l * (attention + mlp + 2 * h) + h + (config.tieWordEmbeddings ? 0 : v * h);
}
