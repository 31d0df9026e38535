// The parts of @tensorflow/tfjs-backend-wasm's BackendWasm (4.x, backend_wasm.js) our kernels use: the id map from a
// tfjs dataId to the tensor's C-side id and heap offset, and the Emscripten module with the C entry points. Typed
// here rather than imported so that the public .d.ts never references the optional backend package.
import type * as tf from "@tensorflow/tfjs-core";

type CFunction = (...args: unknown[]) => void;

export interface WasmModule {
  cwrap(name: string, ret: null, args: string[]): CFunction;
  HEAPU8: Uint8Array;
  /** tfjs' bridge: a C-side id names `size` elements at a heap byte offset (register_tensor / dispose_data). */
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
}

export interface WasmBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: unknown): WasmTensorData };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: unknown, force?: boolean): boolean;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Shape passed to a cwrapped C function as an `array` argument: int32 values as bytes (what tfjs' kernels do). */
export function shapeBytes(shape: readonly number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/**
 * Registers a C-side tensor id for `size` float32 elements starting `elementOffset` elements into an existing
 * tensor's heap block, so C kernels can read or write a sub-range without a copy. The id comes from the backend's
 * own counter, so it never collides with a real tensor; release it with {@link releaseView} (which also runs the
 * C disposal callbacks, e.g. deleting an XNNPACK operator cached on that id).
 */
export function heapView(backend: WasmBackend, data: WasmTensorData, elementOffset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, data.memoryOffset + 4 * elementOffset);
  return id;
}

export function releaseView(backend: WasmBackend, id: number): void {
  backend.wasm.tfjs.disposeData(id);
}
