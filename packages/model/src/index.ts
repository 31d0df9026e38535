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
