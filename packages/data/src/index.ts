// Public API of @infialign/data. Every export is named here; nothing internal leaks through `export *`.

export { DataError } from "./errors.js";
export { VERSION } from "./version.js";

// Canonical record
export {
  computeSampleId,
  makeSample,
  MessageSchema,
  normalizeForHash,
  SampleMetaSchema,
  SampleSchema,
  TokenCountsSchema,
} from "./schema/sample.js";
export type { Message, Sample, SampleInit, SampleMeta, TokenCounts } from "./schema/sample.js";

// Readers and writers
export {
  boundedJsonValue,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_RECORD_BYTES,
  detectFormat,
  exceedsJsonDepth,
  readCsv,
  readJsonArray,
  readJsonl,
  readParquet,
  readRecords,
  resolveInputs,
} from "./readers/index.js";
export type { InputFile, InputFormat, ReadOptions, RecordStream, ResolveInputsOptions } from "./readers/index.js";
export {
  DEFAULT_SHARD_MAX_BYTES,
  DEFAULT_SHARD_MAX_RECORDS,
  ParquetShardWriter,
  ShardedJsonlWriter,
  syncDir,
  tempPathFor,
  writeFileAtomic,
  writeParquet,
} from "./writers/index.js";
export type { ParquetShardWriterOptions, ParquetWriteOptions, ShardedJsonlWriterOptions, ShardInfo } from "./writers/index.js";

// Source adapters
export {
  ADAPTERS,
  alpacaAdapter,
  canonicalAdapter,
  competitionAnswerAdapter,
  detectAdapter,
  getAdapter,
  gsm8kAdapter,
  mathAdapter,
  openaiMessagesAdapter,
  preferenceAdapter,
  r1Adapter,
  sharegptAdapter,
} from "./adapters/index.js";
export { baseMeta, failure, missingField, optionalString, requireString, wrongType } from "./adapters/index.js";
export type { AdaptContext, AdaptFailure, AdaptResult, FieldResult, SourceAdapter } from "./adapters/index.js";

// Normalization, tokenizer, chat templates
export {
  ChatTemplate,
  checkTokenizer,
  countSampleTokens,
  extractBoxed,
  extractGsm8kFinal,
  loadTokenizer,
  normalizeSample,
  normalizeText,
  QWEN25_CHAT_TEMPLATE,
  splitThink,
  stripCalculatorAnnotations,
} from "./normalize/index.js";
export type {
  ChatTemplateMessage,
  ChatTemplateRenderInput,
  NormalizeSampleOptions,
  TextTokenizer,
  ThinkSplit,
} from "./normalize/index.js";

// Stage runtime
export { canonicalJson, sha256Hex } from "./runtime/canonicalJson.js";
export { createLogger, silentLogger } from "./runtime/logger.js";
export { mapJsonLines } from "./runtime/mapJsonLines.js";
export { readCheckpoint, readManifest } from "./runtime/manifest.js";
export type { StageCheckpoint, StageCounts, StageManifest } from "./runtime/manifest.js";
export { ensureWritableDir, outputDirError, outputDirProblem } from "./runtime/outputDir.js";
export type { EnsureWritableDirOptions, OutputDirFs } from "./runtime/outputDir.js";
export { readShards, runPipeline, StrictModeError } from "./runtime/pipeline.js";
export type { PipelineResult, PipelineSource, RunPipelineOptions, StageRunSummary } from "./runtime/pipeline.js";
export { createProgress, isCI, noProgress, shouldShowProgress } from "./runtime/progress.js";
export type {
  DuplicateEntry,
  Logger,
  ProgressReporter,
  RawRecord,
  RejectCode,
  RejectEntry,
  SourceLocation,
  Stage,
  StageContext,
} from "./runtime/types.js";

// Stages
export { ExactDedupParamsSchema, exactDedupStage } from "./stages/exactDedupStage.js";
export type { ExactDedupParams } from "./stages/exactDedupStage.js";
export { NormalizeParamsSchema, normalizeStage, sourceName } from "./stages/normalizeStage.js";
export type { NormalizeParams } from "./stages/normalizeStage.js";
export { Distribution, StatsCollector, statsStage } from "./stages/statsStage.js";
export type { DatasetStats, DistributionSummary } from "./stages/statsStage.js";

// Teacher chain-of-thought generation
export {
  backoffDelay,
  chatCacheKey,
  DEFAULT_BACKOFF,
  DEFAULT_TEACHER_CONFIG,
  DiskCache,
  isHttpUrl,
  jsonHeaders,
  OpenAIChatClient,
  postJsonWithRetry,
  R1_PROMPT_TEMPLATE,
  RequestFailure,
  resolveTeacherConfig,
  TeacherRequestError,
  teacherStage,
} from "./teacher/index.js";
export type {
  BackoffConfig,
  ChatChoice,
  ChatClientOptions,
  ChatRequest,
  ChatResponse,
  ChatUsage,
  FinalFailure,
  JsonRequestSettings,
  PostJsonOptions,
  RetryInfo,
  TeacherConfig,
  TeacherOptions,
  TeacherParams,
  TeacherStageHooks,
} from "./teacher/index.js";
