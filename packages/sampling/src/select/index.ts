// Public API of the selection area (quality control, near-dup, difficulty, selection, report); src/index.ts re-exports it.

export type { DifficultyBuckets } from "./difficulty.js";
export { difficultyBuckets, passRateOf, responseTokens } from "./difficulty.js";
export type { QualityOptions, QualityReason, QualityVerdict, ResolvedQualityOptions } from "./quality.js";
export { checkQuality, checkQualityResolved, finalAnswerOf, QUALITY_REASONS, resolveQualityOptions } from "./quality.js";
export type { WaterFillBin } from "./quotas.js";
export { seededHash, waterFill } from "./quotas.js";
export type { RepetitionStats, RepetitionThresholds } from "./repetition.js";
export { DEFAULT_REPETITION_THRESHOLDS, GOPHER_REPETITION_THRESHOLDS, repetitionStats, repetitionViolation } from "./repetition.js";
export type { BuildSelectionReportInput, DomainClustering, DomainReport, SelectionReport } from "./report.js";
export { buildSelectionReport } from "./report.js";
export type { SelectionReportHtmlOptions } from "./reportHtml.js";
export { renderSelectionReportHtml } from "./reportHtml.js";
export type { DomainSelectionStats, SelectionConfig, SelectionDropReason, SelectionItem, SelectionResult } from "./selectSubset.js";
export { resolveBudget, selectSubset } from "./selectSubset.js";
export type { NearDupParams, NearDupStageOptions } from "./stages/nearDupStage.js";
export { nearDupStage, resolveNearDupParams } from "./stages/nearDupStage.js";
export type { QualityStageOptions } from "./stages/qualityStage.js";
export { qualityStage } from "./stages/qualityStage.js";
export type { SelectParams, SelectStageOptions } from "./stages/selectStage.js";
export { DEFAULT_FIT_SAMPLE, selectStage } from "./stages/selectStage.js";
