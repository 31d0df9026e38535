import type { ModelTokenizer } from "../engine.js";

/**
 * Incremental detokenisation over `ModelTokenizer.decode`, as vLLM's `detokenize_incrementally` does it: decode a short
 * window (the tokens of the last emitted piece plus the new ones) and emit what it adds to the window's old text, unless
 * that ends in U+FFFD — an incomplete UTF-8 character (byte-level BPE splits characters across tokens), held back until
 * a later token completes it. The window keeps tokenizers whose decode depends on the previous token (SentencePiece's
 * leading space) right, and keeps the cost per token constant.
 */
export class IncrementalDetokenizer {
  /** Text emitted so far. */
  text = "";
  private readonly tokenizer: ModelTokenizer;
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(tokenizer: ModelTokenizer) {
    this.tokenizer = tokenizer;
  }

  /** Adds one token; returns the text it completes ("" while a character is still incomplete). */
  push(tokenId: number): string {
    this.ids.push(tokenId);
    let window: { prefix: string; full: string };
    try {
      window = this.window();
    } catch {
      // An id the tokenizer cannot decode (a model's padded embedding rows past the tokenizer's vocabulary) decodes to
      // nothing, as transformers' decode skips unknown ids, instead of failing a whole batch.
      this.ids.pop();
      return "";
    }
    const { prefix, full } = window;
    if (full.length <= prefix.length || full.endsWith("\uFFFD")) return "";
    const piece = full.slice(prefix.length);
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    this.text += piece;
    return piece;
  }

  /** Text still held back (a trailing incomplete character decodes to U+FFFD here); adds it to `text`. */
  flush(): string {
    const { prefix, full } = this.window();
    const piece = full.slice(prefix.length);
    this.prefixOffset = this.readOffset = this.ids.length;
    this.text += piece;
    return piece;
  }

  private window(): { prefix: string; full: string } {
    const decode = (ids: number[]) => this.tokenizer.decode(ids, { skipSpecialTokens: true });
    return { prefix: decode(this.ids.slice(this.prefixOffset, this.readOffset)), full: decode(this.ids.slice(this.prefixOffset)) };
  }
}
