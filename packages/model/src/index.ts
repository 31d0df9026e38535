// Public API of @infialign/model: a Qwen2-architecture causal LM in TensorFlow.js that trains, generates, serves and
// exchanges checkpoints with Hugging Face; an onnxruntime engine for fast inference.
export type { Qwen2Config } from "./config.js";
export { countParameters, parseQwen2Config, qwen2ConfigToJson } from "./config.js";
export type {
  CacheRows,
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
export { IncrementalDetokenizer } from "./generate/detokenizer.js";
export type { ResolvedSampling } from "./generate/generate.js";
export { DEFAULT_MAX_BATCH_SIZE, DEFAULT_SAMPLING, generate, resolveSampling } from "./generate/generate.js";
export type { SampledToken, SamplerOptions, SamplingDistribution } from "./generate/sampling.js";
export { sampleSeed, TokenSampler } from "./generate/sampling.js";
export type { ScoreItem, ScoreOptions } from "./generate/score.js";
export { scoreCompletions } from "./generate/score.js";
export type { OnnxQwen2ModelOptions } from "./onnx/engine.js";
export { OnnxQwen2Model } from "./onnx/engine.js";
export { buildQwen2Onnx, QWEN2_ONNX_NAMES, QWEN2_ONNX_OPSET } from "./onnx/graph.js";
export { buildQwen2TrainOnnx, TRAIN_GRAPH_NAMES } from "./onnx/trainGraph.js";
export type { LoraOptions } from "./qwen2/lora.js";
export { attachLora, detachLora, loadLora, loadLoraState, loraState, loraVariables, mergeLora, saveLora, unmergeLora } from "./qwen2/lora.js";
export type { CausalLmBatch, CausalLmLoss, LoraAdapter, LoraTargetModule, Qwen2ForwardOptions, Qwen2InitOptions } from "./qwen2/model.js";
export { LORA_TARGET_MODULES, Qwen2Model, qwen2ParameterShapes } from "./qwen2/model.js";
export type { RandomQwen2WeightsOptions } from "./qwen2/randomWeights.js";
export { randomQwen2Weights } from "./qwen2/randomWeights.js";
export { referenceLogits } from "./qwen2/reference.js";
export type { BatchingMode, RunningServer, SamplingDefaults, ServerOptions } from "./serve/server.js";
export { DEFAULT_COMPLETION_MAX_TOKENS, samplingDefaultsFromGenerationConfig, startServer } from "./serve/server.js";
export type { ByteTokenizerOptions } from "./tokenizer/byteTokenizer.js";
export { BYTE_CHAT_TEMPLATE, ByteTokenizer, DEFAULT_BYTE_SPECIAL_TOKENS } from "./tokenizer/byteTokenizer.js";
export { byteTokenizerFiles } from "./tokenizer/byteTokenizerFiles.js";
export type { TokenizerFiles } from "./tokenizer/hfTokenizer.js";
export { HfTokenizer, loadHfTokenizer, loadModelTokenizer } from "./tokenizer/hfTokenizer.js";
export type { CreatedTrainingEngine, TrainingEngineOptions } from "./train/create.js";
export { createTrainingEngine } from "./train/create.js";
export type { GradientOptions, GradientResult, TokenScores, TokenWeights, TrainingBatch, TrainingEngine, TrainingEngineName } from "./train/engine.js";
export { peftTensorName, shiftLabels, TfjsTrainingEngine } from "./train/engine.js";
export type { OnnxTrainingEngineOptions } from "./train/onnx.js";
export { OnnxTrainingEngine } from "./train/onnx.js";
export type { LoadedCheckpoint, SaveCheckpointOptions, SaveWeightsOptions } from "./weights/checkpoint.js";
export { DEFAULT_MAX_SHARD_BYTES, loadCheckpoint, loadWeights, saveCheckpoint, saveWeights } from "./weights/checkpoint.js";
export type { PeftLoraConfig } from "./weights/peft.js";
export { loadAdapter, resolvePeftLoraConfig, saveAdapter, validatePeftLoraConfig } from "./weights/peft.js";
export type { SafetensorsContents, SafetensorsWriteDtype, SafetensorsWriteOptions } from "./weights/safetensors.js";
export { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from "./weights/safetensors.js";
