export { syncDir, tempPathFor, writeFileAtomic } from "./atomic.js";
export {
  DEFAULT_ROW_GROUP_SIZE,
  encodeParquet,
  ParquetShardWriter,
  type ParquetShardWriterOptions,
  type ParquetWriteOptions,
  writeParquet,
} from "./parquetWriter.js";
export {
  DEFAULT_SHARD_MAX_BYTES,
  DEFAULT_SHARD_MAX_RECORDS,
  type ShardedJsonlWriterOptions,
  ShardedJsonlWriter,
  type ShardInfo,
  shardFileName,
} from "./shardedJsonlWriter.js";
