// Public API of @infialign/kernels: dependency-free Float32Array vector kernels, and the same products on onnxruntime-node
// (optional peer) through getVectorEngine. The TensorFlow.js side is "@infialign/kernels/tfjs".
export type { VectorEngine, VectorEngineChoice, VectorEngineOptions } from "./engine/vectorEngine.js";
export { getVectorEngine } from "./engine/vectorEngine.js";
export type { AdamWUpdateOptions, AssignPool, CosineTopKOptions, MiniBatchCenters, MiniBatchStepResult, Rng } from "./vector/index.js";
export {
  adamwUpdate,
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
