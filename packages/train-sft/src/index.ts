// Public API of @infialign/train-sft: curriculum SFT on @infialign/model (data preparation, packing, the shared
// training loop that @infialign/train-dpo also uses, checkpoints, metrics) and the LLaMA-Factory export for 7B scale.

export type { SftCliIo } from "./cli/program.js";
export { main as sftCliMain, SFT_USAGE } from "./cli/program.js";
export type { ConfigFile } from "./configFile.js";
export { parseConfig, readConfigFile } from "./configFile.js";
export type { CheckpointModel, DataCursor, LoadedCheckpointModel, LogEntry, LossState, RngState, SaveTrainingCheckpointOptions, TrainerState, TrainingCheckpoint } from "./core/checkpoint.js";
export {
  CHECKPOINT_PREFIX,
  createTrainerState,
  DATA_CURSOR_NAME,
  LOSS_STATE_NAME,
  latestCheckpoint,
  listCheckpoints,
  loadTrainingCheckpoint,
  OPTIMIZER_NAME,
  RNG_STATE_NAME,
  readCheckpointModel,
  readOptimizerState,
  restoreCheckpointModel,
  rotateCheckpoints,
  saveTrainingCheckpoint,
  TRAINER_STATE_NAME,
  writeOptimizerState,
} from "./core/checkpoint.js";
export { TrainingError } from "./core/errors.js";
export type { ClipResult, NamedGrads } from "./core/gradients.js";
export { clipGradNorm, countItemsInBatch, GradientAccumulator, globalNorm } from "./core/gradients.js";
export type { GuardObservation, NonFiniteGuardOptions } from "./core/guard.js";
export { NonFiniteGuard } from "./core/guard.js";
export type { GradientOutput, LossContext, LossOutput, MicroBatchSource, TrainLoopOptions, TrainLoopResult } from "./core/loop.js";
export { trainLoop } from "./core/loop.js";
export type { Clock, MetricsLoggerOptions, MetricsRecord, TrainProgress } from "./core/metrics.js";
export { createTrainProgress, MetricsLogger, readMetrics, systemClock, ThroughputMeter } from "./core/metrics.js";
export type { AdamWOptions, AdamWState } from "./core/optimizer.js";
export { AdamW, defaultDecayPredicate, NO_DECAY_PATTERNS } from "./core/optimizer.js";
export type { LrSchedule, ScheduleOptions, ScheduleType } from "./core/schedule.js";
export { createSchedule, SCHEDULE_TYPES, warmupStepsFor } from "./core/schedule.js";
export type { NamedVariables } from "./core/tensors.js";
export { assignHostTensors, toHostTensors } from "./core/tensors.js";
export type {
  CurriculumConfig,
  CurriculumConfigInput,
  DataSelection,
  InfialignRecipeOptions,
  LoraOptions as SftLoraOptions,
  OptimizerConfig,
  PhaseConfig,
  RecipeScale,
} from "./curriculum.js";
export {
  CurriculumConfigSchema,
  DataSelectionSchema,
  DEFAULT_PHASE,
  infialignRecipe,
  LoraOptionsSchema,
  loadCurriculumConfig,
  OptimizerSchema,
  PhaseSchema,
  RECIPE_SCALES,
  resolveCurriculumConfig,
} from "./curriculum.js";
export type { BatchRow, PadBatchOptions, TrainingBatch } from "./data/batch.js";
export { padBatch, padFreeBatch } from "./data/batch.js";
export type { PackableSequence, PackedDocument, PackedRow, PackingReport, PackingStrategy, PackOptions, PackPiece, PackResult } from "./data/packing.js";
export { bestFitDecreasing, PACKING_STRATEGIES, packSequences } from "./data/packing.js";
export type { SelectionReport, SelectSamplesOptions } from "./data/selectSamples.js";
export { selectSamples } from "./data/selectSamples.js";
export type { SampleConversation, TokenizedSample, TokenizeOptions } from "./data/tokenize.js";
export { assistantContent, IGNORE_INDEX, sampleConversation, tokenizeSample, tokenizeSamples } from "./data/tokenize.js";
export type {
  DatasetInfoEntry,
  ExportPhase,
  LlamaFactoryExportOptions,
  LlamaFactoryExportResult,
  LlamaFactoryTrainConfig,
  SharegptRecord,
  SharegptRole,
  SharegptTurn,
  WriteJsonlOptions,
} from "./export/llamafactory.js";
export {
  DatasetColumnsSchema,
  DatasetInfoEntrySchema,
  DatasetTagsSchema,
  DS_Z3_CONFIG,
  exportLlamaFactory,
  LlamaFactoryTrainConfigSchema,
  pyYamlNumber,
  SHAREGPT_TAGS,
  SharegptRecordSchema,
  SharegptTurnSchema,
  sharegptDatasetInfo,
  stringifyLlamaFactoryConfig,
  toSharegptMessages,
  toSharegptRecord,
  writeDatasetInfo,
  writeJsonl,
} from "./export/llamafactory.js";
export type { SftPhaseMetrics } from "./report/sftReport.js";
export { renderSftReportHtml } from "./report/sftReport.js";
export type { ChartMarker, LineChartBlock, LineSeries, ReportBlock, ReportSection, TableBlock, TextBlock, TrainingReportOptions } from "./report/trainingReport.js";
export { escapeHtml, formatNumber, lineChartSvg, REPORT_PALETTE, renderTrainingReportHtml } from "./report/trainingReport.js";
export type { SftBatchSourceOptions } from "./trainer/batches.js";
export { countLossTokens, SftBatchSource, toCausalLmBatch } from "./trainer/batches.js";
export type { SftBatchingReport, SftPhaseSummary, SftRunSummary } from "./trainer/summary.js";
export { PHASE_SUMMARY_NAME, REPORT_NAME, RUN_SUMMARY_NAME } from "./trainer/summary.js";
export type { TrainSftOptions } from "./trainer.js";
export { trainSft } from "./trainer.js";
