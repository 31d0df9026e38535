// A Hugging Face tokenizer directory (tokenizer.json + tokenizer_config.json + generation_config.json) as a
// ModelTokenizer: the tokenization itself is @huggingface/tokenizers (the library @infialign/data uses), the chat
// template is @infialign/data's ChatTemplate (transformers' Jinja settings).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { ChatTemplate, type ChatTemplateMessage } from "@infialign/data";
import type { ModelTokenizer } from "../engine.js";
import { ModelError } from "../errors.js";
import { byteToUnicode } from "./byteTokenizerFiles.js";

/** The surface of `@huggingface/tokenizers`' Tokenizer used here. */
interface LibraryTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
  get_added_tokens_decoder(): Map<number, { content: string }>;
}
type LibraryTokenizerClass = new (tokenizerJson: object, tokenizerConfig: object) => LibraryTokenizer;

function tokenizerLibrary(): LibraryTokenizerClass {
  return Tokenizer as unknown as LibraryTokenizerClass;
}

/** Raw file contents a tokenizer was built from, by file name (what saveCheckpoint copies into a checkpoint). */
export type TokenizerFiles = Record<string, string>;

/** Files of a tokenizer directory that are read (when present) and carried into saved checkpoints. */
export const TOKENIZER_FILE_NAMES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"] as const;

type Json = Record<string, unknown>;

/** A token given as a string or as an AddedToken object (`{ "content": "<|im_end|>", … }`). */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { content?: unknown }).content === "string") return (value as { content: string }).content;
  return undefined;
}

function parseJson(text: string, file: string, dir: string): Json {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelError("hf-tokenizer", `${join(dir, file)} is not valid JSON (${error instanceof Error ? error.message : String(error)}).`, { cause: error });
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new ModelError("hf-tokenizer", `${join(dir, file)} must hold a JSON object.`);
  return json as Json;
}

/**
 * A Hugging Face tokenizer with its chat template and stop tokens, resolved as transformers and vLLM resolve them:
 * - `eosTokenIds`: generation_config.json `eos_token_id` (one id or a list), then tokenizer_config.json `eos_token`;
 * - `padTokenId`: tokenizer_config.json `pad_token`, else generation_config.json `pad_token_id`, else the first EOS id;
 * - chat template: tokenizer_config.json `chat_template` (a string, or the entry named "default" of a list), else a
 *   `chat_template.jinja` file; its special tokens (`bos_token`, `eos_token`, …) are template variables.
 */
export class HfTokenizer implements ModelTokenizer {
  readonly name: string;
  /** Highest token id + 1 (base vocabulary and added tokens; the model's embedding table may be larger). */
  readonly vocabSize: number;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number;
  /** The chat template, or undefined when the tokenizer has none (then `encodeChat` throws). */
  readonly chatTemplate: ChatTemplate | undefined;
  /** The files this tokenizer was built from, unchanged (saveCheckpoint writes them into checkpoints). */
  readonly files: Readonly<TokenizerFiles>;
  private readonly tokenizer: LibraryTokenizer;
  private readonly tokenizerJson: Json;
  private readonly config: Json;
  private plainTokenizer: LibraryTokenizer | undefined;
  private readTokenBytes: ((id: number, token: string) => Uint8Array) | undefined;
  private longestTokenBytes: number | null | undefined;
  private readonly templateVars: Record<string, string> = {};

  /**
   * @param files contents by file name: `tokenizer.json` is required; `tokenizer_config.json`, `generation_config.json`,
   *   `chat_template.jinja` are used when present
   * @param source directory (or label) named in error messages and used as `name`
   */
  constructor(files: TokenizerFiles, source = "<memory>") {
    const tokenizerText = files["tokenizer.json"];
    if (tokenizerText === undefined) throw new ModelError("hf-tokenizer", `${source}: no tokenizer.json (a Hugging Face fast-tokenizer file is required; slow vocab.json/merges.txt tokenizers are not supported).`);
    this.name = source;
    this.files = Object.fromEntries(Object.entries(files).filter(([name]) => name !== "generation_config.json"));
    this.tokenizerJson = parseJson(tokenizerText, "tokenizer.json", source);
    this.config = files["tokenizer_config.json"] === undefined ? {} : parseJson(files["tokenizer_config.json"], "tokenizer_config.json", source);
    const generation = files["generation_config.json"] === undefined ? {} : parseJson(files["generation_config.json"], "generation_config.json", source);
    try {
      this.tokenizer = new (tokenizerLibrary())(this.tokenizerJson, this.config);
    } catch (error) {
      if (error instanceof ModelError) throw error;
      throw new ModelError("hf-tokenizer", `${join(source, "tokenizer.json")}: cannot build the tokenizer (${error instanceof Error ? error.message : String(error)}).`, { cause: error });
    }
    let maxId = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    const idOf = (field: string, file: string, token: string): number => {
      const id = this.tokenizer.token_to_id(token);
      if (id === undefined) throw new ModelError("hf-tokenizer", `${join(source, file)}: ${field} ${JSON.stringify(token)} is not in the vocabulary of tokenizer.json.`);
      return id;
    };
    const eos: number[] = [];
    const generationEos = generation.eos_token_id;
    for (const id of Array.isArray(generationEos) ? generationEos : generationEos === undefined || generationEos === null ? [] : [generationEos]) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new ModelError("hf-tokenizer", `${join(source, "generation_config.json")}: eos_token_id must be token ids below ${this.vocabSize}; got ${JSON.stringify(generationEos)}.`);
      if (!eos.includes(id)) eos.push(id);
    }
    const eosToken = tokenContent(this.config.eos_token);
    if (eosToken !== undefined) {
      const id = idOf("eos_token", "tokenizer_config.json", eosToken);
      if (!eos.includes(id)) eos.push(id);
    }
    this.eosTokenIds = eos;
    const padToken = tokenContent(this.config.pad_token);
    const generationPad = generation.pad_token_id;
    if (padToken !== undefined) this.padTokenId = idOf("pad_token", "tokenizer_config.json", padToken);
    else if (Number.isInteger(generationPad)) this.padTokenId = generationPad as number;
    else if (eos[0] !== undefined) this.padTokenId = eos[0];
    else throw new ModelError("hf-tokenizer", `${source}: no pad_token (tokenizer_config.json), pad_token_id or eos_token_id (generation_config.json); batching needs a padding id.`);

    for (const key of ["bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"]) {
      const token = tokenContent(this.config[key]);
      if (token !== undefined) this.templateVars[key] = token;
    }
    this.chatTemplate = this.loadTemplate(files, source);
  }

  private loadTemplate(files: TokenizerFiles, source: string): ChatTemplate | undefined {
    const raw = this.config.chat_template;
    let template: string | undefined;
    if (typeof raw === "string") template = raw;
    else if (Array.isArray(raw)) {
      const named = raw.find((t) => t && typeof t === "object" && t.name === "default" && typeof t.template === "string") as { template: string } | undefined;
      if (!named) throw new ModelError("hf-tokenizer", `${join(source, "tokenizer_config.json")}: chat_template is a list without an entry named "default".`);
      template = named.template;
    } else template = files["chat_template.jinja"];
    if (template === undefined) return undefined;
    try {
      return ChatTemplate.fromString(template);
    } catch (error) {
      throw new ModelError("hf-tokenizer", `${source}: cannot parse the chat template (${error instanceof Error ? error.message : String(error)}).`, { cause: error });
    }
  }

  /**
   * Raw bytes of a token, from the vocabulary as the decoder reads it: byte-level BPE (GPT-2's byte↔unicode spelling),
   * `<0xNN>` byte-fallback tokens, SentencePiece's `▁` as a space; an added token's content as UTF-8.
   */
  tokenBytes(id: number): Uint8Array {
    const token = Number.isInteger(id) ? this.tokenizer.id_to_token(id) : undefined;
    if (token === undefined) throw new ModelError("hf-tokenizer", `${this.name}: token id ${id} is outside the vocabulary (0–${this.vocabSize - 1}).`);
    this.readTokenBytes ??= this.tokenBytesReader();
    return this.readTokenBytes(id, token);
  }

  /**
   * The longest token in bytes, times 3 with an NFC/NFKC normaliser (composition shrinks text at most threefold: three
   * Hangul jamo, 9 bytes, become one 3-byte syllable); `undefined` with any other normaliser. Computed once, lazily.
   */
  get maxBytesPerToken(): number | undefined {
    if (this.longestTokenBytes === undefined) {
      const normalizer = this.tokenizerJson.normalizer as { type?: string } | null | undefined;
      const factor = normalizer == null ? 1 : normalizer.type === "NFC" || normalizer.type === "NFKC" ? 3 : undefined;
      let longest = 1;
      if (factor !== undefined) for (let id = 0; id < this.vocabSize; id++) if (this.tokenizer.id_to_token(id) !== undefined) longest = Math.max(longest, this.tokenBytes(id).length);
      this.longestTokenBytes = factor === undefined ? null : longest * factor;
    }
    return this.longestTokenBytes ?? undefined;
  }

  private tokenBytesReader(): (id: number, token: string) => Uint8Array {
    const encoder = new TextEncoder();
    const added = new Set(this.tokenizer.get_added_tokens_decoder().keys());
    const read = this.vocabBytesReader();
    return (id, token) => (added.has(id) ? encoder.encode(token) : read(token));
  }

  private vocabBytesReader(): (token: string) => Uint8Array {
    const encoder = new TextEncoder();
    const decoder = this.tokenizerJson.decoder as { type?: string; decoders?: { type?: string; replacement?: string }[]; replacement?: string } | null | undefined;
    const decoders = decoder?.type === "Sequence" ? (decoder.decoders ?? []) : decoder ? [decoder] : [];
    if (decoders.some((d) => d.type === "ByteLevel")) {
      const byteOf = new Map(byteToUnicode().map((char, byte) => [char, byte]));
      return (token) => {
        const bytes: number[] = [];
        for (const char of token) {
          const byte = byteOf.get(char);
          if (byte !== undefined) bytes.push(byte);
          else bytes.push(...encoder.encode(char));
        }
        return Uint8Array.from(bytes);
      };
    }
    const byteFallback = decoders.some((d) => d.type === "ByteFallback");
    const replacement = decoders.find((d) => d.type === "Metaspace")?.replacement ?? "▁";
    return (token) => {
      const fallback = byteFallback ? /^<0x([0-9A-Fa-f]{2})>$/.exec(token) : null;
      if (fallback) return Uint8Array.of(Number.parseInt(fallback[1] as string, 16));
      return encoder.encode(token.replaceAll(replacement, " "));
    };
  }

  /** Id of a token string (base or added), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /**
   * Token ids of `text`, without BOS/EOS (as transformers' `encode(add_special_tokens=False)`). With `allowSpecial:
   * false`, special-token strings in the text are tokenized as ordinary text (transformers' `split_special_tokens`).
   */
  encode(text: string, options: { allowSpecial?: boolean } = {}): number[] {
    if (!text) return [];
    const tokenizer = options.allowSpecial === false ? this.plain() : this.tokenizer;
    return tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Text of `ids` (`skipSpecialTokens` drops special tokens, as transformers' `skip_special_tokens`). */
  decode(ids: Iterable<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const list = [...ids];
    for (const id of list) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new ModelError("hf-tokenizer", `${this.name}: token id ${id} is outside the vocabulary (0–${this.vocabSize - 1}).`);
    }
    if (list.length === 0) return "";
    return this.tokenizer.decode(list, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /**
   * Renders `messages` with the chat template (transformers' `apply_chat_template(tokenize=False)`) and encodes the
   * text with special tokens recognised, as `apply_chat_template(tokenize=True)` does.
   */
  encodeChat(messages: readonly ChatTemplateMessage[], options: { addGenerationPrompt?: boolean; tools?: readonly unknown[] } = {}): number[] {
    return this.encode(this.renderChat(messages, options));
  }

  /** The text `encodeChat` encodes (transformers' `apply_chat_template(tokenize=False)`). */
  renderChat(messages: readonly ChatTemplateMessage[], options: { addGenerationPrompt?: boolean; tools?: readonly unknown[] } = {}): string {
    if (!this.chatTemplate) throw new ModelError("hf-tokenizer", `${this.name}: the tokenizer has no chat template (tokenizer_config.json "chat_template" or chat_template.jinja); add one to use chat messages.`);
    return this.chatTemplate.render({
      ...this.templateVars,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      ...(options.tools ? { tools: options.tools } : {}),
    });
  }

  /** The same tokenizer without its special added tokens, so their strings are split like any text. */
  private plain(): LibraryTokenizer {
    if (!this.plainTokenizer) {
      const added = Array.isArray(this.tokenizerJson.added_tokens) ? (this.tokenizerJson.added_tokens as { special?: unknown }[]) : [];
      this.plainTokenizer = new (tokenizerLibrary())({ ...this.tokenizerJson, added_tokens: added.filter((t) => t.special !== true) }, this.config);
    }
    return this.plainTokenizer;
  }
}

/**
 * Loads the tokenizer of a Hugging Face model directory: `tokenizer.json` (required), `tokenizer_config.json`,
 * `generation_config.json`, `special_tokens_map.json` and `chat_template.jinja` when present.
 */
export async function loadModelTokenizer(dir: string): Promise<ModelTokenizer> {
  return loadHfTokenizer(dir);
}

/** {@link loadModelTokenizer} with the concrete type (for `files`, `tokenToId` and `encodeChat`'s `tools`). */
export async function loadHfTokenizer(dir: string): Promise<HfTokenizer> {
  if (!existsSync(join(dir, "tokenizer.json"))) {
    throw new ModelError("hf-tokenizer", `${dir}: no tokenizer.json; pass a Hugging Face model directory (with tokenizer.json, tokenizer_config.json).`);
  }
  const files: TokenizerFiles = {};
  for (const name of [...TOKENIZER_FILE_NAMES, "generation_config.json"]) {
    const path = join(dir, name);
    if (existsSync(path)) files[name] = await readFile(path, "utf8");
  }
  return new HfTokenizer(files, dir);
}
