import { gemmNT } from "./gemm.js";
import { checkOut, rowCount } from "./shape.js";

/** (na×dim)·(nb×dim)ᵀ → na×nb row-major: `out[i·nb + j] = a_i · b_j`. Blocked for cache and registers (see `gemmNT`). */
export function matmulTransposed(a: Float32Array, b: Float32Array, dim: number, out?: Float32Array): Float32Array {
  const na = rowCount(a, dim, "matmul-transposed", "a");
  const nb = rowCount(b, dim, "matmul-transposed", "b");
  const result = out ?? new Float32Array(na * nb);
  checkOut(result, na * nb, "matmul-transposed");
  gemmNT(a, 0, na, b, 0, nb, dim, result, 0, nb);
  return result;
}
