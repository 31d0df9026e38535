// Seeded random Qwen2 weights on the host, without tfjs: for tests, benchmarks and the ONNX engine, which need a
// checkpoint's worth of tensors but no training. Qwen2Model.init draws normal weights through tfjs instead.
import { createRng } from "@infialign/kernels";
import type { Qwen2Config } from "../config.js";
import type { NamedTensors } from "../engine.js";
import { qwen2ParameterShapes } from "./model.js";

/** Options of {@link randomQwen2Weights}; every spread is a standard deviation of a uniform draw. */
export interface RandomQwen2WeightsOptions {
  /** @default 0 */
  seed?: number;
  /** Projection matrices (and the untied LM head). @default config.initializerRange */
  std?: number;
  /** The token embedding. @default std */
  embeddingStd?: number;
  /** q/k/v biases (transformers initialises them to 0). @default 0 */
  biasStd?: number;
  /** RMSNorm weights around 1 (transformers initialises them to exactly 1). @default 0 */
  normStd?: number;
}

/**
 * Every tensor of `config` under its Hugging Face name and shape (tied models have no `lm_head.weight`), drawn
 * uniformly with the given standard deviations from a seeded xoshiro128** stream, so equal seeds give equal bits.
 */
export function randomQwen2Weights(config: Qwen2Config, options: RandomQwen2WeightsOptions = {}): NamedTensors {
  const rng = createRng(options.seed ?? 0);
  const std = options.std ?? config.initializerRange;
  const spreadOf = (name: string): { center: number; std: number } => {
    if (name.endsWith("norm.weight")) return { center: 1, std: options.normStd ?? 0 };
    if (name.endsWith(".bias")) return { center: 0, std: options.biasStd ?? 0 };
    if (name === "model.embed_tokens.weight") return { center: 0, std: options.embeddingStd ?? std };
    return { center: 0, std };
  };
  const weights: NamedTensors = new Map();
  for (const [name, shape] of qwen2ParameterShapes(config)) {
    const { center, std: s } = spreadOf(name);
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    // A uniform draw on [−√3·s, √3·s] has standard deviation s.
    for (let i = 0; i < data.length; i++) data[i] = center + s * Math.sqrt(3) * (2 * rng.nextFloat() - 1);
    weights.set(name, { shape, data });
  }
  return weights;
}
