export { parseCsvChunks, readCsv } from "./csv.js";
export { type Compression, compressionFromPath, createZstdDecompress, openDecompressed } from "./decompress.js";
export { boundedJsonValue, DEFAULT_MAX_DEPTH, exceedsJsonDepth } from "./jsonDepth.js";
export { parseJsonArrayChunks, readJsonArray } from "./jsonArray.js";
export { DEFAULT_MAX_RECORD_BYTES, parseJsonlChunks, readJsonl } from "./jsonl.js";
export { PARQUET_JSON_COLUMNS_KEY, readParquet } from "./parquet.js";
export { readRecords } from "./readRecords.js";
export { detectFormat, type ResolveInputsOptions, resolveInputs, splitOf } from "./resolveInputs.js";
export type { InputFile, InputFormat, ReadOptions, RecordStream } from "./types.js";
