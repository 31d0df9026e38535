// Public API of @infialign/kernels. The tfjs backends and fused ops (issue 5) will get their own entry points.
export type { CosineTopKOptions, Rng } from "./vector/index.js";
export { assignNearest, cosineTopK, createRng, dotRows, l2NormalizeRows, matmulTransposed } from "./vector/index.js";
