/** @infialign/model — Qwen2-architecture causal LM in TensorFlow.js: HF safetensors, LoRA, generation, OpenAI-compatible serving. Planned; see the package README. */
export const PACKAGE_STATUS = "planned" as const;
