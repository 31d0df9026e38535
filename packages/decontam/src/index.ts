// Public API of @infialign/decontam. Every export is named here.

export { loadBenchmark, loadBenchmarkFile, loadShippedBenchmarks, SHIPPED_BENCHMARKS, shippedDataDir } from "./benchmarks/loadBenchmark.js";
export type { BenchmarkItem, LoadBenchmarkFileOptions, ShippedBenchmark } from "./benchmarks/loadBenchmark.js";
export { DEFAULT_NGRAM_INDEX_CONFIG, resolveNgramIndexConfig } from "./ngram/config.js";
export type { NgramIndexConfig } from "./ngram/config.js";
export { NgramIndex } from "./ngram/ngramIndex.js";
export type { CheckResult, NgramMatch } from "./ngram/ngramIndex.js";
export { normalizeForMatch, tokenizeForMatch } from "./normalize/normalizeForMatch.js";
