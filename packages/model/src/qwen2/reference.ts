// An independent Qwen2 forward in plain float64 loops (no tfjs), written from transformers' modeling_qwen2.py formulas.
// It is the oracle the tfjs and onnxruntime engines are tested against: slow (O(params · seq)), for tiny models only.
import type { Qwen2Config } from "../config.js";
import type { NamedTensors } from "../engine.js";
import { ModelError } from "../errors.js";

type Matrix = { rows: number; cols: number; data: Float64Array };

function tensor(weights: NamedTensors, name: string, shape: number[]): Float64Array {
  const t = weights.get(name);
  if (t === undefined) throw new ModelError("qwen2-reference", `weights have no "${name}"; expected a tensor of shape [${shape}].`);
  if (t.shape.join() !== shape.join()) throw new ModelError("qwen2-reference", `"${name}" has shape [${t.shape}], expected [${shape}].`);
  return Float64Array.from(t.data);
}

/** x·Wᵀ (+ bias): x `[n, in]`, W `[out, in]` as nn.Linear stores it. */
function linear(x: Matrix, w: Float64Array, out: number, bias?: Float64Array): Matrix {
  const { rows: n, cols: k } = x;
  const y = new Float64Array(n * out);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < out; o++) {
      let acc = bias === undefined ? 0 : (bias[o] as number);
      for (let j = 0; j < k; j++) acc += (x.data[i * k + j] as number) * (w[o * k + j] as number);
      y[i * out + o] = acc;
    }
  }
  return { rows: n, cols: out, data: y };
}

/** Qwen2RMSNorm: x / sqrt(mean(x²) + eps) · weight, per row. */
function rmsNorm(x: Matrix, w: Float64Array, eps: number): Matrix {
  const { rows, cols } = x;
  const y = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += (x.data[i * cols + j] as number) ** 2;
    const r = 1 / Math.sqrt(ss / cols + eps);
    for (let j = 0; j < cols; j++) y[i * cols + j] = (x.data[i * cols + j] as number) * r * (w[j] as number);
  }
  return { rows, cols, data: y };
}

/** RoPE in rotate_half layout, in place: pair (i, i + d/2) of each head rotated by pos · θ^(−2i/d). */
function rope(x: Matrix, heads: number, d: number, theta: number, positions: readonly number[]): void {
  const half = d / 2;
  for (let t = 0; t < x.rows; t++) {
    const pos = positions[t] as number;
    for (let h = 0; h < heads; h++) {
      const base = t * x.cols + h * d;
      for (let i = 0; i < half; i++) {
        const angle = pos * theta ** (-(2 * i) / d);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const a = x.data[base + i] as number;
        const b = x.data[base + half + i] as number;
        x.data[base + i] = a * c - b * s;
        x.data[base + half + i] = b * c + a * s;
      }
    }
  }
}

/**
 * Logits `[seq, vocab]` (row-major) of one unpadded sequence under Qwen2ForCausalLM, in float64: embedding, per layer
 * RMSNorm → q/k/v (with bias) → RoPE (positions 0 … seq−1, or `positionIds`) → causal GQA softmax attention → o_proj →
 * residual → RMSNorm → down(silu(gate) · up) → residual, final RMSNorm, LM head (the embedding when tied).
 */
export function referenceLogits(config: Qwen2Config, weights: NamedTensors, ids: readonly number[], options: { positionIds?: readonly number[] } = {}): Float64Array {
  const { vocabSize: vocab, hiddenSize: h, intermediateSize: inter, numAttentionHeads: hq, numKeyValueHeads: hkv, headDim: d, rmsNormEps: eps, ropeTheta: theta } = config;
  const s = ids.length;
  const positions = options.positionIds ?? Array.from({ length: s }, (_, i) => i);
  if (positions.length !== s) throw new ModelError("qwen2-reference", `positionIds has ${positions.length} entries, expected ${s} (one per id).`);
  const embed = tensor(weights, "model.embed_tokens.weight", [vocab, h]);
  let x: Matrix = { rows: s, cols: h, data: new Float64Array(s * h) };
  ids.forEach((id, t) => {
    if (!(Number.isInteger(id) && id >= 0 && id < vocab)) throw new ModelError("qwen2-reference", `token id ${id} is outside [0, ${vocab}).`);
    x.data.set(embed.subarray(id * h, (id + 1) * h), t * h);
  });
  const group = hq / hkv;
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    const w = (name: string, shape: number[]) => tensor(weights, `${p}.${name}`, shape);
    const hn = rmsNorm(x, w("input_layernorm.weight", [h]), eps);
    const q = linear(hn, w("self_attn.q_proj.weight", [hq * d, h]), hq * d, w("self_attn.q_proj.bias", [hq * d]));
    const k = linear(hn, w("self_attn.k_proj.weight", [hkv * d, h]), hkv * d, w("self_attn.k_proj.bias", [hkv * d]));
    const v = linear(hn, w("self_attn.v_proj.weight", [hkv * d, h]), hkv * d, w("self_attn.v_proj.bias", [hkv * d]));
    rope(q, hq, d, theta, positions);
    rope(k, hkv, d, theta, positions);
    const attn: Matrix = { rows: s, cols: hq * d, data: new Float64Array(s * hq * d) };
    const scores = new Float64Array(s);
    for (let head = 0; head < hq; head++) {
      const kvHead = Math.floor(head / group);
      for (let t = 0; t < s; t++) {
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j <= t; j++) {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += (q.data[t * hq * d + head * d + i] as number) * (k.data[j * hkv * d + kvHead * d + i] as number);
          scores[j] = dot / Math.sqrt(d);
          max = Math.max(max, scores[j] as number);
        }
        let sum = 0;
        for (let j = 0; j <= t; j++) {
          scores[j] = Math.exp((scores[j] as number) - max);
          sum += scores[j] as number;
        }
        for (let j = 0; j <= t; j++) {
          const pj = (scores[j] as number) / sum;
          for (let i = 0; i < d; i++) attn.data[t * hq * d + head * d + i] = (attn.data[t * hq * d + head * d + i] as number) + pj * (v.data[j * hkv * d + kvHead * d + i] as number);
        }
      }
    }
    const o = linear(attn, w("self_attn.o_proj.weight", [h, hq * d]), h);
    x = { rows: s, cols: h, data: x.data.map((xi, i) => xi + (o.data[i] as number)) };
    const hn2 = rmsNorm(x, w("post_attention_layernorm.weight", [h]), eps);
    const gate = linear(hn2, w("mlp.gate_proj.weight", [inter, h]), inter);
    const up = linear(hn2, w("mlp.up_proj.weight", [inter, h]), inter);
    const act: Matrix = { rows: s, cols: inter, data: gate.data.map((g, i) => (g / (1 + Math.exp(-g))) * (up.data[i] as number)) };
    const down = linear(act, w("mlp.down_proj.weight", [h, inter]), h);
    x = { rows: s, cols: h, data: x.data.map((xi, i) => xi + (down.data[i] as number)) };
  }
  const final = rmsNorm(x, tensor(weights, "model.norm.weight", [h]), eps);
  const head = config.tieWordEmbeddings ? embed : tensor(weights, "lm_head.weight", [vocab, h]);
  return linear(final, head, vocab).data;
}
