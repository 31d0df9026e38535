// Numerically careful tfjs pieces the preference losses are built from.
import * as tf from "@tensorflow/tfjs-core";

/** −log σ(x), stable for large |x| (softplus(−x)). */
export const negLogSigmoid = (x: tf.Tensor): tf.Tensor => tf.softplus(tf.neg(x));

const LN2 = Math.LN2;

/**
 * log(1 − eˣ) for x ≤ 0 without cancellation (Mächler 2012): log(−expm1(x)) above −ln 2, log1p(−eˣ) below. Each
 * branch sees its input clamped to its own side of −ln 2, where both equal −ln 2, so their sum + ln 2 is the branch
 * that applies; unlike tf.where (no gradient for the condition in tfjs) the unused branch stays finite.
 */
export function log1mexp(x: tf.Tensor): tf.Tensor {
  const far = tf.log1p(tf.neg(tf.exp(tf.minimum(x, -LN2))));
  const near = tf.log(tf.neg(tf.expm1(tf.maximum(x, -LN2))));
  return tf.add(tf.add(far, near), LN2);
}

/** −(1−ε)·log σ(x) − ε·log σ(−x): the cDPO-smoothed logistic loss. */
export function smoothedLogistic(x: tf.Tensor, eps: number): tf.Tensor {
  const main = negLogSigmoid(x);
  return eps === 0 ? main : tf.add(tf.mul(main, 1 - eps), tf.mul(negLogSigmoid(tf.neg(x)), eps));
}

/**
 * Sorts `x` along the batch (descending) with a gradient through `gather`. The permutation is computed on the host:
 * indices derived from `x` by an op would sit on the gradient tape, and tfjs has no gradient for integer inputs.
 */
export function sortWithGrad(x: tf.Tensor1D): tf.Tensor1D {
  const values = x.dataSync();
  const order = Array.from(values.keys()).sort((a, b) => values[b]! - values[a]! || a - b);
  return tf.gather(x, tf.tensor1d(order, "int32")) as tf.Tensor1D;
}

/** Batch NLL: `"token"` = Σ NLL / Σ tokens (TRL's mean-reduced cross-entropy), `"pair"` = mean of per-pair means. */
export function nllMean(nll: tf.Tensor, tokens: tf.Tensor, reduction: "token" | "pair"): tf.Scalar {
  return (reduction === "token" ? tf.div(tf.sum(nll), tf.sum(tokens)) : tf.mean(tf.div(nll, tokens))) as tf.Scalar;
}
