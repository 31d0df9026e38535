// Public API of @infialign/decontam. Every export is named here.

export type { BenchmarkItem, LoadBenchmarkFileOptions, ShippedBenchmark } from "./benchmarks/loadBenchmark.js";
export { loadBenchmark, loadBenchmarkFile, loadShippedBenchmarks, SHIPPED_BENCHMARKS, shippedDataDir } from "./benchmarks/loadBenchmark.js";
export { loadGpqa, loadLiveCodeBench, loadMmluPro } from "./benchmarks/userBenchmarks.js";
export type { BenchmarkSetIdentity } from "./config/benchmarkSetIdentity.js";
export { benchmarkSetIdentity } from "./config/benchmarkSetIdentity.js";
export type { CheckResult, DecontaminatorBuildOptions, DecontaminatorConfig, DecontaminatorOptions, Match } from "./decontaminator.js";
export { DEFAULT_DECONTAMINATOR_CONFIG, Decontaminator, resolveDecontaminatorConfig } from "./decontaminator.js";
export type { EmbeddingIndexConfig, EmbeddingMatch, TextEmbedder } from "./embedding/index.js";
export { DEFAULT_EMBEDDING_INDEX_CONFIG, EmbeddingIndex, resolveEmbeddingIndexConfig } from "./embedding/index.js";
export type { ParaphraseBuildOptions, ParaphraseIndexConfig, ParaphraseMatch } from "./fuzzy/index.js";
export { canonicalTokens, DEFAULT_PARAPHRASE_INDEX_CONFIG, ParaphraseIndex, resolveParaphraseIndexConfig } from "./fuzzy/index.js";
export type { MinHashConfig, NearDuplicateOptions, NearDuplicateResult } from "./minhash/index.js";
export {
  collisionProbability,
  DEFAULT_MINHASH_CONFIG,
  EMPTY_SIGNATURE_VALUE,
  estimateJaccard,
  findNearDuplicates,
  LshIndex,
  lshBandHash,
  lshThreshold,
  MinHasher,
  resolveMinHashConfig,
} from "./minhash/index.js";
export type { NgramIndexConfig } from "./ngram/config.js";
export { DEFAULT_NGRAM_INDEX_CONFIG, resolveNgramIndexConfig } from "./ngram/config.js";
export type { CheckResult as NgramCheckResult, NgramBuildOptions, NgramMatch } from "./ngram/ngramIndex.js";
export { NgramIndex } from "./ngram/ngramIndex.js";
export type { MarkedWords } from "./normalize/normalizeForMatch.js";
export { DRAWING_CODE, normalizeForMatch, tokenizeForMatch, tokenizeMarkingCode } from "./normalize/normalizeForMatch.js";
export type {
  BenchmarkDecontamStageOptions,
  DecontamChecker,
  DecontamEvidence,
  DecontamField,
  DecontamMatch,
  DecontamStageOptions,
  DecontamStageParams,
  IdentifiedDecontamChecker,
  LazyDecontamChecker,
} from "./stage/decontamStage.js";
export { benchmarkDecontamStage, DECONTAM_FIELDS, DEFAULT_LEARN_RECORDS, decontamStage } from "./stage/decontamStage.js";
