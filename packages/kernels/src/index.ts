// Public API of @infialign/kernels: dependency-free Float32Array vector kernels. The TensorFlow.js side is "@infialign/kernels/tfjs".
export type { AssignPool, CosineTopKOptions, Rng } from "./vector/index.js";
export {
  assignNearest,
  cosineTopK,
  createAssignPool,
  createRng,
  dotRows,
  getAssignPool,
  l2NormalizeRows,
  matmulTransposed,
  resolveThreads,
} from "./vector/index.js";
