// Installs our wasm-backend kernels over the stock ones of @tensorflow/tfjs-backend-wasm, and puts the stock ones back.
// Kernels are registered per backend name in tfjs' global registry, so this works whether or not the wasm backend has
// been initialised yet, and for every wasm backend instance selectBackend creates (1 or more threads).
import * as tf from "@tensorflow/tfjs-core";
import { batchMatMul, fusedMatMul, MIN_ROWS, SMALL_PRODUCT_MACS, setRouting } from "./batchMatMul.js";
import { slice } from "./slice.js";

const BACKEND = "wasm";

/** Kernel names we replace, in install order. */
const KERNELS = [tf.BatchMatMul, tf._FusedMatMul, tf.Slice] as const;

/** The stock configs we replaced, while installed. */
let stock: Map<string, tf.KernelConfig> | undefined;

function ours(name: (typeof KERNELS)[number], original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc =
    name === tf.BatchMatMul ? batchMatMul(original.kernelFunc) : name === tf._FusedMatMul ? fusedMatMul(original.kernelFunc) : slice(original.kernelFunc);
  // tfjs runs setupFunc when a backend instance initialises; the stock one wraps the C function into a module-level
  // variable that the stock kernel (which ours falls back to) needs, so a wasm backend created while ours are
  // installed must still run it.
  return { kernelName: name, backendName: BACKEND, kernelFunc, ...(original.setupFunc === undefined ? {} : { setupFunc: original.setupFunc }) };
}

/** Options of {@link installWasmKernels}. */
export interface WasmKernelOptions {
  /**
   * Batched products (equal batch axes) with fewer multiply-adds per product stay on the stock kernel, whose scalar
   * loop beats creating an XNNPACK operator per batch entry on tiny products (decode-time attention). 0 = XNNPACK always.
   * @default 524288
   */
  smallProductMacs?: number;
  /**
   * Transposed or batched products with fewer output rows stay on the stock kernel: ours transposes and packs the whole
   * weight per call, which a decode step's one-row `x·Wᵀ` never earns back. 0 = XNNPACK always.
   * @default 16
   */
  minRows?: number;
}

/**
 * Replaces the wasm backend's BatchMatMul, _FusedMatMul and Slice kernels with ours: matrix products on XNNPACK
 * (explicit transposes, one 2-D product per batch entry on views of the heap; tiny batched products stay on stock) and a
 * slice that copies only the selected region. Results equal the stock kernels' (test/tfjs/wasmKernels.test.ts).
 * Idempotent; a repeated call only updates the options.
 * @returns the names of the kernels now overridden
 * @throws when @tensorflow/tfjs-backend-wasm has not been imported (its stock kernels are not registered)
 */
export function installWasmKernels(options: WasmKernelOptions = {}): string[] {
  setRouting({ smallProductMacs: options.smallProductMacs ?? SMALL_PRODUCT_MACS, minRows: options.minRows ?? MIN_ROWS });
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
