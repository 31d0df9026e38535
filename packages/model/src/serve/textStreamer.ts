import type { ModelTokenizer } from "../engine.js";
import { IncrementalDetokenizer } from "../generate/detokenizer.js";

/**
 * The text of one streamed sample, from the tokens GenerateOptions.onToken reports (before stop strings are applied):
 * detokenises incrementally as generate() does, and holds back any tail that could still become a stop string, so a
 * client never receives text that the final (stop-cut) completion does not contain — what vLLM's output processor does.
 */
export class TextStreamer {
  /** Text sent so far; always a prefix of the final completion text. */
  sent = "";
  /** A stop token or stop string was seen: nothing more is streamed until the final text. */
  done = false;
  readonly #detokenizer: IncrementalDetokenizer;
  readonly #stop: readonly string[];
  readonly #stopTokenIds: ReadonlySet<number>;
  readonly #maxStop: number;

  constructor(tokenizer: ModelTokenizer, stop: readonly string[], stopTokenIds: readonly number[]) {
    this.#detokenizer = new IncrementalDetokenizer(tokenizer);
    this.#stop = stop;
    this.#stopTokenIds = new Set(stopTokenIds);
    this.#maxStop = Math.max(0, ...stop.map((s) => s.length));
  }

  /** Adds a sampled token; returns the text that may now be sent ("" while held back). */
  push(tokenId: number): string {
    if (this.done) return "";
    if (this.#stopTokenIds.has(tokenId)) {
      this.done = true;
      return "";
    }
    const before = this.#detokenizer.text.length;
    if (!this.#detokenizer.push(tokenId)) return "";
    const text = this.#detokenizer.text;
    let end = text.length;
    if (this.#maxStop > 0) {
      const from = Math.max(0, before - this.#maxStop + 1);
      let cut = -1;
      for (const s of this.#stop) {
        const at = text.indexOf(s, from);
        if (at >= 0 && (cut < 0 || at < cut)) cut = at;
      }
      if (cut >= 0) {
        this.done = true;
        end = cut;
      } else {
        end = text.length - heldTail(text, this.#stop, this.#maxStop);
      }
    }
    if (end <= this.sent.length) return "";
    const piece = text.slice(this.sent.length, end);
    this.sent += piece;
    return piece;
  }

  /** The rest of the final completion text (authoritative: generate's own stop handling) not yet sent. */
  finish(finalText: string): string {
    this.done = true;
    if (!finalText.startsWith(this.sent)) return "";
    const piece = finalText.slice(this.sent.length);
    this.sent = finalText;
    return piece;
  }
}

/** Length of the longest tail of `text` that is a proper prefix of a stop string (it may still grow into one). */
function heldTail(text: string, stop: readonly string[], maxStop: number): number {
  for (let k = Math.min(maxStop - 1, text.length); k > 0; k--) {
    const tail = text.slice(text.length - k);
    if (stop.some((s) => s.length > k && s.startsWith(tail))) return k;
  }
  return 0;
}
