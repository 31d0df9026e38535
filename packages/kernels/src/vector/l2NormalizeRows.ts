import { rowCount } from "./shape.js";

/** Scales every row to unit L2 norm in place; zero rows stay zero. Returns `data`. */
export function l2NormalizeRows(data: Float32Array, dim: number): Float32Array {
  const n = rowCount(data, dim, "l2-normalize-rows");
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let d = 0;
    for (; d + 3 < dim; d += 4) {
      const x0 = data[o + d]!;
      const x1 = data[o + d + 1]!;
      const x2 = data[o + d + 2]!;
      const x3 = data[o + d + 3]!;
      s0 += x0 * x0;
      s1 += x1 * x1;
      s2 += x2 * x2;
      s3 += x3 * x3;
    }
    for (; d < dim; d++) s0 += data[o + d]! * data[o + d]!;
    const norm = Math.sqrt(s0 + s1 + s2 + s3);
    if (norm === 0) continue;
    const inv = 1 / norm;
    for (let e = 0; e < dim; e++) data[o + e] = data[o + e]! * inv;
  }
  return data;
}
