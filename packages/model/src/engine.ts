// Contracts between the parts of @infialign/model: weights on the host, the decode step that both inference engines
// (tfjs and onnxruntime) implement, tokenizers, and generation. Kept in one dependency-free file so that each part can
// be built and tested against the interface alone.
import type { ChatTemplateMessage } from "@infialign/data";

/** A float32 tensor on the host, row-major. Checkpoint readers return these; engines build their weights from them. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Tensors by Hugging Face parameter name (`model.layers.0.self_attn.q_proj.weight`, …), in HF shapes (`[out, in]`). */
export type NamedTensors = Map<string, HostTensor>;

/** Keys and values of the positions a decode step has already seen; engine-specific, freed with `dispose()`. */
export interface KvCache {
  /** Key positions held per row (real tokens and padding). */
  readonly length: number;
  /** Rows held. */
  readonly batch: number;
  dispose(): void;
}

/** One forward pass over new tokens of a batch, on top of an optional cache. */
export interface StepInput {
  /** New token ids, int32 row-major `[batch, newTokens]`. Padding slots hold any valid id (masked out by `keyMask`). */
  ids: Int32Array;
  batch: number;
  newTokens: number;
  /**
   * Position id of every new token, `[batch, newTokens]`. Positions count the real tokens of a row only, so a left-padded
   * prompt starts at 0 at its first real token (as transformers derives them from the attention mask).
   */
  positionIds: Int32Array;
  /** 1 = real token, 0 = padding, for every key position (the cache's, then the new ones): `[batch, cacheLength + newTokens]`. */
  keyMask: Uint8Array;
  /** Past keys and values; `undefined` = no past. The step does not dispose it (the caller does). */
  cache?: KvCache;
  /** Return logits of every new position (for scoring) instead of only the last one. @default false */
  allLogits?: boolean;
}

export interface StepOutput {
  /** float32 `[batch, vocab]` (last new position of each row), or `[batch, newTokens, vocab]` with `allLogits`. */
  logits: Float32Array;
  /** The input cache extended by the new positions (a new object; the caller disposes both). */
  cache: KvCache;
}

/** What generation and scoring need from a causal LM: the tfjs model and the onnxruntime engine both implement it. */
export interface DecodeModel {
  readonly vocabSize: number;
  /** Longest sequence (prompt + generated) the model accepts (`max_position_embeddings`). */
  readonly maxPositions: number;
  step(input: StepInput): Promise<StepOutput>;
  /** A cache holding only `rows` of `cache`, in that order (rows may repeat: n samples per prompt). Does not dispose `cache`. */
  selectRows(cache: KvCache, rows: readonly number[]): KvCache;
  /**
   * One cache of `length` key positions holding the rows of every part, in order (rows may repeat). Each row keeps its
   * last `length` positions, right-aligned: a shorter part is left-padded (with finite values the caller masks out in
   * `keyMask`), and a longer one loses its first positions (which must be padding in the rows taken). So caches of
   * different lengths join one batch (continuous batching) and padding every row shares is dropped. Does not dispose
   * the parts. Optional for other implementations; both engines implement it, and continuous serving needs it.
   */
  mergeCaches?(parts: readonly CacheRows[], length: number): KvCache;
}

/** Rows `rows` of `cache`, in that order: one part of {@link DecodeModel.mergeCaches}. */
export interface CacheRows {
  cache: KvCache;
  rows: readonly number[];
  /**
   * Real (unmasked) key positions of each taken row, which are its last ones: the padding before them need not be
   * copied, and an engine may leave it holding any finite values. @default the cache's length (copy every position)
   */
  lengths?: readonly number[];
}

/** The tokenizer surface generation, serving and training use; `ByteTokenizer` and the Hugging Face tokenizer implement it. */
export interface ModelTokenizer {
  readonly name: string;
  readonly vocabSize: number;
  /** Generation stops on any of these (EOS, and e.g. `<|im_end|>` / `<|endoftext|>` for chat models). */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number;
  encode(text: string, options?: { allowSpecial?: boolean }): number[];
  decode(ids: Iterable<number>, options?: { skipSpecialTokens?: boolean }): string;
  /** Token ids of the rendered chat template. */
  encodeChat(messages: readonly ChatTemplateMessage[], options?: { addGenerationPrompt?: boolean }): number[];
  /** The text `encodeChat` encodes (the rendered chat template), so a caller can bound its length before encoding. */
  renderChat?(messages: readonly ChatTemplateMessage[], options?: { addGenerationPrompt?: boolean }): string;
  /**
   * The raw bytes of one token (a byte-level BPE token may hold part of a UTF-8 character, which `decode` shows as
   * U+FFFD): the bytes of a sequence's tokens, concatenated, are the UTF-8 of its text. OpenAI's log-prob `bytes`.
   */
  tokenBytes?(id: number): Uint8Array;
  /**
   * Most UTF-8 bytes of input text one token can stand for (normalisation included), so a text of `b` bytes has at
   * least `b / maxBytesPerToken` tokens: the server rejects an over-long prompt without tokenising it. `undefined`
   * when no such bound holds (e.g. a normaliser that deletes characters).
   */
  readonly maxBytesPerToken?: number;
}

/** Sampling parameters of one prompt (OpenAI / vLLM names and defaults). */
export interface SamplingOptions {
  /** 0 = greedy (argmax). @default 1 */
  temperature?: number;
  /** Nucleus sampling mass. @default 1 */
  topP?: number;
  /** Keep the k most likely tokens; 0 = all. @default 0 */
  topK?: number;
  /** Seed of this prompt's sampler; equal seeds give equal samples whatever else is in the batch. @default 0 */
  seed?: number;
  /** @default 256 */
  maxNewTokens?: number;
  /** Stop strings: generation ends before the first occurrence, which is cut from the text (OpenAI semantics). @default [] */
  stop?: readonly string[];
  /** Token ids that end generation; the id is not part of the returned text. @default tokenizer.eosTokenIds */
  stopTokenIds?: readonly number[];
  /** Samples for this prompt. @default 1 */
  n?: number;
  /** Also return the `topLogprobs` most likely alternatives at each position (0 = only the chosen token's). @default 0 */
  topLogprobs?: number;
}

export interface GenerationRequest extends SamplingOptions {
  promptIds: readonly number[];
}

export interface GeneratedSample {
  text: string;
  tokenIds: number[];
  /** log p of each generated token under the model's unmodified distribution (temperature 1, no truncation), as vLLM reports. */
  logprobs: number[];
  /** With `topLogprobs > 0`: the alternatives at each position, most likely first. */
  topLogprobs?: { tokenId: number; logprob: number }[][];
  /** "stop": an EOS/stop token or a stop string; "length": maxNewTokens or the model's context was reached. */
  finishReason: "stop" | "length";
}

/** Options of a whole {@link GenerateFn} call (per-prompt sampling options live in each request). */
export interface GenerateOptions {
  /** Decode with the KV cache (one new token per step) or recompute the whole sequence every step. @default true */
  useCache?: boolean;
  /** Most rows (prompts × n) decoded together; more are processed in consecutive batches. @default 16 */
  maxBatchSize?: number;
  /** Called with each generated token as it is sampled (for streaming), before stop strings are applied. */
  onToken?: (requestIndex: number, sampleIndex: number, tokenId: number) => void;
  /** Stops generation early; finished samples are returned, the rest end with finishReason "length". */
  signal?: AbortSignal;
}

/** Generates `n` samples for every request: result[i][j] is sample j of request i. */
export type GenerateFn = (model: DecodeModel, tokenizer: ModelTokenizer, requests: readonly GenerationRequest[], options?: GenerateOptions) => Promise<GeneratedSample[][]>;
