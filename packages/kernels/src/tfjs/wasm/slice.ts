// Slice for the wasm backend that copies only the selected region. The stock kernel (tfjs-backend-wasm 4.x,
// kernels/Slice.js) first reads the whole input out of the heap (readSync → HEAPU8.slice), so taking one row of a
// [vocab, hidden] matrix or one head of a [batch, seq, hidden] activation copied all of it; ranks above 4 also went
// through the generic CPU implementation. Here the input and output are views on the heap and only the selected rows
// are copied: the trailing axes that are taken whole merge into one contiguous row, the leading axes are walked.
import * as tf from "@tensorflow/tfjs-core";
import type { WasmBackend } from "./heap.js";

/** Rows shorter than this are copied element by element: a typed-array `set` call costs more than a few stores. */
const SHORT_ROW = 16;

/** The Slice kernel function; `stock` handles string tensors (stored outside the heap). */
export function slice(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackend;
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === "string") return stock(args);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [start, extent] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size) as [number[], number[]];
    const out = backend.makeOutput(extent, x.dtype);
    const total = tf.util.sizeFromShape(extent);
    if (total === 0) return out;
    // Views made after makeOutput: its malloc may grow the heap, which detaches views of the old buffer.
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    copyRegion(src, x.shape, dst, start, extent);
    return out;
  };
}

/** Copies the box `start`…`start + extent` of a row-major array of shape `shape` into `dst` (row-major, dense). */
export function copyRegion<T extends Float32Array | Int32Array | Uint8Array>(src: T, shape: readonly number[], dst: T, start: readonly number[], extent: readonly number[]): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[0] = src[0] as number;
    return;
  }
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) strides[d] = (strides[d + 1] as number) * (shape[d + 1] as number);
  // Innermost axis `j` not taken whole; everything from j inward is one contiguous run per index of the outer axes.
  let j = rank - 1;
  while (j > 0 && extent[j] === shape[j]) j--;
  const row = (extent[j] as number) * (strides[j] as number);
  let offset = 0;
  for (let d = 0; d < rank; d++) offset += (start[d] as number) * (strides[d] as number);
  let rows = 1;
  for (let d = 0; d < j; d++) rows *= extent[d] as number;
  const index = new Array<number>(j).fill(0);
  for (let r = 0, at = 0; r < rows; r++, at += row) {
    if (row < SHORT_ROW) {
      for (let e = 0; e < row; e++) dst[at + e] = src[offset + e] as number;
    } else {
      dst.set(src.subarray(offset, offset + row), at);
    }
    // Odometer over axes 0…j−1, moving the source offset by each axis' stride.
    for (let d = j - 1; d >= 0; d--) {
      offset += strides[d] as number;
      const next = (index[d] as number) + 1;
      if (next < (extent[d] as number)) {
        index[d] = next;
        break;
      }
      index[d] = 0;
      offset -= (extent[d] as number) * (strides[d] as number);
    }
  }
}
