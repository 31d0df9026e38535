export { type AdamWUpdateOptions, adamwUpdate } from "./adamwUpdate.js";
export { assignNearest } from "./assignNearest.js";
export { type CosineTopKOptions, cosineTopK } from "./cosineTopK.js";
export { dotRows } from "./dotRows.js";
export { l2NormalizeRows } from "./l2NormalizeRows.js";
export { matmulTransposed } from "./matmulTransposed.js";
export type { MiniBatchCenters, MiniBatchStepResult } from "./miniBatchStep.js";
export { type AssignPool, createAssignPool, getAssignPool, resolveThreads } from "./parallel.js";
export { createRng, type Rng } from "./rng.js";
