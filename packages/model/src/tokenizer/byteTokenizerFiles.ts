// Hugging Face tokenizer files equivalent to a ByteTokenizer, so that a checkpoint of a model trained here with byte
// tokens loads in transformers (`AutoTokenizer`), vLLM and LLaMA-Factory and tokenizes exactly as this package does.
import { BYTE_CHAT_TEMPLATE, type ByteTokenizer } from "./byteTokenizer.js";

/**
 * GPT-2's byte ↔ unicode table (`bytes_to_unicode` in openai/gpt-2 `encoder.py`, used by the tokenizers library's
 * ByteLevel pre-tokenizer): printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards.
 */
export function byteToUnicode(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 0;
  for (let b = 0; b < 256; b++) table.push(String.fromCodePoint(printable(b) ? b : 256 + next++));
  return table;
}

/**
 * `tokenizer.json` and `tokenizer_config.json` of a byte-level BPE with no merges whose 256 base tokens have ids equal
 * to their byte values (GPT-2 byte↔unicode spelling), the tokenizer's special tokens as added tokens with their ids,
 * no normalizer (NFC would change the text), a ByteLevel pre-tokenizer and decoder without prefix space or regex
 * split, and BYTE_CHAT_TEMPLATE as the chat template. Keys as transformers writes them.
 */
export function byteTokenizerFiles(tokenizer: ByteTokenizer): Record<string, string> {
  const vocab: Record<string, number> = {};
  byteToUnicode().forEach((char, byte) => {
    vocab[char] = byte;
  });
  const addedToken = (content: string) => ({ content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: tokenizer.specialTokens.map((content, i) => ({ id: 256 + i, ...addedToken(content) })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
  const eos = tokenizer.specialTokens[tokenizer.eosTokenId - 256] as string;
  const pad = tokenizer.specialTokens[tokenizer.padTokenId - 256] as string;
  const config = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(tokenizer.specialTokens.map((content, i) => [String(256 + i), addedToken(content)])),
    additional_special_tokens: tokenizer.specialTokens.filter((t) => t !== eos && t !== pad),
    bos_token: null,
    chat_template: BYTE_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: eos,
    errors: "replace",
    model_max_length: 1_000_000_000_000_000_000,
    pad_token: pad,
    split_special_tokens: false,
    tokenizer_class: "PreTrainedTokenizerFast",
    unk_token: null,
  };
  return { "tokenizer.json": `${JSON.stringify(tokenizerJson, null, 2)}\n`, "tokenizer_config.json": `${JSON.stringify(config, null, 2)}\n` };
}
