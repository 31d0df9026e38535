import { gemmNT } from "./gemm.js";
import { assignRange } from "./parallel.js";
import { checkOut, rowCount } from "./shape.js";

/** Rows scored per block; the scratch score block is `ASSIGN_BLOCK_ROWS × k` floats (fixed at 64 inside assignRange). */
const ASSIGN_BLOCK_ROWS = 64;

/** Output buffers an assignment may be given to fill (each allocated when absent). */
export interface AssignmentBuffers {
  assignments?: Int32Array;
  scores?: Float32Array;
}

/** Nearest centroid per row and its dot product. */
export interface Assignments {
  assignments: Int32Array;
  scores: Float32Array;
}

/**
 * Index of the centroid with the largest dot product for every row (spherical assignment: for unit rows this is the
 * nearest centroid by cosine), ties → lowest index. `scores[i]` is that largest dot product.
 */
export function assignNearest(
  rows: Float32Array,
  centroids: Float32Array,
  dim: number,
  out?: AssignmentBuffers,
): Assignments {
  const { n, k, assignments, scores } = assignNearestArgs(rows, centroids, dim, out);
  const block = new Float32Array(Math.min(ASSIGN_BLOCK_ROWS, Math.max(n, 1)) * k);
  assignRange(rows, 0, n, centroids, k, dim, assignments, scores, 0, block, gemmNT);
  return { assignments, scores };
}

/** Checks the arguments of an assignment (any engine) and returns the row and centroid counts and the outputs. */
export function assignNearestArgs(
  rows: Float32Array,
  centroids: Float32Array,
  dim: number,
  out?: AssignmentBuffers,
): { n: number; k: number; assignments: Int32Array; scores: Float32Array } {
  const n = rowCount(rows, dim, "assign-nearest", "rows");
  const k = rowCount(centroids, dim, "assign-nearest", "centroids");
  if (k === 0) throw new Error("[infialign/kernels] assign-nearest: centroids is empty; pass at least one centroid");
  const assignments = out?.assignments ?? new Int32Array(n);
  const scores = out?.scores ?? new Float32Array(n);
  checkOut(assignments, n, "assign-nearest", "out.assignments");
  checkOut(scores, n, "assign-nearest", "out.scores");
  return { n, k, assignments, scores };
}
