// Installs our wasm-backend kernels over the stock ones of @tensorflow/tfjs-backend-wasm, and puts the stock ones back.
// Kernels are registered per backend name in tfjs' global registry, so this works whether or not the wasm backend has
// been initialised yet, and for every wasm backend instance selectBackend creates (1 or more threads).
import * as tf from "@tensorflow/tfjs-core";
import { batchMatMul, fusedMatMul } from "./batchMatMul.js";
import { slice } from "./slice.js";

const BACKEND = "wasm";

/** Kernel names we replace, in install order. */
const KERNELS = [tf.BatchMatMul, tf._FusedMatMul, tf.Slice] as const;

/** The stock configs we replaced, while installed. */
let stock: Map<string, tf.KernelConfig> | undefined;

function ours(name: (typeof KERNELS)[number], original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc =
    name === tf.BatchMatMul ? (batchMatMul as unknown as tf.KernelFunc) : name === tf._FusedMatMul ? fusedMatMul(original.kernelFunc) : slice(original.kernelFunc);
  // tfjs runs setupFunc when a backend instance initialises; the stock one wraps the C function into a module-level
  // variable that the stock kernel (which ours falls back to) needs, so a wasm backend created while ours are
  // installed must still run it.
  return { kernelName: name, backendName: BACKEND, kernelFunc, ...(original.setupFunc === undefined ? {} : { setupFunc: original.setupFunc }) };
}

/**
 * Replaces the wasm backend's BatchMatMul, _FusedMatMul and Slice kernels with ours: every matrix product on
 * XNNPACK (explicit transposes, one 2-D product per batch entry on views of the heap) and a slice that copies only the
 * selected region. Results equal the stock kernels' (test/tfjs/wasmKernels.test.ts). Idempotent.
 * @returns the names of the kernels now overridden
 * @throws when @tensorflow/tfjs-backend-wasm has not been imported (its stock kernels are not registered)
 */
export function installWasmKernels(): string[] {
  if (stock !== undefined) return [...stock.keys()];
  const originals = new Map<string, tf.KernelConfig>();
  for (const name of KERNELS) {
    const config = tf.getKernel(name, BACKEND);
    if (config === undefined) {
      throw new Error(
        `[infialign/kernels] wasm kernels: the wasm backend's ${name} kernel is not registered; install @tensorflow/tfjs-backend-wasm and import it (or call selectBackend({ prefer: "wasm" })) before installWasmKernels().`,
      );
    }
    originals.set(name, config);
  }
  for (const name of KERNELS) {
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel(ours(name, originals.get(name) as tf.KernelConfig));
  }
  stock = originals;
  return [...originals.keys()];
}

/** Puts the stock wasm kernels back (so one process can compare stock and ours). No-op when ours are not installed. */
export function uninstallWasmKernels(): void {
  if (stock === undefined) return;
  for (const [name, config] of stock) {
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel(config);
  }
  stock = undefined;
}

/** Whether {@link installWasmKernels} is in effect. */
export function wasmKernelsInstalled(): boolean {
  return stock !== undefined;
}
