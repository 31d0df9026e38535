import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { describeWhen } from "@infialign/test-utils/vitest";
import { describe, expect, it } from "vitest";
import { registerTfjsGradients } from "../../src/tfjs/gradients.js";

// No import of gradcheck.ts here: it registers tfjs' gradients itself, which would hide a registration that fails.
// From source, registerTfjsGradients loads the package's built dist/tfjs-gradients.cjs; the whole built entry point
// in plain Node (ESM and CommonJS, outside vitest) is checked below by running it in a child `node`.
const seeded = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, "float32", seed);

describe("registerTfjsGradients", () => {
  it("makes plain tfjs ops differentiable, with the analytic gradient of a matmul/add/reshape chain", async () => {
    await tf.setBackend("cpu");
    expect(tf.getGradient(tf.BatchMatMul)).toBeUndefined();
    expect(() => tf.grad((w: tf.Tensor) => tf.sum(tf.matMul(w, w)))(tf.ones([2, 2]))).toThrow(/gradient function not found/);
    registerTfjsGradients();
    // f(W, b) = Σ reshape(x·W + b, [-1]) ⊙ c  ⇒  ∂f/∂W = xᵀ·C, ∂f/∂b = Σ_rows C, with C = reshape(c, [rows, cols]).
    tf.tidy(() => {
      const x = seeded([5, 4], 1);
      const w = seeded([4, 3], 2);
      const b = seeded([3], 3);
      const c = seeded([15], 4);
      const [gw, gb] = tf.grads((wv: tf.Tensor, bv: tf.Tensor) => tf.sum(tf.mul(tf.reshape(tf.add(tf.matMul(x, wv), bv), [-1]), c)))([w, b]);
      const C = tf.reshape(c, [5, 3]);
      expect(Array.from((gw as tf.Tensor).dataSync())).toEqual(Array.from(tf.matMul(x, C, true, false).dataSync()));
      const expectedB = tf.sum(C, 0).dataSync();
      const actualB = (gb as tf.Tensor).dataSync();
      for (let i = 0; i < 3; i++) expect(actualB[i]).toBeCloseTo(expectedB[i] as number, 5);
    });
  });

  it("is idempotent", () => {
    registerTfjsGradients();
    registerTfjsGradients();
    expect(tf.getGradient(tf.BatchMatMul)).toBeDefined();
    expect(tf.getGradient(tf.Reshape)).toBeDefined();
  });
});

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dist = join(packageDir, "dist", "tfjs.js");
// `turbo test` builds first; a bare `vitest run` before any build has no dist to run.
const distMissing =
  existsSync(dist) && readFileSync(dist, "utf8").includes("registerTfjsGradients")
    ? undefined
    : `${dist} is absent or predates registerTfjsGradients (pnpm --filter @infialign/kernels build)`;

/** A script that fails before registering and prints the gradient of Σ (x·W) ⊙ c after (x, c all ones: 2 per entry). */
function script(load: string): string {
  return `${load}
let before = "differentiable";
try { tf.grad((w) => tf.sum(tf.matMul(tf.ones([2, 3]), w)))(tf.ones([3, 2])); } catch (e) { before = "not differentiable"; }
registerTfjsGradients();
registerTfjsGradients();
const g = tf.grad((w) => tf.sum(tf.mul(tf.reshape(tf.matMul(tf.ones([2, 3]), w), [-1]), tf.ones([4]))))(tf.ones([3, 2]));
console.log(JSON.stringify({ before, grad: Array.from(g.dataSync()) }));`;
}

describeWhen(distMissing)("registerTfjsGradients from the built dist in plain Node", () => {
  const esm = 'import * as tf from "@tensorflow/tfjs-core"; import "@tensorflow/tfjs-backend-cpu"; import { registerTfjsGradients } from "@infialign/kernels/tfjs"; await tf.setBackend("cpu");';
  const cjs = 'const tf = require("@tensorflow/tfjs-core"); require("@tensorflow/tfjs-backend-cpu"); const { registerTfjsGradients } = require("@infialign/kernels/tfjs");';
  it.each([
    ["ESM", ["--input-type=module", "-e", script(esm)]],
    ["CommonJS", ["-e", script(cjs)]],
  ])("%s", (_name, args) => {
    const run = spawnSync(process.execPath, args as string[], { cwd: packageDir, encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const line = run.stdout.trim().split("\n").at(-1) as string;
    expect(JSON.parse(line)).toEqual({ before: "not differentiable", grad: [2, 2, 2, 2, 2, 2] });
  });
});
