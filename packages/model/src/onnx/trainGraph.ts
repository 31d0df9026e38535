// The training graph of Qwen2ForCausalLM for onnxruntime: the forward of modeling_qwen2.py over a packed batch, the
// per-token log-probabilities of the (shifted) labels, and, in gradient mode, the backward pass written out node by node
// as more nodes of the same graph, so one session run returns the loss terms and every parameter gradient and the
// whole step runs on onnxruntime's MLAS kernels with real threads.
//
// Why a hand-written backward: onnxruntime-node ships no training API (onnxruntime-training's artifacts need Python to
// generate), and the decoder has few distinct blocks. Each block's backward is the textbook one, the same formulas the
// tfjs custom gradients of @infialign/kernels use: RMSNorm (dx = r·(dy·w − x̂·mean(dy·w·x̂))), RoPE (its transpose
// rotation), softmax attention (dS = P ⊙ (dP − rowsum(dP ⊙ P))), SwiGLU (silu' = σ(g)·(1 + g·(1 − σ(g)))), linear layers
// (dW = dYᵀ·X, dX = dY·W) and log-softmax (dlogits = (onehot − p)·u).
//
// The loss is left to the caller: the graph takes `token_weights` u (∂loss/∂log p per position) and returns the
// gradients of Σ uᵢ·log pᵢ. SFT feeds −1/num_items on scored positions; DPO-family losses first score (forward graph),
// compute their loss on the per-sequence sums on the host, then feed its derivative.
//
// Weights are graph inputs (HF names and shapes), not initializers, so one session serves every step. The embedding
// gradient leaves the graph as per-row gradients (`grad_rows:…`, [batch·seq, hidden]); the host adds them into the
// embedding rows, a scatter that is exact and deterministic in JS.
import pkg from "onnx-proto";
import type { Qwen2Config } from "../config.js";
import { GraphBuilder, QWEN2_ONNX_OPSET, valueInfo } from "./graph.js";

const { onnx } = pkg;

/** LoRA adapter on one projection, as the training graph sees it. */
export interface TrainGraphAdapter {
  /** Module prefix (`model.layers.0.self_attn.q_proj`). */
  prefix: string;
  r: number;
  /** alpha / r. */
  scale: number;
  /** Whether a dropout mask input (`lora_dropout_mask:<prefix>`, [batch·seq, in]) multiplies the adapter's input. */
  dropout: boolean;
}

export interface TrainGraphOptions {
  /** Emit the backward pass (`token_weights` input, `grad:` outputs). @default true */
  gradients?: boolean;
  /** Unmerged LoRA adapters; when any is given only the adapters are trained (base weights are frozen inputs). */
  adapters?: readonly TrainGraphAdapter[];
}

/** Names of the training graph's inputs and outputs. */
export const TRAIN_GRAPH_NAMES = {
  inputIds: "input_ids",
  positionIds: "position_ids",
  segmentIds: "segment_ids",
  /** Shifted labels, int64 [batch·seq], clamped to a valid id where not scored (the host knows which). */
  labels: "labels",
  tokenWeights: "token_weights",
  logProbs: "log_probs",
  entropy: "entropy",
  correct: "correct",
  meanLogits: "mean_logits",
  grad: (param: string) => `grad:${param}`,
  gradRows: (param: string) => `grad_rows:${param}`,
  loraA: (prefix: string) => `lora_A:${prefix}`,
  loraB: (prefix: string) => `lora_B:${prefix}`,
  dropoutMask: (prefix: string) => `lora_dropout_mask:${prefix}`,
} as const;

/** Added to masked attention logits, as the tfjs model does: exp(−1e9 − max) is exactly 0 in float32. */
const MASKED = -1e9;

/**
 * The serialized ONNX model of the training step (see the module comment). Inputs: input_ids, position_ids,
 * segment_ids int64 [batch, seq]; labels int64 [batch·seq]; with gradients token_weights float32 [batch·seq]; every base
 * parameter under its HF name and shape; per adapter `lora_A:<prefix>` [r, in] and `lora_B:<prefix>` [out, r].
 * Outputs: log_probs, entropy, correct (argmax = label, 0/1), mean_logits, float32 [batch·seq]; with gradients
 * `grad:<name>` for every trained tensor (`grad:lora_A:<prefix>`…) and `grad_rows:model.embed_tokens.weight`.
 */
export function buildQwen2TrainOnnx(config: Qwen2Config, options: TrainGraphOptions = {}): Uint8Array {
  const { vocabSize: V, hiddenSize: H, intermediateSize: I, numHiddenLayers: L, numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: d } = config;
  const withGrads = options.gradients ?? true;
  const adapters = new Map((options.adapters ?? []).map((a) => [a.prefix, a]));
  const baseTrained = withGrads && adapters.size === 0;
  const group = nh / nkv;
  const g = new GraphBuilder();
  const N = TRAIN_GRAPH_NAMES;
  const F = onnx.TensorProto.DataType.FLOAT;
  const I64 = onnx.TensorProto.DataType.INT64;
  const inputs = [valueInfo(N.inputIds, I64, ["batch", "seq"]), valueInfo(N.positionIds, I64, ["batch", "seq"]), valueInfo(N.segmentIds, I64, ["batch", "seq"]), valueInfo(N.labels, I64, ["rows"])];
  const outputs = [N.logProbs, N.entropy, N.correct, N.meanLogits].map((name) => valueInfo(name, F, ["rows"]));
  if (withGrads) inputs.push(valueInfo(N.tokenWeights, F, ["rows"]));
  const param = (name: string, dims: (number | string)[]): string => {
    inputs.push(valueInfo(name, F, dims));
    return name;
  };
  const gradOut = (tensor: string, name: string, dims: (number | string)[]): void => {
    g.op1("Identity", [tensor], {}, N.grad(name));
    outputs.push(valueInfo(N.grad(name), F, dims));
  };

  const one = g.float("one", [], Float32Array.of(1));
  const eps = g.float("rms_norm_eps", [], Float32Array.of(config.rmsNormEps));
  const zeroF = g.float("zero_f", [], Float32Array.of(0));
  const masked = g.float("masked", [], Float32Array.of(MASKED));
  const zeroI = g.int64("zero_i", [0], true);
  const oneI = g.int64("one_i", [1], true);
  const axes0 = g.int64("axes_0", [0]);
  const axes1 = g.int64("axes_1", [1]);
  const axes2 = g.int64("axes_2", [2]);
  const axesLast = g.int64("axes_last", [-1]);
  const rowsH = g.int64("shape_rows_h", [-1, H]);
  const scale = g.float("attn_scale", [], Float32Array.of(1 / Math.sqrt(d)));

  const embed = param("model.embed_tokens.weight", [V, H]);
  const head = config.tieWordEmbeddings ? embed : param("lm_head.weight", [V, H]);

  // RoPE tables [batch, 1, seq, d] from the positions (HF Qwen2RotaryEmbedding, cat(freqs, freqs), float32).
  const invFreq = new Float32Array(d / 2);
  for (let i = 0; i < d / 2; i++) invFreq[i] = 1 / config.ropeTheta ** ((2 * i) / d);
  const pos = g.op1("Unsqueeze", [g.op1("Cast", [N.positionIds], { to: F }), axesLast]);
  const freqs = g.op1("Mul", [pos, g.float("rope_inv_freq", [d / 2], invFreq)]);
  const emb = g.op1("Unsqueeze", [g.op1("Concat", [freqs, freqs], { axis: -1 }), axes1]);
  const cos = g.op1("Cos", [emb]);
  const sin = g.op1("Sin", [emb]);
  // rotate_half(x) = cat(−x₂, x₁) as a product with a fixed [d, d] matrix: a small GEMM beats splitting and
  // concatenating along the last axis (strided copies, ~12% of a step when written with Split/Concat). Its transpose
  // is the backward's rotation.
  const rotation = new Float32Array(d * d);
  for (let i = 0; i < d / 2; i++) {
    rotation[(i + d / 2) * d + i] = -1;
    rotation[i * d + i + d / 2] = 1;
  }
  const rotationT = new Float32Array(d * d);
  for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) rotationT[c * d + r] = rotation[r * d + c] as number;
  const rotationName = g.float("rope_rotation", [d, d], rotation);
  const rotationTName = g.float("rope_rotation_t", [d, d], rotationT);
  const rotate = (x: string, transpose: boolean): string => g.op1("MatMul", [x, transpose ? rotationTName : rotationName]);
  const rope = (x: string) => g.op1("Add", [g.op1("Mul", [x, cos]), g.op1("Mul", [rotate(x, false), sin])]);
  const ropeBack = (dy: string) => g.op1("Add", [g.op1("Mul", [dy, cos]), rotate(g.op1("Mul", [dy, sin]), true)]);

  // Additive attention bias [batch, 1, group·seq, seq]: key j visible to query i when j ≤ i within the same segment.
  const seqLen = g.op1("Squeeze", [g.op1("Shape", [N.inputIds], { start: 1, end: 2 }), axes0]);
  const idx = g.op1("Range", [zeroI, seqLen, oneI]);
  const causal = g.op1("LessOrEqual", [g.op1("Unsqueeze", [idx, axes0]), g.op1("Unsqueeze", [idx, axesLast])]);
  const sameSegment = g.op1("Equal", [g.op1("Unsqueeze", [N.segmentIds, axes2]), g.op1("Unsqueeze", [N.segmentIds, axes1])]);
  const biasOnce = g.op1("Unsqueeze", [g.op1("Where", [g.op1("And", [sameSegment, causal]), zeroF, masked]), axes1]);
  const bias = group === 1 ? biasOnce : g.op1("Tile", [biasOnce, g.int64("bias_tile", [1, 1, group, 1])]);

  const batchSeq = g.op1("Shape", [N.inputIds]);
  const shapeHeads = (count: number) => g.op1("Concat", [batchSeq, g.int64(`heads_${count}_${g.nodes.length}`, [count, d])], { axis: 0 });
  const shapeQ = shapeHeads(nh);
  const shapeKv = shapeHeads(nkv);
  const shapeGrouped = g.int64("shape_grouped", [0, nkv, -1, d]);
  const shapeAllHeads = g.int64("shape_all_heads", [0, nh, -1, d]);
  const toHeads = (flat: string, shape: string) => g.op1("Transpose", [g.op1("Reshape", [flat, shape])], { perm: [0, 2, 1, 3] });
  const toFlat = (heads: string, count: number) => g.op1("Reshape", [g.op1("Transpose", [heads], { perm: [0, 2, 1, 3] }), g.int64(`shape_flat_${count}_${g.nodes.length}`, [-1, count * d])]);

  interface Norm {
    x: string;
    xn: string;
    r: string;
    w: string;
    y: string;
  }
  const rmsNorm = (x: string, name: string): Norm => {
    const w = param(name, [H]);
    const r = g.op1("Reciprocal", [g.op1("Sqrt", [g.op1("Add", [g.op1("ReduceMean", [g.op1("Mul", [x, x])], { axes: [-1], keepdims: 1 }), eps])])]);
    const xn = g.op1("Mul", [x, r]);
    return { x, xn, r, w, y: g.op1("Mul", [xn, w]) };
  };
  const rmsNormBack = (n: Norm, dy: string, name: string): string => {
    if (baseTrained) gradOut(g.op1("ReduceSum", [g.op1("Mul", [dy, n.xn]), axes0], { keepdims: 0 }), name, [H]);
    const dxn = g.op1("Mul", [dy, n.w]);
    const proj = g.op1("ReduceMean", [g.op1("Mul", [dxn, n.xn])], { axes: [-1], keepdims: 1 });
    return g.op1("Mul", [n.r, g.op1("Sub", [dxn, g.op1("Mul", [n.xn, proj])])]);
  };

  interface Lora {
    adapter: TrainGraphAdapter;
    input: string;
    t: string;
    a: string;
    b: string;
    mask?: string;
  }
  /** The adapter path scale·(drop(x)·Aᵀ)·Bᵀ of `prefix`, or undefined without an adapter. */
  const loraForward = (x: string, prefix: string, inDim: number, outDim: number): { y: string; lora: Lora } | undefined => {
    const adapter = adapters.get(prefix);
    if (adapter === undefined) return undefined;
    const a = param(N.loraA(prefix), [adapter.r, inDim]);
    const b = param(N.loraB(prefix), [outDim, adapter.r]);
    let input = x;
    let mask: string | undefined;
    if (adapter.dropout) {
      mask = param(N.dropoutMask(prefix), ["rows", inDim]);
      input = g.op1("Mul", [x, mask]);
    }
    const t = g.op1("Gemm", [input, a], { transB: 1 });
    const y = g.op1("Mul", [g.op1("Gemm", [t, b], { transB: 1 }), g.float(`lora_scale:${prefix}`, [], Float32Array.of(adapter.scale))]);
    return { y, lora: { adapter, input, t, a, b, ...(mask ? { mask } : {}) } };
  };
  /** Adapter gradients for output gradient `dy`; returns the adapter path's contribution to dx. */
  const loraBack = (l: Lora, dy: string): string => {
    const dys = g.op1("Mul", [dy, g.float(`lora_dscale:${l.adapter.prefix}_${g.nodes.length}`, [], Float32Array.of(l.adapter.scale))]);
    gradOut(g.op1("Gemm", [dys, l.t], { transA: 1 }), N.loraB(l.adapter.prefix), ["out", l.adapter.r]);
    const dt = g.op1("MatMul", [dys, l.b]);
    gradOut(g.op1("Gemm", [dt, l.input], { transA: 1 }), N.loraA(l.adapter.prefix), [l.adapter.r, "in"]);
    const dx = g.op1("MatMul", [dt, l.a]);
    return l.mask === undefined ? dx : g.op1("Mul", [dx, l.mask]);
  };

  interface Layer {
    n1: Norm;
    n2: Norm;
    wqkv: string[];
    wo: string;
    wgu: string[];
    wd: string;
    qs: string;
    kh: string;
    vh: string;
    probs: string;
    context: string;
    merged: string;
    gate: string;
    up: string;
    sig: string;
    loras: Map<string, Lora>;
  }
  const layers: Layer[] = [];
  const qkvSizes = [nh * d, nkv * d, nkv * d];

  let x = g.op1("Reshape", [g.op1("Gather", [embed, N.inputIds], { axis: 0 }), rowsH]);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const loras = new Map<string, Lora>();
    const withLora = (y: string, input: string, name: string, inDim: number, outDim: number): string => {
      const out = loraForward(input, `${p}.${name}`, inDim, outDim);
      if (out === undefined) return y;
      loras.set(name, out.lora);
      return g.op1("Add", [y, out.y]);
    };
    const n1 = rmsNorm(x, `${p}.input_layernorm.weight`);
    // One GEMM per projection: fusing q/k/v (or gate/up) into one needs a concatenated weight and a split of the
    // output along its last axis, strided copies that cost more than the larger GEMM saves at these sizes.
    const wqkv = ["q_proj", "k_proj", "v_proj"].map((m, i) => param(`${p}.self_attn.${m}.weight`, [qkvSizes[i] as number, H]));
    const [qFlat, kFlat, vFlat] = ["q_proj", "k_proj", "v_proj"].map((m, i) => g.op1("Gemm", [n1.y, wqkv[i] as string, param(`${p}.self_attn.${m}.bias`, [qkvSizes[i] as number])], { transB: 1 })) as [string, string, string];
    const q = withLora(qFlat, n1.y, "self_attn.q_proj", H, nh * d);
    const k = withLora(kFlat, n1.y, "self_attn.k_proj", H, nkv * d);
    const v = withLora(vFlat, n1.y, "self_attn.v_proj", H, nkv * d);
    const qs = g.op1("Reshape", [g.op1("Mul", [rope(toHeads(q, shapeQ)), scale]), shapeGrouped]);
    const kh = rope(toHeads(k, shapeKv));
    const vh = toHeads(v, shapeKv);
    const scores = g.op1("Add", [g.op1("MatMul", [qs, g.op1("Transpose", [kh], { perm: [0, 1, 3, 2] })]), bias]);
    const probs = g.op1("Softmax", [scores], { axis: -1 });
    const context = g.op1("MatMul", [probs, vh]);
    const merged = toFlat(g.op1("Reshape", [context, shapeAllHeads]), nh);
    const wo = param(`${p}.self_attn.o_proj.weight`, [H, nh * d]);
    x = g.op1("Add", [x, withLora(g.op1("Gemm", [merged, wo], { transB: 1 }), merged, "self_attn.o_proj", nh * d, H)]);

    const n2 = rmsNorm(x, `${p}.post_attention_layernorm.weight`);
    const wgu = [param(`${p}.mlp.gate_proj.weight`, [I, H]), param(`${p}.mlp.up_proj.weight`, [I, H])];
    const [gateBase, upBase] = wgu.map((w) => g.op1("Gemm", [n2.y, w], { transB: 1 })) as [string, string];
    const gate = withLora(gateBase, n2.y, "mlp.gate_proj", H, I);
    const up = withLora(upBase, n2.y, "mlp.up_proj", H, I);
    const sig = g.op1("Sigmoid", [gate]);
    const silu = g.op1("Mul", [gate, sig]);
    const act = g.op1("Mul", [silu, up]);
    const wd = param(`${p}.mlp.down_proj.weight`, [H, I]);
    x = g.op1("Add", [x, withLora(g.op1("Gemm", [act, wd], { transB: 1 }), act, "mlp.down_proj", I, H)]);
    layers.push({ n1, n2, wqkv, wo, wgu, wd, qs, kh, vh, probs, context, merged, gate, up, sig, loras });
  }
  const nf = rmsNorm(x, "model.norm.weight");
  const logits = g.op1("Gemm", [nf.y, head], { transB: 1 });
  const logSoftmax = g.op1("LogSoftmax", [logits], { axis: 1 });
  g.op1("Squeeze", [g.op1("GatherElements", [logSoftmax, g.op1("Unsqueeze", [N.labels, axes1])], { axis: 1 }), axes1], {}, N.logProbs);
  const probsV = g.op1("Exp", [logSoftmax]);
  g.op1("Neg", [g.op1("ReduceSum", [g.op1("Mul", [probsV, logSoftmax]), axes1], { keepdims: 0 })], {}, N.entropy);
  g.op1("Cast", [g.op1("Equal", [g.op1("ArgMax", [logits], { axis: 1, keepdims: 0 }), N.labels])], { to: F }, N.correct);
  g.op1("ReduceMean", [logits], { axes: [1], keepdims: 0 }, N.meanLogits);

  if (withGrads) {
    const u = g.op1("Unsqueeze", [N.tokenWeights, axes1]);
    const onehot = g.op1("OneHot", [N.labels, g.int64("vocab", [V]), g.float("onehot_values", [2], Float32Array.of(0, 1))], { axis: -1 });
    const dLogits = g.op1("Mul", [g.op1("Sub", [onehot, probsV]), u]);
    const headGrad = baseTrained ? g.op1("Gemm", [dLogits, nf.y], { transA: 1 }) : undefined;
    let dx = rmsNormBack(nf, g.op1("MatMul", [dLogits, head]), "model.norm.weight");
    const linearBack = (dy: string, input: string, w: string, name: string | undefined, lora: Lora | undefined): string => {
      if (baseTrained && name !== undefined) gradOut(g.op1("Gemm", [dy, input], { transA: 1 }), name, ["out", "in"]);
      const dIn = g.op1("MatMul", [dy, w]);
      return lora === undefined ? dIn : g.op1("Add", [dIn, loraBack(lora, dy)]);
    };
    for (let l = L - 1; l >= 0; l--) {
      const p = `model.layers.${l}`;
      const layer = layers[l] as Layer;
      // MLP.
      // σ(gate) is kept from the forward (as torch keeps SiLU's input and output); silu and the activation are
      // recomputed, two [rows, intermediate] tensors per layer less to hold between the passes for two products.
      const sig = layer.sig;
      const silu = g.op1("Mul", [layer.gate, sig]);
      // Only the down projection's own weight gradient reads the activation.
      const act = baseTrained ? g.op1("Mul", [silu, layer.up]) : "";
      const dAct = linearBack(dx, act, layer.wd, `${p}.mlp.down_proj.weight`, layer.loras.get("mlp.down_proj"));
      const dSilu = g.op1("Mul", [dAct, layer.up]);
      const dUp = g.op1("Mul", [dAct, silu]);
      const dGate = g.op1("Mul", [g.op1("Mul", [dSilu, sig]), g.op1("Add", [one, g.op1("Mul", [layer.gate, g.op1("Sub", [one, sig])])])]);
      const dProj = [dGate, dUp];
      if (baseTrained) {
        gradOut(g.op1("Gemm", [dGate, layer.n2.y], { transA: 1 }), `${p}.mlp.gate_proj.weight`, [I, H]);
        gradOut(g.op1("Gemm", [dUp, layer.n2.y], { transA: 1 }), `${p}.mlp.up_proj.weight`, [I, H]);
      }
      let dn2 = g.op1("Add", [g.op1("MatMul", [dGate, layer.wgu[0] as string]), g.op1("MatMul", [dUp, layer.wgu[1] as string])]);
      ["mlp.gate_proj", "mlp.up_proj"].forEach((name, i) => {
        const lora = layer.loras.get(name);
        if (lora !== undefined) dn2 = g.op1("Add", [dn2, loraBack(lora, dProj[i] as string)]);
      });
      dx = g.op1("Add", [dx, rmsNormBack(layer.n2, dn2, `${p}.post_attention_layernorm.weight`)]);

      // Attention.
      const dMerged = linearBack(dx, layer.merged, layer.wo, `${p}.self_attn.o_proj.weight`, layer.loras.get("self_attn.o_proj"));
      const dContext = g.op1("Reshape", [toHeads(dMerged, shapeQ), shapeGrouped]);
      const dV = g.op1("MatMul", [g.op1("Transpose", [layer.probs], { perm: [0, 1, 3, 2] }), dContext]);
      const dProbs = g.op1("MatMul", [dContext, g.op1("Transpose", [layer.vh], { perm: [0, 1, 3, 2] })]);
      // rowsum(dP ⊙ P) = rowsum(dO ⊙ O) (FlashAttention-2's D): a [group·seq, head_dim] product instead of a
      // [group·seq, seq] one.
      const rowDot = g.op1("ReduceSum", [g.op1("Mul", [dContext, layer.context]), axesLast], { keepdims: 1 });
      const dScores = g.op1("Mul", [layer.probs, g.op1("Sub", [dProbs, rowDot])]);
      const dQ = ropeBack(g.op1("Mul", [g.op1("Reshape", [g.op1("MatMul", [dScores, layer.kh]), shapeAllHeads]), scale]));
      const dK = ropeBack(g.op1("MatMul", [g.op1("Transpose", [dScores], { perm: [0, 1, 3, 2] }), layer.qs]));
      const dQkv = [toFlat(dQ, nh), toFlat(dK, nkv), toFlat(dV, nkv)];
      if (baseTrained) {
        ["q_proj", "k_proj", "v_proj"].forEach((m, i) => {
          gradOut(g.op1("Gemm", [dQkv[i] as string, layer.n1.y], { transA: 1 }), `${p}.self_attn.${m}.weight`, [qkvSizes[i] as number, H]);
          gradOut(g.op1("ReduceSum", [dQkv[i] as string, axes0], { keepdims: 0 }), `${p}.self_attn.${m}.bias`, [qkvSizes[i] as number]);
        });
      }
      let dn1 = g.op1("Add", [g.op1("Add", [g.op1("MatMul", [dQkv[0] as string, layer.wqkv[0] as string]), g.op1("MatMul", [dQkv[1] as string, layer.wqkv[1] as string])]), g.op1("MatMul", [dQkv[2] as string, layer.wqkv[2] as string])]);
      ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"].forEach((name, i) => {
        const lora = layer.loras.get(name);
        if (lora !== undefined) dn1 = g.op1("Add", [dn1, loraBack(lora, dQkv[i] as string)]);
      });
      dx = g.op1("Add", [dx, rmsNormBack(layer.n1, dn1, `${p}.input_layernorm.weight`)]);
    }
    if (baseTrained) {
      g.op1("Identity", [dx], {}, N.gradRows("model.embed_tokens.weight"));
      outputs.push(valueInfo(N.gradRows("model.embed_tokens.weight"), F, ["rows", H]));
      // Tied: the head's gradient is the embedding's, to which the host adds the rows; untied: lm_head's own.
      gradOut(headGrad as string, config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight", [V, H]);
    }
  }

  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: QWEN2_ONNX_OPSET }],
    producerName: "@infialign/model",
    graph: { name: withGrads ? "qwen2_train" : "qwen2_score", node: g.nodes, initializer: g.initializers, input: inputs, output: outputs },
  });
  return onnx.ModelProto.encode(model).finish();
}
