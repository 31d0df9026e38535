// Public API of @infialign/model: a Qwen2-architecture causal LM in TensorFlow.js (issue 5, in progress).
export type { Qwen2Config } from "./config.js";
export { countParameters, parseQwen2Config, qwen2ConfigToJson } from "./config.js";
export type {
  DecodeModel,
  GeneratedSample,
  GenerateFn,
  GenerateOptions,
  GenerationRequest,
  HostTensor,
  KvCache,
  ModelTokenizer,
  NamedTensors,
  SamplingOptions,
  StepInput,
  StepOutput,
} from "./engine.js";
export { ModelError } from "./errors.js";
export type { ByteTokenizerOptions } from "./tokenizer/byteTokenizer.js";
export { BYTE_CHAT_TEMPLATE, ByteTokenizer, DEFAULT_BYTE_SPECIAL_TOKENS } from "./tokenizer/byteTokenizer.js";
export { byteTokenizerFiles } from "./tokenizer/byteTokenizerFiles.js";
export type { TokenizerFiles } from "./tokenizer/hfTokenizer.js";
export { HfTokenizer, loadHfTokenizer, loadModelTokenizer } from "./tokenizer/hfTokenizer.js";
export type { LoadedCheckpoint, SaveCheckpointOptions, SaveWeightsOptions } from "./weights/checkpoint.js";
export { DEFAULT_MAX_SHARD_BYTES, loadCheckpoint, loadWeights, saveCheckpoint, saveWeights } from "./weights/checkpoint.js";
export type { PeftLoraConfig } from "./weights/peft.js";
export { loadAdapter, resolvePeftLoraConfig, saveAdapter, validatePeftLoraConfig } from "./weights/peft.js";
export type { SafetensorsContents, SafetensorsWriteDtype, SafetensorsWriteOptions } from "./weights/safetensors.js";
export { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from "./weights/safetensors.js";
