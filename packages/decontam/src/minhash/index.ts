// Public API of the MinHash + LSH near-duplicate block; src/index.ts re-exports these names.

export type { MinHashConfig } from "./config.js";
export { collisionProbability, DEFAULT_MINHASH_CONFIG, lshThreshold, resolveMinHashConfig } from "./config.js";
export type { NearDuplicateOptions, NearDuplicateResult } from "./findNearDuplicates.js";
export { findNearDuplicates } from "./findNearDuplicates.js";
export { LshIndex, lshBandHash } from "./lshIndex.js";
export { EMPTY_SIGNATURE_VALUE, estimateJaccard, MinHasher } from "./minHasher.js";
