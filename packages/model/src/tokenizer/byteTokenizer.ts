import { ChatTemplate, type ChatTemplateMessage } from "@infialign/data";
import type { ModelTokenizer } from "../engine.js";

/** ChatML, the layout of Qwen2.5's template without tools: what small models trained from scratch learn to follow. */
export const BYTE_CHAT_TEMPLATE =
  "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/** Special tokens after the 256 byte ids, in id order. @default end-of-text, ChatML turn markers, padding */
export const DEFAULT_BYTE_SPECIAL_TOKENS: readonly string[] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"];

export interface ByteTokenizerOptions {
  /** Special tokens, given ids 256, 257, …; each must be non-empty and unique. @default DEFAULT_BYTE_SPECIAL_TOKENS */
  specialTokens?: readonly string[];
  /** End-of-sequence token (generation stops on it). @default "<|im_end|>" */
  eosToken?: string;
  /** Padding token. @default "<|pad|>" */
  padToken?: string;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Byte-level tokenizer for small models trained from scratch: ids 0–255 are the UTF-8 bytes of the text, ids from 256
 * on are special tokens. Every string round-trips exactly; the vocabulary is 256 + specials, so the embedding and
 * LM-head tables stay tiny. Hand-written: no library ships a byte tokenizer with special tokens and a chat template.
 */
export class ByteTokenizer implements ModelTokenizer {
  readonly name = "byte";
  readonly specialTokens: readonly string[];
  readonly eosTokenId: number;
  readonly padTokenId: number;
  /** The EOS token, plus `<|endoftext|>` when it is a special token: a chat model ends its turn with either. */
  readonly eosTokenIds: readonly number[];
  readonly chatTemplate = ChatTemplate.fromString(BYTE_CHAT_TEMPLATE);
  private readonly specialIds: Map<string, number>;
  private readonly specialPattern: RegExp | undefined;
  private readonly encoder = new TextEncoder();

  constructor(options: ByteTokenizerOptions = {}) {
    const specials = options.specialTokens ?? DEFAULT_BYTE_SPECIAL_TOKENS;
    const seen = new Set<string>();
    for (const s of specials) {
      if (!s || seen.has(s)) throw new Error(`[infialign/model] byte-tokenizer: special token ${JSON.stringify(s)} is empty or repeated; pass distinct non-empty strings`);
      seen.add(s);
    }
    this.specialTokens = [...specials];
    this.specialIds = new Map(specials.map((s, i) => [s, 256 + i]));
    // Longest first, so a special token that contains another one wins.
    const sorted = [...specials].sort((a, b) => b.length - a.length);
    this.specialPattern = sorted.length ? new RegExp(`(${sorted.map(escapeRegExp).join("|")})`) : undefined;
    this.eosTokenId = this.idOf(options.eosToken ?? "<|im_end|>", "eosToken");
    this.padTokenId = this.idOf(options.padToken ?? "<|pad|>", "padToken");
    const endOfText = this.specialIds.get("<|endoftext|>");
    this.eosTokenIds = endOfText === undefined || endOfText === this.eosTokenId ? [this.eosTokenId] : [this.eosTokenId, endOfText];
  }

  get vocabSize(): number {
    return 256 + this.specialTokens.length;
  }

  /** A token covers one byte, or a special token's string: the longest special token bounds the bytes per token. */
  get maxBytesPerToken(): number {
    return Math.max(1, ...this.specialTokens.map((s) => this.encoder.encode(s).length));
  }

  /** Raw bytes of a token: the byte itself for ids 0–255 (possibly part of a UTF-8 character), a special token's UTF-8. */
  tokenBytes(id: number): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new Error(`[infialign/model] byte-tokenizer: token id ${id} is outside the vocabulary (0–${this.vocabSize - 1})`);
    return id < 256 ? Uint8Array.of(id) : this.encoder.encode(this.specialTokens[id - 256] as string);
  }

  /** Token ids of `text`; special-token strings become their ids unless `allowSpecial` is false (then they are bytes). */
  encode(text: string, options: { allowSpecial?: boolean } = {}): number[] {
    const pieces = options.allowSpecial === false || !this.specialPattern ? [text] : text.split(this.specialPattern);
    const ids: number[] = [];
    for (const piece of pieces) {
      const special = this.specialIds.get(piece);
      if (special !== undefined && options.allowSpecial !== false) ids.push(special);
      else for (const byte of this.encoder.encode(piece)) ids.push(byte);
    }
    return ids;
  }

  /** Text of `ids`; invalid UTF-8 (e.g. a cut multi-byte character) decodes to U+FFFD, as transformers does. */
  decode(ids: Iterable<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const decoder = this.createStreamDecoder(options);
    let out = "";
    for (const id of ids) out += decoder.push(id);
    return out + decoder.flush();
  }

  /**
   * Incremental decoder for generation: `push(id)` returns the text completed by that token, holding back the bytes of
   * a multi-byte character until it is whole, so streamed text never shows a broken character.
   */
  createStreamDecoder(options: { skipSpecialTokens?: boolean } = {}): { push(id: number): string; flush(): string } {
    // ignoreBOM keeps a leading U+FEFF (the default strips it, and text must round-trip exactly).
    const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
    const vocab = this.vocabSize;
    const specials = this.specialTokens;
    return {
      push: (id: number): string => {
        if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`[infialign/model] byte-tokenizer: token id ${id} is outside the vocabulary (0–${vocab - 1})`);
        if (id < 256) return decoder.decode(Uint8Array.of(id), { stream: true });
        const pending = decoder.decode();
        return options.skipSpecialTokens ? pending : pending + (specials[id - 256] as string);
      },
      flush: (): string => decoder.decode(),
    };
  }

  /** Renders `messages` with the ChatML template (see BYTE_CHAT_TEMPLATE) and encodes the result. */
  encodeChat(messages: readonly ChatTemplateMessage[], options: { addGenerationPrompt?: boolean } = {}): number[] {
    return this.encode(this.renderChat(messages, options));
  }

  /** The ChatML text `encodeChat` encodes. */
  renderChat(messages: readonly ChatTemplateMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    return this.chatTemplate.render({ messages, add_generation_prompt: options.addGenerationPrompt ?? false });
  }

  private idOf(token: string, option: string): number {
    const id = this.specialIds.get(token);
    if (id === undefined) throw new Error(`[infialign/model] byte-tokenizer: ${option} ${JSON.stringify(token)} is not among the special tokens (${this.specialTokens.join(", ")})`);
    return id;
  }
}
