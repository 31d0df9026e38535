/** Number of rows of a row-major matrix; throws when `data.length` is not a multiple of `dim`. */
export function rowCount(data: Float32Array, dim: number, component: string, name = "data"): number {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new Error(`[infialign/kernels] ${component}: dim must be a positive integer, got ${dim}`);
  }
  if (data.length % dim !== 0) {
    throw new Error(
      `[infialign/kernels] ${component}: ${name}.length ${data.length} is not a multiple of dim ${dim}; pass row-major rows of exactly dim values`,
    );
  }
  return data.length / dim;
}

export function checkOut(out: { length: number }, expected: number, component: string, name = "out"): void {
  if (out.length < expected) {
    throw new Error(`[infialign/kernels] ${component}: ${name} has length ${out.length}, needs at least ${expected}`);
  }
}
