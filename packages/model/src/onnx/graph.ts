// Builds the ONNX graph of Hugging Face's Qwen2ForCausalLM (transformers models/qwen2/modeling_qwen2.py) in process from
// host weights, with the KV cache as graph inputs/outputs, so onnxruntime can run inference without Python or an export
// step. Standard ONNX ops only (opset 17); onnxruntime's optimizer fuses the RMSNorm pattern (Pow → ReduceMean → Add →
// Sqrt → Div → Mul) into SimplifiedLayerNormalization and MatMul + Add into fused kernels by itself.
//
// Inputs follow the names Optimum and onnxruntime-genai use for decoder-only models:
//   input_ids int64 [batch, sequence], position_ids int64 [batch, sequence],
//   past_key_values.{i}.key|value float32 [batch, kv_heads, past_slots, head_dim],
//   attention_mask int64 [batch, past_slots + sequence] (1 = real key, 0 = padding or an unused past slot),
//   logits_to_keep int64 scalar (transformers' `logits_to_keep`: logits of the last k positions; 0 = all)
//   → logits float32 [batch, k or sequence, vocab], present_new.{i}.key|value float32 [batch, kv_heads, sequence, head_dim].
// Unlike Optimum's graphs, the outputs hold only the new positions' keys/values and attention never concatenates the
// cache: scores against the past and against the new keys are computed separately and joined before the softmax. The
// engine keeps the cache in a host buffer with spare slots and appends in place, so a decode step neither copies the
// whole cache inside the graph nor copies it out of onnxruntime (measured on the 8M-parameter benchmark config, 1 thread:
// a decode step at batch 8 with 1,024 cached positions took 10–15 ms instead of 20–30 ms with Optimum-style outputs).
import pkg from "onnx-proto";
import type { Qwen2Config } from "../config.js";
import type { HostTensor, NamedTensors } from "../engine.js";
import { ModelError } from "../errors.js";

const { onnx } = pkg;
type NodeProto = InstanceType<typeof onnx.NodeProto>;
type TensorProto = InstanceType<typeof onnx.TensorProto>;
type AttributeValue = number | number[] | { float: number };

/** The opset the graph is written against; onnxruntime 1.30 implements it fully. */
export const QWEN2_ONNX_OPSET = 17;

/** Graph input/output names, shared by the graph builder and the engine. */
export const QWEN2_ONNX_NAMES = {
  inputIds: "input_ids",
  attentionMask: "attention_mask",
  positionIds: "position_ids",
  logitsToKeep: "logits_to_keep",
  logits: "logits",
  pastKey: (layer: number) => `past_key_values.${layer}.key`,
  pastValue: (layer: number) => `past_key_values.${layer}.value`,
  newKey: (layer: number) => `present_new.${layer}.key`,
  newValue: (layer: number) => `present_new.${layer}.value`,
} as const;

// protobuf caps a message at 2 GiB; larger models would need ONNX external data, which this in-memory path does not write.
const MAX_MODEL_BYTES = 2 ** 31 - 2 ** 20;
// torch.finfo(torch.float32).min, the value transformers fills masked attention scores with: unlike -Infinity it keeps
// the softmax of a fully masked (padding) query row finite, so no NaN reaches the cache.
const MASK_MIN = -3.4028234663852886e38;
const INT64_MAX = 9223372036854775807n;

/** Collects the nodes and initializers of an ONNX graph (also used by the training graph, trainGraph.ts). */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private count = 0;
  bytes = 0;

  /** Adds a node and returns its output names (generated, or `outputs` when given as names). */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputs: number | string[] = 1): string[] {
    const id = this.count++;
    const names = typeof outputs === "number" ? Array.from({ length: outputs }, (_, i) => `${opType}_${id}${outputs > 1 ? `_${i}` : ""}`) : outputs;
    const attribute = Object.entries(attributes).map(([name, value]) => {
      if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: value });
      if (typeof value === "object") return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value.float });
      return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
    });
    this.nodes.push(onnx.NodeProto.create({ name: `${opType}_${id}`, opType, input: inputs, output: names, attribute }));
    return names;
  }

  /** Single-output {@link op}, optionally naming the output. */
  op1(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, output?: string): string {
    return this.op(opType, inputs, attributes, output === undefined ? 1 : [output])[0] as string;
  }

  float(name: string, dims: number[], data: Float32Array): string {
    this.bytes += data.byteLength;
    const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData }));
    return name;
  }

  int64(name: string, values: readonly (number | bigint)[], scalar = false): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    const rawData = new Uint8Array(data.buffer);
    this.initializers.push(onnx.TensorProto.create({ name, dims: scalar ? [] : [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData }));
    return name;
  }
}

export function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  const dim = dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim } } } });
}

/** Returns a weight, checking it exists with the HF shape. */
function weight(weights: NamedTensors, name: string, shape: number[]): HostTensor {
  const t = weights.get(name);
  if (t === undefined) throw new ModelError("onnx", `weights: missing "${name}" (expected shape [${shape}]); pass the HF parameter names of a Qwen2ForCausalLM checkpoint.`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]) || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new ModelError("onnx", `weights: "${name}" has shape [${t.shape}] (${t.data.length} values); expected [${shape}] from the config.`);
  }
  return t;
}

/** Concatenates HF `[out_i, in]` matrices and transposes them to one `[in, Σ out_i]` MatMul initializer. */
function transposedConcat(matrices: HostTensor[]): { data: Float32Array; dims: [number, number] } {
  const inDim = matrices[0]?.shape[1] as number;
  const outDim = matrices.reduce((a, m) => a + (m.shape[0] as number), 0);
  const data = new Float32Array(inDim * outDim);
  let col = 0;
  for (const m of matrices) {
    const rows = m.shape[0] as number;
    for (let o = 0; o < rows; o++) {
      const src = o * inDim;
      for (let i = 0; i < inDim; i++) data[i * outDim + col + o] = m.data[src + i] as number;
    }
    col += rows;
  }
  return { data, dims: [inDim, outDim] };
}

function concat(vectors: HostTensor[]): Float32Array {
  const out = new Float32Array(vectors.reduce((a, v) => a + v.data.length, 0));
  let offset = 0;
  for (const v of vectors) {
    out.set(v.data, offset);
    offset += v.data.length;
  }
  return out;
}

/**
 * The ONNX ModelProto (serialized) of a Qwen2 decoder with the given weights (HF names and `[out, in]` shapes; a tied
 * LM head reuses the embedding initializer through `Gemm(transB=1)`). q/k/v and gate/up projections are each fused into
 * one MatMul (one larger GEMM is faster than three small ones at decode batch sizes).
 *
 * @throws ModelError when a weight is missing or mis-shaped, or the model exceeds protobuf's 2 GiB message limit.
 */
export function buildQwen2Onnx(config: Qwen2Config, weights: NamedTensors): Uint8Array {
  const { vocabSize: V, hiddenSize: H, intermediateSize: I, numHiddenLayers: L, numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: d } = config;
  const group = nh / nkv;
  const g = new GraphBuilder();
  const N = QWEN2_ONNX_NAMES;

  const embedding = weight(weights, "model.embed_tokens.weight", [V, H]);
  const embedName = g.float("model.embed_tokens.weight", [V, H], embedding.data);
  const lmHeadName = config.tieWordEmbeddings ? embedName : g.float("lm_head.weight", [V, H], weight(weights, "lm_head.weight", [V, H]).data);

  // Shared constants.
  const eps = g.float("rms_norm_eps", [], Float32Array.of(config.rmsNormEps));
  const two = g.float("two", [], Float32Array.of(2));
  const zeroF = g.float("zero_f", [], Float32Array.of(0));
  const maskMin = g.float("mask_min", [], Float32Array.of(MASK_MIN));
  const zero = g.int64("zero_i", [0], true);
  const one = g.int64("one_i", [1], true);
  const axis0 = g.int64("axes_0", [0]);
  const axis1 = g.int64("axes_1", [1]);
  const axisLast = g.int64("axes_last", [-1]);
  const halfSplit = g.int64("split_half", [d / 2, d / 2]);
  const int64Max = g.int64("int64_max", [INT64_MAX]);
  // RoPE inverse frequencies θ^(-2i/d), i < d/2, as float32 like transformers' default rope init.
  const invFreq = new Float32Array(d / 2);
  for (let i = 0; i < d / 2; i++) invFreq[i] = 1 / config.ropeTheta ** ((2 * i) / d);
  const invFreqName = g.float("rope_inv_freq", [d / 2], invFreq);

  // cos/sin [batch, 1, seq, d] from position_ids (HF Qwen2RotaryEmbedding: emb = cat(freqs, freqs), in float32 as there);
  // computed per call, so no table caps the positions.
  const pos = g.op1("Unsqueeze", [g.op1("Cast", [N.positionIds], { to: onnx.TensorProto.DataType.FLOAT }), axisLast]);
  const freqs = g.op1("Mul", [pos, invFreqName]);
  const emb = g.op1("Unsqueeze", [g.op1("Concat", [freqs, freqs], { axis: -1 }), axis1]);
  const cos = g.op1("Cos", [emb]);
  const sin = g.op1("Sin", [emb]);

  // Attention bias [batch, 1, group·seq, total]: query i (key slot past + i) sees slot j ≤ past + i where the mask is 1.
  const seqLen = g.op1("Shape", [N.inputIds], { start: 1, end: 2 });
  const totalLen = g.op1("Shape", [N.attentionMask], { start: 1, end: 2 });
  const pastLen = g.op1("Sub", [totalLen, seqLen]);
  const splitPastNew = g.op1("Concat", [pastLen, seqLen], { axis: 0 });
  const total = g.op1("Squeeze", [totalLen, axis0]);
  const keyIdx = g.op1("Range", [zero, total, one]);
  const queryIdx = g.op1("Range", [g.op1("Squeeze", [pastLen, axis0]), total, one]);
  const causal = g.op1("LessOrEqual", [g.op1("Unsqueeze", [keyIdx, axis0]), g.op1("Unsqueeze", [queryIdx, axisLast])]);
  const keyMask = g.op1("Unsqueeze", [g.op1("Cast", [N.attentionMask], { to: onnx.TensorProto.DataType.BOOL }), g.int64("axes_1_2", [1, 2])]);
  const allowed = g.op1("And", [keyMask, causal]);
  const biasOnce = g.op1("Where", [allowed, zeroF, maskMin]);
  // Query rows are ordered (group member, position) after the GQA reshape below, so the bias repeats per group member.
  const bias = group === 1 ? biasOnce : g.op1("Tile", [biasOnce, g.int64("bias_tile", [1, 1, group, 1])]);

  const rmsNorm = (x: string, name: string): string => {
    const w = g.float(name, [H], weight(weights, name, [H]).data);
    const variance = g.op1("ReduceMean", [g.op1("Pow", [x, two])], { axes: [-1], keepdims: 1 });
    return g.op1("Mul", [g.op1("Div", [x, g.op1("Sqrt", [g.op1("Add", [variance, eps])])]), w]);
  };
  // x·cos + rotate_half(x)·sin, rotate_half(x) = cat(−x₂, x₁) (HF apply_rotary_pos_emb).
  const rope = (x: string): string => {
    const [x1, x2] = g.op("Split", [x, halfSplit], { axis: -1 }, 2) as [string, string];
    const rotated = g.op1("Concat", [g.op1("Neg", [x2]), x1], { axis: -1 });
    return g.op1("Add", [g.op1("Mul", [x, cos]), g.op1("Mul", [rotated, sin])]);
  };

  const splitQkv = g.int64("split_qkv", [nh * d, nkv * d, nkv * d]);
  const splitMlp = g.int64("split_mlp", [I, I]);
  const shapeQ = g.int64("shape_q", [0, 0, nh, d]);
  const shapeKv = g.int64("shape_kv", [0, 0, nkv, d]);
  const shapeGroupedQ = g.int64("shape_grouped_q", [0, nkv, -1, d]);
  const shapeHeads = g.int64("shape_heads", [0, nh, -1, d]);
  const shapeHidden = g.int64("shape_hidden", [0, 0, H]);
  const scale = g.float("attn_scale", [], Float32Array.of(1 / Math.sqrt(d)));

  let hidden = g.op1("Gather", [embedName, N.inputIds], { axis: 0 });
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const x = rmsNorm(hidden, `${p}.input_layernorm.weight`);
    const qkvW = transposedConcat([
      weight(weights, `${p}.self_attn.q_proj.weight`, [nh * d, H]),
      weight(weights, `${p}.self_attn.k_proj.weight`, [nkv * d, H]),
      weight(weights, `${p}.self_attn.v_proj.weight`, [nkv * d, H]),
    ]);
    const qkvB = concat([
      weight(weights, `${p}.self_attn.q_proj.bias`, [nh * d]),
      weight(weights, `${p}.self_attn.k_proj.bias`, [nkv * d]),
      weight(weights, `${p}.self_attn.v_proj.bias`, [nkv * d]),
    ]);
    const qkv = g.op1("Add", [g.op1("MatMul", [x, g.float(`${p}.self_attn.qkv_proj.weight_t`, qkvW.dims, qkvW.data)]), g.float(`${p}.self_attn.qkv_proj.bias`, [qkvB.length], qkvB)]);
    const [qFlat, kFlat, vFlat] = g.op("Split", [qkv, splitQkv], { axis: -1 }, 3) as [string, string, string];
    const toHeads = (t: string, shape: string) => g.op1("Transpose", [g.op1("Reshape", [t, shape])], { perm: [0, 2, 1, 3] });
    // Scaling q before the product touches seq·d values instead of seq·total scores.
    const q = g.op1("Mul", [rope(toHeads(qFlat, shapeQ)), scale]);
    const kNew = rope(toHeads(kFlat, shapeKv));
    const vNew = toHeads(vFlat, shapeKv);
    g.op1("Identity", [kNew], {}, N.newKey(l));
    g.op1("Identity", [vNew], {}, N.newValue(l));
    // GQA without repeating k/v: the `group` query heads sharing a kv head become one [group·seq, d] block per kv head.
    const qGrouped = g.op1("Reshape", [q, shapeGroupedQ]);
    const keysT = (k: string) => g.op1("Transpose", [k], { perm: [0, 1, 3, 2] });
    const scoresPast = g.op1("MatMul", [qGrouped, keysT(N.pastKey(l))]);
    const scoresNew = g.op1("MatMul", [qGrouped, keysT(kNew)]);
    const scores = g.op1("Add", [g.op1("Concat", [scoresPast, scoresNew], { axis: -1 }), bias]);
    const [probsPast, probsNew] = g.op("Split", [g.op1("Softmax", [scores], { axis: -1 }), splitPastNew], { axis: -1 }, 2) as [string, string];
    const context = g.op1("Add", [g.op1("MatMul", [probsPast, N.pastValue(l)]), g.op1("MatMul", [probsNew, vNew])]);
    const merged = g.op1("Reshape", [g.op1("Transpose", [g.op1("Reshape", [context, shapeHeads])], { perm: [0, 2, 1, 3] }), shapeHidden]);
    const oW = transposedConcat([weight(weights, `${p}.self_attn.o_proj.weight`, [H, nh * d])]);
    hidden = g.op1("Add", [hidden, g.op1("MatMul", [merged, g.float(`${p}.self_attn.o_proj.weight_t`, oW.dims, oW.data)])]);

    const y = rmsNorm(hidden, `${p}.post_attention_layernorm.weight`);
    const guW = transposedConcat([weight(weights, `${p}.mlp.gate_proj.weight`, [I, H]), weight(weights, `${p}.mlp.up_proj.weight`, [I, H])]);
    const [gate, up] = g.op("Split", [g.op1("MatMul", [y, g.float(`${p}.mlp.gate_up_proj.weight_t`, guW.dims, guW.data)]), splitMlp], { axis: -1 }, 2) as [string, string];
    const act = g.op1("Mul", [g.op1("Mul", [gate, g.op1("Sigmoid", [gate])]), up]);
    const downW = transposedConcat([weight(weights, `${p}.mlp.down_proj.weight`, [H, I])]);
    hidden = g.op1("Add", [hidden, g.op1("MatMul", [act, g.float(`${p}.mlp.down_proj.weight_t`, downW.dims, downW.data)])]);
  }
  const normed = rmsNorm(hidden, "model.norm.weight");
  // transformers' logits_to_keep: hidden[:, -k:], k = 0 keeps every position (slice(-0, None)).
  const kept = g.op1("Slice", [normed, g.op1("Neg", [g.op1("Unsqueeze", [N.logitsToKeep, axis0])]), int64Max, axis1]);
  const flat = g.op1("Reshape", [kept, g.int64("shape_rows", [-1, H])]);
  const logitsFlat = g.op1("Gemm", [flat, lmHeadName], { transB: 1 });
  const logitsShape = g.op1("Concat", [g.op1("Shape", [kept], { start: 0, end: 2 }), g.int64("vocab", [V])], { axis: 0 });
  g.op1("Reshape", [logitsFlat, logitsShape], {}, N.logits);

  if (g.bytes > MAX_MODEL_BYTES) {
    throw new ModelError("onnx", `model: ${(g.bytes / 2 ** 30).toFixed(2)} GiB of float32 weights exceed protobuf's 2 GiB message limit; use the tfjs engine for this model.`);
  }
  const F = onnx.TensorProto.DataType.FLOAT;
  const I64 = onnx.TensorProto.DataType.INT64;
  const cacheDims = (length: string) => ["batch_size", nkv, length, d];
  const inputs = [
    valueInfo(N.inputIds, I64, ["batch_size", "sequence_length"]),
    valueInfo(N.attentionMask, I64, ["batch_size", "total_slots"]),
    valueInfo(N.positionIds, I64, ["batch_size", "sequence_length"]),
    valueInfo(N.logitsToKeep, I64, []),
  ];
  const outputs = [valueInfo(N.logits, F, ["batch_size", "logits_length", V])];
  for (let l = 0; l < L; l++) {
    inputs.push(valueInfo(N.pastKey(l), F, cacheDims("past_slots")), valueInfo(N.pastValue(l), F, cacheDims("past_slots")));
    outputs.push(valueInfo(N.newKey(l), F, cacheDims("sequence_length")), valueInfo(N.newValue(l), F, cacheDims("sequence_length")));
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: QWEN2_ONNX_OPSET }],
    producerName: "@infialign/model",
    graph: { name: "qwen2", node: g.nodes, initializer: g.initializers, input: inputs, output: outputs },
  });
  return onnx.ModelProto.encode(model).finish();
}
