// Public API of @infialign/kernels/tfjs: TensorFlow.js backend selection and fused ops with custom gradients.
// The tfjs packages are optional peers: install @tensorflow/tfjs-core and a backend to use this entry point.
// Gradients of the fused ops are custom (tf.customGrad), so they need no registered kernel gradients; training code that
// differentiates plain tfjs ops must register them (see the README).

export type { BackendInfo, BackendName, SelectBackendOptions } from "./backend.js";
export { BACKEND_NAMES, describeBackend, measureMatmulGflops, selectBackend } from "./backend.js";
export { registerTfjsGradients } from "./gradients.js";
export type { CausalAttentionOptions } from "./ops/attention.js";
export { attentionBias, causalAttention, referenceCausalAttention } from "./ops/attention.js";
export type { ChunkedCrossEntropyOptions, TokenLogProbs } from "./ops/crossEntropy.js";
export { chunkedCrossEntropy, chunkedTokenLogProbs, IGNORE_INDEX, referenceCrossEntropy, referenceTokenLogProbs } from "./ops/crossEntropy.js";
export { embeddingLookup, referenceEmbeddingLookup } from "./ops/embedding.js";
export { referenceRmsNorm, rmsNorm } from "./ops/rmsNorm.js";
export type { RopeTables } from "./ops/rope.js";
export { applyRope, referenceApplyRope, ropeTables } from "./ops/rope.js";
export { referenceSwiglu, swiglu } from "./ops/swiglu.js";
export type { WasmKernelOptions } from "./wasm/kernels.js";
export { installWasmKernels, uninstallWasmKernels, wasmKernelsInstalled } from "./wasm/kernels.js";
