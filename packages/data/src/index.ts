// Public API of @infialign/data. Every export is named here; nothing internal leaks through `export *`.

export type { AdaptContext, AdapterIdentity, AdaptFailure, AdaptResult, FieldResult, SourceAdapter } from "./adapters/index.js";
// Source adapters
export {
  ADAPTERS,
  alpacaAdapter,baseMeta, 
  canonicalAdapter,
  competitionAnswerAdapter,
  detectAdapter,failure, 
  getAdapter,
  gsm8kAdapter,
  mathAdapter,missingField, 
  openaiMessagesAdapter,optionalString, 
  preferenceAdapter,
  r1Adapter,requireString, 
  sharegptAdapter,wrongType 
} from "./adapters/index.js";
export type {
  BenchmarkDefinition,
  BenchmarkFormat,
  BenchmarkItem,
  BenchmarkKind,
  BenchmarkLicence,
  BenchmarkParseContext,
  BenchmarkRecord,
  BenchmarkTask,
  CodeTestCase,
  LiveCodeBenchFilter,
  LoadBenchmarkOptions,
  RegisteredBenchmark,
} from "./benchmarks/index.js";
// Benchmarks: one registry and one parser per format, read by evaluation and decontamination
export {
  BENCHMARK_FORMATS,
  decodeTestCases,
  defineBenchmark,
  gpqaFormat,
  gsm8kFormat,
  hasBenchmark,
  LCB_RELEASE_WINDOWS,
  listBenchmarks,
  liveCodeBenchFormat,
  loadBenchmarkItems,
  MMLU_PRO_CATEGORIES,
  matchesFilter,
  mathFormat,
  mmluProFormat,
  PickleError,
  readPickledString,
  registerBenchmark,
  releaseWindow,
  repairLatexEscapes,
  resolveBenchmark,
  shippedBenchmarkDir,
  textFormat,
  unregisterBenchmark,
} from "./benchmarks/index.js";
export { DataError } from "./errors.js";
export type {
  ChatTemplateMessage,
  ChatTemplateRenderInput,
  NormalizeSampleOptions,
  TextTokenizer,
  ThinkSplit,
} from "./normalize/index.js";
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
export type { InputFile, InputFormat, ReadOptions, RecordStream, ResolveInputsOptions } from "./readers/index.js";
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
// Stage runtime
export { canonicalJson, sha256Hex, sha256OfParts } from "./runtime/canonicalJson.js";
export type { BullmqExecutorOptions } from "./runtime/executor/bullmq.js";
export { createBullmqExecutor, DEFAULT_BULLMQ_QUEUE } from "./runtime/executor/bullmq.js";
export type { BullmqTaskHandler, BullmqWorkerEvent, BullmqWorkerOptions, BullmqWorkerSummary } from "./runtime/executor/bullmqWorker.js";
export { runBullmqWorker } from "./runtime/executor/bullmqWorker.js";
export type { ProcessExecutorOptions, RetryOptions } from "./runtime/executor/processes.js";
export { createInProcessExecutor, createProcessExecutor, TaskFailedError } from "./runtime/executor/processes.js";
export { runTask } from "./runtime/executor/runTask.js";
export type { ExecutionRecord } from "./runtime/executor/shardedStage.js";
export { combineStats, positionOf } from "./runtime/executor/stats.js";
export type { ExecuteOptions, Executor, PipelineRecipe, TaskEvent, TaskInput, TaskPhase, TaskResult, TaskSpec } from "./runtime/executor/types.js";
export { createLogger, silentLogger } from "./runtime/logger.js";
export type { StageCheckpoint, StageCounts, StageManifest } from "./runtime/manifest.js";
export { readCheckpoint, readManifest } from "./runtime/manifest.js";
export { mapJsonLines, mapJsonLinesBatched } from "./runtime/mapJsonLines.js";
export type { EnsureWritableDirOptions, OutputDirFs } from "./runtime/outputDir.js";
export { ensureWritableDir, outputDirError, outputDirProblem } from "./runtime/outputDir.js";
export type { PipelineResult, PipelineSource, ProgressFactory, RunPipelineOptions, StageRunSummary } from "./runtime/pipeline.js";
export { readShards, runPipeline, StrictModeError } from "./runtime/pipeline.js";
export type { ProgressLine, ProgressOptions, ProgressStream } from "./runtime/progress.js";
export { createProgress, createProgressLine, isCI, noProgress, shouldShowProgress } from "./runtime/progress.js";
export type {
  DuplicateEntry,
  GlobalShardPlan,
  Logger,
  PhaseContext,
  Positioned,
  ProgressReporter,
  RawRecord,
  RejectCode,
  RejectEntry,
  ShardPlan,
  SourceLocation,
  Stage,
  StageContext,
} from "./runtime/types.js";
export type { Message, Sample, SampleInit, SampleMeta, TokenCounts } from "./schema/sample.js";
// Canonical record
export {
  computeSampleId,
  MessageSchema,
  makeSample,
  normalizeForHash,
  SampleMetaSchema,
  SampleSchema,
  TokenCountsSchema,
} from "./schema/sample.js";
export type { ExactDedupParams } from "./stages/exactDedupStage.js";
// Stages
export { ExactDedupParamsSchema, exactDedupStage } from "./stages/exactDedupStage.js";
export type { NormalizeOptions, NormalizeParams, NormalizeStageParams } from "./stages/normalizeStage.js";
export { NormalizeParamsSchema, normalizeStage, sourceName } from "./stages/normalizeStage.js";
export type { DatasetStats, DistributionSummary } from "./stages/statsStage.js";
export { Distribution, StatsCollector, statsStage } from "./stages/statsStage.js";
export type {
  BackoffConfig,
  ChatChoice,
  ChatClientOptions,
  ChatRequest,
  ChatResponse,
  ChatUsage,
  EndpointFleetOptions,
  EndpointOptions,
  EndpointSpec,
  EndpointState,
  EndpointStats,
  FinalFailure,
  FleetEndpoint,
  HealthCheckConfig,
  JsonRequestSettings,
  PostJsonOptions,
  RetryInfo,
  RouteView,
  TeacherConfig,
  TeacherOptions,
  TeacherParams,
  TeacherStageHooks,
} from "./teacher/index.js";
// Teacher chain-of-thought generation
export {
  backoffDelay,
  chatCacheKey,
  DEFAULT_BACKOFF,
  DEFAULT_HEALTH_CHECK,
  DEFAULT_TEACHER_CONFIG,
  DiskCache,
  EndpointFleet,
  formatEndpointStats,
  isHttpUrl,
  jsonHeaders,
  OpenAIChatClient,
  pickEndpoint,
  postJsonWithRetry,
  R1_PROMPT_TEMPLATE,
  RequestFailure,
  resolveTeacherConfig,
  TeacherRequestError,
  teacherStage,
} from "./teacher/index.js";
export { VERSION } from "./version.js";
export type { ParquetShardWriterOptions, ParquetWriteOptions, ShardedJsonlWriterOptions, ShardInfo } from "./writers/index.js";
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
