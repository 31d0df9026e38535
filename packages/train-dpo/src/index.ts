// Public API of @infialign/train-dpo: InfiAlign's DPO on pairs built from the SFT model's own errors — pair
// construction and refinement, the loss table (TRL's DPO losses, SimPO, ORPO, and registerLoss for more), a cached
// reference, LLaMA-Factory export.

export type { CliIo as DpoCliIo } from "./cli/program.js";
export { main as dpoCliMain } from "./cli/program.js";
export type { DpoConfig, DpoConfigInput, DpoLossConfig, DpoLossConfigInput, ReferenceEngine } from "./config.js";
export { DpoConfigSchema, DpoLossConfigSchema, loadDpoConfig, lossTypesOf, REFERENCE_ENGINES, ReferenceConfigSchema, referenceCacheDir, resolveDpoConfig } from "./config.js";
export type { LlamaFactoryDpoConfig, LlamaFactoryDpoExportResult, LlamaFactoryDpoOptions, LlamaFactoryPrefLoss, PreferenceDatasetInfo, SharegptPreferenceRecord } from "./export/llamafactory.js";
export {
  exportLlamaFactoryDpo,
  LLAMAFACTORY_PREF_LOSSES,
  LlamaFactoryDpoConfigSchema,
  llamaFactoryDpoConfig,
  llamaFactoryPreferenceArgs,
  PreferenceDatasetInfoSchema,
  preferenceDatasetInfo,
  SharegptPreferenceRecordSchema,
  stringifyDpoConfig,
  toSharegptPreference,
} from "./export/llamafactory.js";
export type { LlamaFactoryLossMapping, LossOptionProblem, PreferenceLossDefinition, PreferenceLossInputs, PreferenceLossName, PreferenceLossTerm } from "./losses/definition.js";
export type { HyperparameterValues, LossHyperparameter, LossHyperparameters } from "./losses/hyperparameters.js";
export { lossHyperparameters, preferenceLossDefinition, preferenceLosses, registerLoss } from "./losses/table.js";
export type { DpoLossType, ForwardMetrics, PreferenceBatch, PreferenceLossOptions, PreferenceLossResult, PreferenceLossType, PreferenceMetrics, ResolvedPreferenceLossOptions } from "./losses.js";
export {
  DEFAULT_PREFERENCE_LOSS_OPTIONS,
  DPO_LOSS_TYPES,
  needsReference,
  preferenceLoss,
  preferenceMetrics,
  REFERENCE_FREE_LOSS_TYPES,
  RunningMean,
  resolvePreferenceLossOptions,
} from "./losses.js";
export type { PairConfig } from "./pairs/config.js";
export { DEFAULT_JUDGE_RUBRIC, DEFAULT_PAIR_CONFIG, resolvePairConfig } from "./pairs/config.js";
export type { CleaningReason, PairRejectCode, PairStageDeps, PairStageParams, PreferenceMeta, PreferenceRecord, SampleAudit } from "./pairs/pairStage.js";
export { CLEANING_REASONS, pairConstructionStage, promptMessages } from "./pairs/pairStage.js";
export { PreferenceRecordSchema, readPreferenceRecords } from "./pairs/readPairs.js";
export { ngramRepetition } from "./pairs/repetition.js";
export type { LocalSamplerOptions, OpenAISamplerOptions, ResponseSampler, SampledResponse, SampleRequest, SamplingSettings } from "./pairs/samplers.js";
export { localSampler, openAISampler } from "./pairs/samplers.js";
export type { PairVerdict, PairVerifier } from "./pairs/verifier.js";
export { defaultVerifier, UNCERTAIN_REASONS } from "./pairs/verifier.js";
export type { RefLogpCacheOptions, RefLogpCacheStats, RefScoreItem, RefScorer } from "./refCache.js";
export { RefLogpCache } from "./refCache.js";
export type { ReferenceLogps, ReferenceReport, TokenizedPair, TokenizePairOptions, TrainDpoOptions, TrainDpoResult } from "./trainer.js";
export { PairBatchSource, readPairs, tokenizePair, trainDpo } from "./trainer.js";
