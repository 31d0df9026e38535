export type { EmbeddingIndexConfig, EmbeddingMatch, TextEmbedder } from "./embeddingIndex.js";
export { DEFAULT_EMBEDDING_INDEX_CONFIG, EmbeddingIndex, resolveEmbeddingIndexConfig } from "./embeddingIndex.js";
