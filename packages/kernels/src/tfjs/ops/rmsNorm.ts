// RMSNorm over the last axis (Zhang & Sennrich 2019, Eq. 4) as Qwen2 uses it, with a custom gradient from the saved rstd.
import * as tf from "@tensorflow/tfjs-core";

// The references (and the ops users chain around the fused ones) differentiate through tfjs' registered gradients,
// which tfjs-core only registers on request.

function checkShapes(x: tf.Tensor, weight: tf.Tensor, eps: number): number {
  const where = "[infialign/kernels] rmsNorm";
  if (x.rank < 1) throw new Error(`${where}: x must have at least one axis (the normalised hidden axis); got a scalar.`);
  const d = x.shape[x.rank - 1] as number;
  if (weight.rank !== 1 || weight.shape[0] !== d) throw new Error(`${where}: weight must be [${d}] (the last axis of x [${x.shape}]); got [${weight.shape}].`);
  if (x.dtype !== "float32" || weight.dtype !== "float32") throw new Error(`${where}: x and weight must be float32; got ${x.dtype} and ${weight.dtype}. Cast with tf.cast(t, "float32").`);
  if (!(eps >= 0)) throw new Error(`${where}: eps must be a non-negative number; got ${eps}.`);
  return d;
}

/**
 * Qwen2 RMSNorm: `y = x · rsqrt(mean(x², -1) + eps) · weight`, in float32 (transformers' `Qwen2RMSNorm`).
 *
 * The forward keeps only x, weight and the per-row rstd = rsqrt(mean(x²) + eps) (one float per row). With x̂ = x · rstd
 * and g = dy · weight, the backward is
 *   dx = rstd · (g − x̂ · mean(g · x̂, -1)),   dweight = Σ_rows dy · x̂,
 * so autodiff's intermediates (x², the mean, the broadcast products) are never held between forward and backward.
 *
 * @param x `[..., hidden]` float32
 * @param weight `[hidden]` float32 (Qwen2 initialises it to ones)
 * @param eps added to the mean square; Qwen2 configs name it `rms_norm_eps`. @default 1e-6
 * @returns same shape as x
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps = 1e-6): tf.Tensor {
  const d = checkShapes(x, weight, eps);
  const fused = tf.customGrad((xIn, wIn, save) => {
    const xs = xIn as tf.Tensor;
    const w = wIn as tf.Tensor;
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xs), -1, true), eps));
    (save as tf.GradSaveFunc)([xs, w, rstd]);
    return {
      value: tf.mul(tf.mul(xs, rstd), w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xSaved, wSaved, rstdSaved] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const xHat = tf.mul(xSaved, rstdSaved);
        const g = tf.mul(dy, wSaved);
        const dx = tf.mul(rstdSaved, tf.sub(g, tf.mul(xHat, tf.mean(tf.mul(g, xHat), -1, true))));
        const dw = tf.sum(tf.reshape(tf.mul(dy, xHat), [-1, d]), 0);
        return [dx, dw];
      },
    };
  });
  return fused(x, weight);
}

/** {@link rmsNorm} written with plain differentiable tfjs ops (autodiff gradient); the fused op is tested against it. */
export function referenceRmsNorm(x: tf.Tensor, weight: tf.Tensor, eps = 1e-6): tf.Tensor {
  checkShapes(x, weight, eps);
  return tf.tidy(() => {
    const variance = tf.mean(tf.pow(x, 2), -1, true);
    return tf.mul(weight, tf.mul(x, tf.rsqrt(tf.add(variance, eps))));
  });
}
