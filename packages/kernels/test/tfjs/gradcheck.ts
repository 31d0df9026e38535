// Shared checks for tfjs ops: the backends to run on, value/gradient comparison, and central finite differences.
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
// Gradients of the plain tfjs ops the references use. The fused ops need none (their gradients are custom); this
// import resolves only through a bundler or vite-node, not plain Node (tfjs-core ships it as extensionless ESM).
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import * as tf from "@tensorflow/tfjs-core";
import { expect } from "vitest";

/** Backends every op test runs on: the pure-JS reference backend and the default wasm one. */
export const TEST_BACKENDS = ["cpu", "wasm"] as const;

export async function useBackend(name: (typeof TEST_BACKENDS)[number]): Promise<void> {
  await tf.setBackend(name);
  await tf.ready();
}

/** Seeded tensor with entries uniform in [-scale, scale) (tf.randomUniform with a seed is deterministic per backend). */
export function seeded(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.randomUniform(shape, -scale, scale, "float32", seed);
}

/** Max |a − b| / (1 + |b|) over all entries: a tolerance that works for small and large values. */
export function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)) / (1 + Math.abs(y[i] as number)));
  return worst;
}

export function expectClose(a: tf.Tensor, b: tf.Tensor, tol = 1e-5): void {
  expect(maxRelDiff(a, b)).toBeLessThan(tol);
}

/**
 * Gradients of `sum(f(inputs) · probe)` with respect to every input, for the fused op and its reference: a fixed
 * random probe makes the scalar depend on every output element differently, so a wrong gradient cannot hide.
 */
export function gradsOf(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], probeSeed = 99): tf.Tensor[] {
  const probe = tf.tidy(() => seeded(f(...inputs).shape, probeSeed));
  const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), probe)));
  return g(inputs);
}

/**
 * Central finite differences of `sum(f(inputs) · probe)` in float64 arithmetic on the JS side, for up to `maxEntries`
 * entries of input `which`; compared with the analytic gradient. Use small shapes: each entry costs two forward passes.
 */
export function expectFiniteDifferences(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], which: number, options: { eps?: number; tol?: number; maxEntries?: number; probeSeed?: number } = {}): void {
  const { eps = 1e-2, tol = 2e-2, maxEntries = 24, probeSeed = 99 } = options;
  const probe = tf.tidy(() => seeded(f(...inputs).shape, probeSeed));
  const objective = (xs: tf.Tensor[]) => tf.tidy(() => tf.sum(tf.mul(f(...xs), probe)).dataSync()[0] as number);
  const analytic = (tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), probe)))(inputs)[which] as tf.Tensor).dataSync();
  const base = inputs[which] as tf.Tensor;
  const values = Float32Array.from(base.dataSync());
  const step = Math.max(1, Math.floor(values.length / maxEntries));
  for (let i = 0; i < values.length; i += step) {
    const at = (delta: number) => {
      const v = Float32Array.from(values);
      v[i] = (v[i] as number) + delta;
      const xs = inputs.slice();
      xs[which] = tf.tensor(v, base.shape, base.dtype);
      const out = objective(xs);
      (xs[which] as tf.Tensor).dispose();
      return out;
    };
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    expect(Math.abs(numeric - (analytic[i] as number)), `d/dx[${i}]: numeric ${numeric} vs analytic ${analytic[i]}`).toBeLessThan(tol * (1 + Math.abs(numeric)));
  }
}
