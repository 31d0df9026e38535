/** @infialign/kernels — TensorFlow.js backend selection, fused ops with custom gradients, Float32Array vector kernels. Planned; see the package README. */
export const PACKAGE_STATUS = "planned" as const;
