import { checkOut, rowCount } from "./shape.js";

/** Dot product of `dim` values of `a` and `b` starting at the given offsets, 4 accumulators for instruction-level parallelism. */
export function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let d = 0;
  for (; d + 3 < dim; d += 4) {
    s0 += a[aOff + d]! * b[bOff + d]!;
    s1 += a[aOff + d + 1]! * b[bOff + d + 1]!;
    s2 += a[aOff + d + 2]! * b[bOff + d + 2]!;
    s3 += a[aOff + d + 3]! * b[bOff + d + 3]!;
  }
  for (; d < dim; d++) s0 += a[aOff + d]! * b[bOff + d]!;
  return s0 + s1 + s2 + s3;
}

/** Row-wise dot products: `out[i] = a_i · b_i` for two n×dim matrices. */
export function dotRows(a: Float32Array, b: Float32Array, dim: number, out?: Float32Array): Float32Array {
  const n = rowCount(a, dim, "dot-rows", "a");
  const nb = rowCount(b, dim, "dot-rows", "b");
  if (nb !== n) throw new Error(`[infialign/kernels] dot-rows: a has ${n} rows but b has ${nb}; pass matrices of the same shape`);
  const result = out ?? new Float32Array(n);
  checkOut(result, n, "dot-rows");
  for (let i = 0; i < n; i++) result[i] = dot(a, i * dim, b, i * dim, dim);
  return result;
}
