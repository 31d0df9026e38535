// Causal grouped-query attention with a packing mask and a FlashAttention-style custom gradient.
import * as tf from "@tensorflow/tfjs-core";
// The reference differentiates through tfjs' registered gradients, which tfjs-core only registers on request.

/** Options of {@link causalAttention} and {@link referenceCausalAttention}. */
export interface CausalAttentionOptions {
  /**
   * Document id of every position, int32 `[batch, seq]`, for packed sequences: token i attends to token j only when
   * j ≤ i and `segmentIds[b, i] == segmentIds[b, j]`. Ids only need to be equal within a document (any integers).
   * @default undefined (one document per row: plain causal mask)
   */
  segmentIds?: tf.Tensor;
  /**
   * Multiplier of q·k before the softmax.
   * @default 1 / sqrt(headDim)
   */
  scale?: number;
  /**
   * A precomputed {@link attentionBias} `[batch, 1, seq, seq]`, shared by every layer of a forward pass so the mask is
   * built once; it then replaces `segmentIds`. Not disposed by the op.
   * @default built from `segmentIds` on each call
   */
  bias?: tf.Tensor;
}

/** Added to masked logits: exp(-1e9 - max) underflows to exactly 0 in float32, and no row is fully masked. */
const MASKED = -1e9;

function checkShapes(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, segmentIds: tf.Tensor | undefined): { b: number; hq: number; hkv: number; s: number; d: number } {
  const where = "[infialign/kernels] causalAttention";
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) throw new Error(`${where}: q, k, v must be [batch, heads, seq, headDim]; got ranks ${q.rank}, ${k.rank}, ${v.rank}.`);
  const [b, hq, s, d] = q.shape as [number, number, number, number];
  const [bk, hkv, sk, dk] = k.shape as [number, number, number, number];
  if (bk !== b || sk !== s || dk !== d) throw new Error(`${where}: k shape [${k.shape}] does not match q shape [${q.shape}] in batch, seq or headDim.`);
  if (v.shape.join() !== k.shape.join()) throw new Error(`${where}: v shape [${v.shape}] must equal k shape [${k.shape}].`);
  if (hq % hkv !== 0) throw new Error(`${where}: query heads (${hq}) must be a multiple of key/value heads (${hkv}) for grouped-query attention.`);
  if (segmentIds !== undefined && segmentIds.shape.join() !== [b, s].join()) throw new Error(`${where}: option segmentIds must be [batch, seq] = [${b}, ${s}]; got [${segmentIds.shape}].`);
  return { b, hq, hkv, s, d };
}

/**
 * Additive mask `[batch, 1, seq, seq]`: 0 where j ≤ i and the segments match, {@link MASKED} elsewhere. The diagonal is
 * always allowed, so every softmax row has at least one finite entry.
 */
export function attentionBias(batch: number, seq: number, segmentIds?: tf.Tensor): tf.Tensor {
  // Built on the host and uploaded once: the loop costs microseconds per row, while building it from tensor ops (range,
  // compare, broadcast) spent ~20 ms per call in wasm's Tile at batch 8 × seq 256. Reads segmentIds synchronously.
  const seg = segmentIds === undefined ? undefined : segmentIds.dataSync();
  const out = new Float32Array(batch * seq * seq);
  for (let r = 0; r < batch; r++) {
    for (let i = 0; i < seq; i++) {
      const row = (r * seq + i) * seq;
      const own = seg === undefined ? 0 : seg[r * seq + i];
      for (let j = 0; j < seq; j++) out[row + j] = j <= i && (seg === undefined || seg[r * seq + j] === own) ? 0 : MASKED;
    }
  }
  return tf.tensor4d(out, [batch, 1, seq, seq]);
}

/**
 * Causal grouped-query attention softmax(scale·q·kᵀ + mask)·v over packed documents.
 *
 * Query head h reads key/value head ⌊h / (hq/hkv)⌋, as transformers' `repeat_kv`; the kv heads are never copied: q is
 * viewed as `[batch·hkv, group·seq, d]` so each kv head serves its whole query group in one 3-D product with equal batch
 * dims (broadcast batch dims get a wrongly shaped gradient in tfjs). The forward keeps only q, k, v, the output and the
 * row log-sum-exp; the backward recomputes the probabilities from the log-sum-exp (FlashAttention-2, Dao 2023, Alg. 2):
 * dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ∘ (dP − rowsum(dO ∘ O)), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
 *
 * @param q `[batch, hq, seq, headDim]`
 * @param k `[batch, hkv, seq, headDim]`, hq a multiple of hkv
 * @param v `[batch, hkv, seq, headDim]`
 * @returns `[batch, hq, seq, headDim]`
 */
export function causalAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: CausalAttentionOptions = {}): tf.Tensor {
  const { b, hq, hkv, s, d } = checkShapes(q, k, v, options.segmentIds);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const group = hq / hkv;
  if (options.bias !== undefined && options.bias.shape.join() !== [b, 1, s, s].join()) throw new Error(`[infialign/kernels] causalAttention: option bias must be [batch, 1, seq, seq] = [${b}, 1, ${s}, ${s}]; got [${options.bias.shape}].`);
  const bias = options.bias ?? attentionBias(b, s, options.segmentIds);
  const asGroups = (x: tf.Tensor) => tf.reshape(x, [b * hkv, group * s, d]);
  const asKv = (x: tf.Tensor) => tf.reshape(x, [b * hkv, s, d]);
  /** Masked, scaled logits `[batch·hkv, group·seq, seq]`; the bias broadcasts over heads in a plain elementwise add. */
  const logits = (q3: tf.Tensor, k3: tf.Tensor, mask: tf.Tensor) => tf.reshape(tf.add(tf.reshape(tf.mul(tf.matMul(q3, k3, false, true), scale), [b, hq, s, s]), mask), [b * hkv, group * s, s]);

  const fused = tf.customGrad((qIn, kIn, vIn, maskIn, save) => {
    const q3 = asGroups(qIn as tf.Tensor);
    const k3 = asKv(kIn as tf.Tensor);
    const v3 = asKv(vIn as tf.Tensor);
    const z = logits(q3, k3, maskIn as tf.Tensor);
    const max = tf.max(z, -1, true);
    const e = tf.exp(tf.sub(z, max));
    const sum = tf.sum(e, -1, true);
    const out3 = tf.matMul(tf.div(e, sum), v3);
    const lse = tf.add(max, tf.log(sum));
    (save as tf.GradSaveFunc)([q3, k3, v3, maskIn as tf.Tensor, out3, lse]);
    return {
      value: tf.reshape(out3, [b, hq, s, d]),
      // tfjs calls a custom gradFunc outside any tidy and keeps what it creates until tf.grads returns; the tidy frees the
      // [seq, seq] temporaries of each layer as soon as its gradients exist.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sq, sk, sv, sm, so, slse] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
          const dO = asGroups(dy);
          const p = tf.exp(tf.sub(logits(sq, sk, sm), slse));
          const dV = tf.matMul(p, dO, true, false);
          const dP = tf.matMul(dO, sv, false, true);
          const dS = tf.mul(p, tf.sub(dP, tf.sum(tf.mul(dO, so), -1, true)));
          const dQ = tf.mul(tf.matMul(dS, sk), scale);
          const dK = tf.mul(tf.matMul(dS, sq, true, false), scale);
          return [tf.reshape(dQ, [b, hq, s, d]), tf.reshape(dK, [b, hkv, s, d]), tf.reshape(dV, [b, hkv, s, d]), tf.zerosLike(sm)];
        }),
    };
  });
  const out = fused(q, k, v, bias);
  if (options.bias === undefined) bias.dispose();
  return out;
}

/**
 * Plain-tfjs causal GQA attention: kv heads repeated as transformers' `repeat_kv`, 4-D products, `tf.softmax`, tfjs
 * autodiff. The oracle for {@link causalAttention}; it keeps every `[batch, hq, seq, seq]` intermediate for the backward.
 */
export function referenceCausalAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: CausalAttentionOptions = {}): tf.Tensor {
  const { b, hq, hkv, s, d } = checkShapes(q, k, v, options.segmentIds);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const group = hq / hkv;
  return tf.tidy(() => {
    // repeat_kv; 3-D because tfjs' Tile gradient stops at rank 4.
    const repeatKv = (x: tf.Tensor) => (group === 1 ? x : tf.reshape(tf.tile(tf.reshape(x, [b * hkv, 1, s * d]), [1, group, 1]), [b, hq, s, d]));
    const z = tf.add(tf.mul(tf.matMul(q, repeatKv(k), false, true), scale), attentionBias(b, s, options.segmentIds));
    return tf.matMul(tf.softmax(z, -1), repeatKv(v));
  });
}
