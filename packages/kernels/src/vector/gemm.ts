/**
 * out[outOff + i·ldOut + j] = a_(a0+i) · b_(b0+j) for i < na, j < nb. Register-blocked 4×2 micro-kernel: per dimension it
 * loads 6 values for 8 multiply-adds (vs 2 loads per multiply-add in a plain dot), tiled over `b` for cache reuse.
 * Self-contained (no outer references): its source text is also what the assignment worker threads run.
 */
export function gemmNT(
  a: Float32Array,
  a0: number,
  na: number,
  b: Float32Array,
  b0: number,
  nb: number,
  dim: number,
  out: Float32Array,
  outOff: number,
  ldOut: number,
): void {
  // Rows of `b` per cache tile: 64 rows × 256 dims × 4 bytes = 64 KiB stays in L2 while 4-row panels of `a` stream past.
  const tile = 64;
  for (let jt = 0; jt < nb; jt += tile) {
    const jEnd = Math.min(nb, jt + tile);
    let i = 0;
    for (; i + 3 < na; i += 4) {
      const p0 = (a0 + i) * dim;
      const p1 = p0 + dim;
      const p2 = p1 + dim;
      const p3 = p2 + dim;
      const o0 = outOff + i * ldOut;
      let j = jt;
      for (; j + 1 < jEnd; j += 2) {
        const q0 = (b0 + j) * dim;
        const q1 = q0 + dim;
        let s00 = 0;
        let s01 = 0;
        let s10 = 0;
        let s11 = 0;
        let s20 = 0;
        let s21 = 0;
        let s30 = 0;
        let s31 = 0;
        for (let d = 0; d < dim; d++) {
          const y0 = b[q0 + d]!;
          const y1 = b[q1 + d]!;
          const x0 = a[p0 + d]!;
          const x1 = a[p1 + d]!;
          const x2 = a[p2 + d]!;
          const x3 = a[p3 + d]!;
          s00 += x0 * y0;
          s01 += x0 * y1;
          s10 += x1 * y0;
          s11 += x1 * y1;
          s20 += x2 * y0;
          s21 += x2 * y1;
          s30 += x3 * y0;
          s31 += x3 * y1;
        }
        out[o0 + j] = s00;
        out[o0 + j + 1] = s01;
        out[o0 + ldOut + j] = s10;
        out[o0 + ldOut + j + 1] = s11;
        out[o0 + 2 * ldOut + j] = s20;
        out[o0 + 2 * ldOut + j + 1] = s21;
        out[o0 + 3 * ldOut + j] = s30;
        out[o0 + 3 * ldOut + j + 1] = s31;
      }
      for (; j < jEnd; j++) {
        const q = (b0 + j) * dim;
        out[o0 + j] = dot4(a, p0, b, q, dim);
        out[o0 + ldOut + j] = dot4(a, p1, b, q, dim);
        out[o0 + 2 * ldOut + j] = dot4(a, p2, b, q, dim);
        out[o0 + 3 * ldOut + j] = dot4(a, p3, b, q, dim);
      }
    }
    for (; i < na; i++) {
      const p = (a0 + i) * dim;
      const o = outOff + i * ldOut;
      for (let j = jt; j < jEnd; j++) out[o + j] = dot4(a, p, b, (b0 + j) * dim, dim);
    }
  }

  // Same 4-accumulator order as dotRows' `dot`, inlined to keep this function self-contained.
  function dot4(x: Float32Array, xOff: number, y: Float32Array, yOff: number, len: number): number {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let d = 0;
    for (; d + 3 < len; d += 4) {
      s0 += x[xOff + d]! * y[yOff + d]!;
      s1 += x[xOff + d + 1]! * y[yOff + d + 1]!;
      s2 += x[xOff + d + 2]! * y[yOff + d + 2]!;
      s3 += x[xOff + d + 3]! * y[yOff + d + 3]!;
    }
    for (; d < len; d++) s0 += x[xOff + d]! * y[yOff + d]!;
    return s0 + s1 + s2 + s3;
  }
}
