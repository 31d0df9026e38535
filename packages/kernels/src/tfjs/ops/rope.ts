// Rotary position embedding (Su et al. 2021, RoFormer, Eq. 34) in transformers' rotate_half layout, with per-token
// position ids so packed sequences (positions restarting at 0 per document) rotate each document from position 0.
import * as tf from "@tensorflow/tfjs-core";
// The references (and the ops users chain around the fused ones) differentiate through tfjs' registered gradients,
// which tfjs-core only registers on request.

/**
 * Precomputed rotary tables from {@link ropeTables}; long-lived, free them with `tf.dispose(tables)`.
 * Row p holds the angles p · θ^(−2i/headDim) for i < headDim/2, repeated for the second half of the head dim.
 * (A type alias, not an interface, so that it is a `tf.TensorContainer` and `tf.dispose(tables)` type-checks.)
 */
export type RopeTables = {
  readonly headDim: number;
  readonly maxPositions: number;
  readonly theta: number;
  /** cos of the angles, float32 `[maxPositions, headDim]` (transformers' `cos` before `unsqueeze`). */
  readonly cos: tf.Tensor2D;
  /** sin of the angles, float32 `[maxPositions, headDim]` (transformers' `sin`). */
  readonly sin: tf.Tensor2D;
  /**
   * transformers' `rotate_half` as a `[headDim, headDim]` signed permutation R, `rotate_half(x) = x · R`: one 2-D
   * product instead of two slices, a negation and a concat. On the wasm backend a 2-D matmul without transposes runs
   * through XNNPACK while Slice copies its whole input per call, so the product is the faster one; it is exact (one
   * ±1 term per output, the rest exact zeros). R is antisymmetric (Rᵀ = −R).
   */
  readonly rotateHalf: tf.Tensor2D;
};

/**
 * Rotary cos/sin tables as transformers' `Qwen2RotaryEmbedding` (default rope type) computes them, in float32:
 * inv_freq[i] = 1 / θ^(2i/headDim), angle[p, i] = p · inv_freq[i], emb = concat(angle, angle).
 *
 * @param headDim per-head dimension (hidden_size / num_attention_heads), even
 * @param maxPositions number of rows: positions 0 … maxPositions−1 (`max_position_embeddings`, or the longest packed
 *   document you will train on)
 * @param theta RoPE base: pass the checkpoint's `rope_theta`. The default is Qwen2 / Qwen2.5's 1e6; Qwen2.5-Math-7B's
 *   config.json sets 10000. @default 1e6
 */
export function ropeTables(headDim: number, maxPositions: number, theta = 1e6): RopeTables {
  const where = "[infialign/kernels] ropeTables";
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2 !== 0) throw new Error(`${where}: headDim must be a positive even integer; got ${headDim}.`);
  if (!Number.isInteger(maxPositions) || maxPositions <= 0) throw new Error(`${where}: maxPositions must be a positive integer; got ${maxPositions}.`);
  if (!(theta > 1)) throw new Error(`${where}: theta (rope_theta) must be > 1; got ${theta}.`);
  const half = headDim / 2;
  // Each step rounded to float32 as torch does: arange(0, dim, 2).float() / dim, base ** that, 1.0 / that, then
  // inv_freq @ position_ids in float32, then cos/sin of the float32 angle.
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
  const cos = new Float32Array(maxPositions * headDim);
  const sin = new Float32Array(maxPositions * headDim);
  for (let p = 0; p < maxPositions; p++) {
    const row = p * headDim;
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * (invFreq[i] as number));
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[row + i] = c;
      cos[row + half + i] = c;
      sin[row + i] = s;
      sin[row + half + i] = s;
    }
  }
  // rotate_half(x) = concat(−x[half:], x[:half]): output j < half reads −x[j + half], output j ≥ half reads x[j − half].
  const rotateHalf = new Float32Array(headDim * headDim);
  for (let j = 0; j < half; j++) {
    rotateHalf[(j + half) * headDim + j] = -1;
    rotateHalf[j * headDim + j + half] = 1;
  }
  const shape: [number, number] = [maxPositions, headDim];
  return {
    headDim,
    maxPositions,
    theta,
    cos: tf.tensor2d(cos, shape),
    sin: tf.tensor2d(sin, shape),
    rotateHalf: tf.tensor2d(rotateHalf, [headDim, headDim]),
  };
}

function checkShapes(x: tf.Tensor, tables: RopeTables, positionIds: tf.Tensor): { b: number; s: number; d: number } {
  const where = "[infialign/kernels] applyRope";
  if (x.rank !== 4) throw new Error(`${where}: x must be [batch, heads, seq, headDim]; got [${x.shape}].`);
  const [b, , s, d] = x.shape as [number, number, number, number];
  if (x.dtype !== "float32") throw new Error(`${where}: x must be float32; got ${x.dtype}.`);
  if (d !== tables.headDim) throw new Error(`${where}: x head dim ${d} does not match the tables' headDim ${tables.headDim}; build the tables with ropeTables(${d}, …).`);
  if (positionIds.dtype !== "int32") throw new Error(`${where}: positionIds must be int32; got ${positionIds.dtype}. Build them with tf.tensor2d(ids, shape, "int32").`);
  const [pb, ps] = positionIds.shape;
  if (positionIds.rank !== 2 || (pb !== b && pb !== 1) || ps !== s) throw new Error(`${where}: positionIds must be [batch, seq] = [${b}, ${s}] (or [1, ${s}] shared by all rows); got [${positionIds.shape}].`);
  return { b: pb as number, s, d };
}

/** Table rows for every token, `[batch, 1, seq, headDim]` so they broadcast over heads; gather on axis 0 with flat ids. */
function rows(table: tf.Tensor2D, positionIds: tf.Tensor, b: number, s: number, d: number): tf.Tensor {
  return tf.reshape(tf.gather(table, tf.reshape(positionIds, [b * s])), [b, 1, s, d]);
}

/** `rotate_half(x)` as `x · R` on a 2-D view (a product whose batch dims broadcast gets a wrongly shaped gradient). */
function rotateHalf(x: tf.Tensor, r: tf.Tensor2D): tf.Tensor {
  return tf.reshape(tf.matMul(tf.reshape(x, [-1, r.shape[0]]), r), x.shape);
}

/**
 * Rotates queries or keys by their positions: `x · cos[pos] + rotate_half(x) · sin[pos]`, transformers'
 * `apply_rotary_pos_emb` with rows gathered by `positionIds`. For packed sequences pass positions that restart at 0 for
 * each document; the result then equals RoPE applied to each document on its own.
 *
 * Each pair (i, i + headDim/2) is a 2-D rotation, so the gradient is the inverse rotation of dy (rotation by −angle):
 * with rotate_half(x) = x·R and Rᵀ = −R, dx = dy · cos + (dy · sin)·Rᵀ = dy · cos − rotate_half(dy · sin).
 * The forward saves nothing but the position ids (a shared-data clone); the backward re-gathers the table rows.
 * Positions must lie in [0, tables.maxPositions): they are not range-checked (that would need a device read).
 *
 * @param x `[batch, heads, seq, headDim]` float32
 * @param tables from {@link ropeTables}, with `headDim` equal to x's last axis
 * @param positionIds int32 `[batch, seq]`, or `[1, seq]` shared by every row
 * @returns same shape as x
 */
export function applyRope(x: tf.Tensor, tables: RopeTables, positionIds: tf.Tensor): tf.Tensor {
  const { b, s, d } = checkShapes(x, tables, positionIds);
  const fused = tf.customGrad((xIn, save) => {
    const xs = xIn as tf.Tensor;
    (save as tf.GradSaveFunc)([positionIds]);
    return {
      value: tf.add(tf.mul(xs, rows(tables.cos, positionIds, b, s, d)), tf.mul(rotateHalf(xs, tables.rotateHalf), rows(tables.sin, positionIds, b, s, d))),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const ids = saved[0] as tf.Tensor;
        return [tf.sub(tf.mul(dy, rows(tables.cos, ids, b, s, d)), rotateHalf(tf.mul(dy, rows(tables.sin, ids, b, s, d)), tables.rotateHalf))];
      },
    };
  });
  return fused(x);
}

/** {@link applyRope} written as transformers writes it (slice/neg/concat rotate_half, autodiff gradient). */
export function referenceApplyRope(x: tf.Tensor, tables: RopeTables, positionIds: tf.Tensor): tf.Tensor {
  const { b, s, d } = checkShapes(x, tables, positionIds);
  return tf.tidy(() => {
    const half = d / 2;
    const x1 = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, half]);
    const x2 = tf.slice(x, [0, 0, 0, half], [-1, -1, -1, half]);
    const rotateHalf = tf.concat([tf.neg(x2), x1], -1);
    return tf.add(tf.mul(x, rows(tables.cos, positionIds, b, s, d)), tf.mul(rotateHalf, rows(tables.sin, positionIds, b, s, d)));
  });
}
