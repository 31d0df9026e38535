// Gradients of TensorFlow.js' own kernels (MatMul, Add, Reshape, …) for code that runs outside a bundler.
// tfjs-core registers them only from dist/register_all_gradients.js, an ES module with extensionless imports inside a
// package without "type": "module": Node (and tsx) cannot load it, and the CommonJS build Node does load
// (tf-core.node.js) has no gradients. Our build bundles that module into dist/tfjs-gradients.cjs, exporting its list of
// configs instead of registering them on load (tsup.config.ts). The bundled copy of tfjs-core's ops shares the user's
// engine and registries: tfjs keeps both on a global namespace, and Tensor's Symbol.hasInstance checks the shape of an
// object, not its class (test/tfjs/gradients.test.ts runs the built dist in plain Node, ESM and CommonJS).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs-core";

const require = createRequire(import.meta.url);
const BUNDLE = "tfjs-gradients.cjs";

/** The bundle sits beside dist/tfjs.{js,cjs}; from source (vitest, tsx) it is the package's built copy. */
function bundlePath(): string {
  const candidates = [new URL(`./${BUNDLE}`, import.meta.url), new URL(`../../dist/${BUNDLE}`, import.meta.url)];
  const found = candidates.find((url) => existsSync(url));
  if (found === undefined) {
    throw new Error(`[infialign/kernels] registerTfjsGradients: ${BUNDLE} is missing next to this module and in the package's dist/; build @infialign/kernels (pnpm --filter @infialign/kernels build).`);
  }
  return found.pathname;
}

let registered = false;

/**
 * Registers the gradients of all TensorFlow.js kernels (what `import "@tensorflow/tfjs-core/dist/register_all_gradients"`
 * does in a bundler), so `tf.grad`, `tf.grads`, `tf.variableGrads` and optimizers can differentiate plain tfjs ops in
 * plain Node, ESM or CommonJS. The fused ops of this package need none (their gradients are custom). Idempotent.
 * @throws when tfjs still has no gradient for BatchMatMul afterwards (e.g. two copies of @tensorflow/tfjs-core)
 */
export function registerTfjsGradients(): void {
  if (registered) return;
  const { gradConfigs } = require(bundlePath()) as { gradConfigs: readonly tf.GradConfig[] };
  for (const config of gradConfigs) tf.registerGradient(config);
  if (tf.getGradient(tf.BatchMatMul) === undefined) {
    throw new Error(
      "[infialign/kernels] registerTfjsGradients: tfjs still has no gradient for BatchMatMul; check that only one copy of @tensorflow/tfjs-core is installed (npm ls @tensorflow/tfjs-core).",
    );
  }
  registered = true;
}
