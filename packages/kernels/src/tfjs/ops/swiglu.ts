// SwiGLU gating silu(gate) · up (Shazeer 2020, "GLU Variants Improve Transformer", Eq. 6) as in Qwen2's MLP.
import * as tf from "@tensorflow/tfjs-core";

// The references (and the ops users chain around the fused ones) differentiate through tfjs' registered gradients,
// which tfjs-core only registers on request.

function checkShapes(gate: tf.Tensor, up: tf.Tensor): void {
  const where = "[infialign/kernels] swiglu";
  if (gate.shape.join() !== up.shape.join()) throw new Error(`${where}: gate [${gate.shape}] and up [${up.shape}] must have the same shape (both are [..., intermediate_size]).`);
  if (gate.dtype !== "float32" || up.dtype !== "float32") throw new Error(`${where}: gate and up must be float32; got ${gate.dtype} and ${up.dtype}.`);
}

/**
 * `silu(gate) · up` with silu(z) = z · σ(z): the elementwise half of Qwen2's MLP
 * `down_proj(silu(gate_proj(x)) · up_proj(x))`.
 *
 * The forward keeps only gate and up (which the projections' own gradients hold anyway); the backward recomputes σ once:
 *   dup = dy · silu(gate),   dgate = dy · up · σ(gate) · (1 + gate · (1 − σ(gate))).
 * Autodiff of the reference instead keeps σ(gate), silu(gate) and their products between forward and backward.
 *
 * @param gate `[..., intermediate]` float32
 * @param up same shape as gate
 * @returns same shape as gate
 */
export function swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  checkShapes(gate, up);
  const fused = tf.customGrad((gateIn, upIn, save) => {
    const g = gateIn as tf.Tensor;
    const u = upIn as tf.Tensor;
    (save as tf.GradSaveFunc)([g, u]);
    return {
      value: tf.mul(tf.mul(g, tf.sigmoid(g)), u),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [gSaved, uSaved] = saved as [tf.Tensor, tf.Tensor];
        const sig = tf.sigmoid(gSaved);
        const silu = tf.mul(gSaved, sig);
        // d silu / dz = σ + z·σ·(1 − σ) = σ + silu·(1 − σ)
        const dSilu = tf.add(sig, tf.mul(silu, tf.sub(1, sig)));
        return [tf.mul(tf.mul(dy, uSaved), dSilu), tf.mul(dy, silu)];
      },
    };
  });
  return fused(gate, up);
}

/** {@link swiglu} written with plain differentiable tfjs ops (autodiff gradient); the fused op is tested against it. */
export function referenceSwiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  checkShapes(gate, up);
  return tf.tidy(() => tf.mul(tf.mul(gate, tf.sigmoid(gate)), up));
}
