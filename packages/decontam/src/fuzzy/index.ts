export { canonicalTokens, VARIABLE } from "./canonicalize.js";
export type { ParaphraseIndexConfig } from "./config.js";
export { DEFAULT_PARAPHRASE_INDEX_CONFIG, resolveParaphraseIndexConfig } from "./config.js";
export type { ParaphraseBuildOptions, ParaphraseMatch } from "./paraphraseIndex.js";
export { ParaphraseIndex } from "./paraphraseIndex.js";
