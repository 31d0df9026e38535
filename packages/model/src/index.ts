// Public API of @infialign/model. Built so far (issue 5): the byte-level tokenizer for small models trained from scratch.
export type { ByteTokenizerOptions } from "./tokenizer/byteTokenizer.js";
export { BYTE_CHAT_TEMPLATE, ByteTokenizer, DEFAULT_BYTE_SPECIAL_TOKENS } from "./tokenizer/byteTokenizer.js";
