// Rejects a prompt that cannot fit the model's context before paying for its whole tokenisation: a 3 MB prompt took
// seconds and hundreds of MB to tokenise, blocking every other request, only to be refused for its length.
import type { ModelTokenizer } from "../engine.js";

/** Texts longer than this (UTF-16 code units) are counted chunk by chunk, yielding between chunks, before the real encode. */
export const COUNT_CHUNK_CHARS = 16 * 1024;
/**
 * Tokens a chunk boundary may add to a chunked count. A cut after "\n" before a non-space character is a pre-token
 * boundary of the GPT-2, Llama-3 and Qwen2 split regexes, so there chunks add up exactly; the margin covers a prefix
 * space a tokenizer adds to each chunk and the cuts made at a space (or anywhere) when a text has no such line break.
 */
export const CHUNK_BOUNDARY_SLACK = 16;

/** The prompt's token ids, or, when it cannot fit `budget` tokens, a lower bound of its token count. */
export type PromptFit = { ids: number[] } | { atLeast: number };

/**
 * Encodes `text` with `encode` unless it has more than `budget` tokens for sure: first by its UTF-8 length (a token
 * stands for at most `tokenizer.maxBytesPerToken` bytes), then, for a long text, by tokenising it in chunks and stopping
 * as soon as their count (less {@link CHUNK_BOUNDARY_SLACK} per boundary) passes the budget. So refusing a prompt costs
 * at most about `budget` tokens of work, and the event loop turns between chunks.
 */
export async function encodeWithinBudget(tokenizer: ModelTokenizer, text: string, budget: number, encode: (text: string) => number[] = (t) => tokenizer.encode(t)): Promise<PromptFit> {
  const perToken = tokenizer.maxBytesPerToken;
  if (perToken !== undefined && perToken > 0) {
    const atLeast = Math.ceil(Buffer.byteLength(text, "utf8") / perToken);
    if (atLeast > budget) return { atLeast };
  }
  if (text.length > COUNT_CHUNK_CHARS) {
    let counted = 0;
    let cuts = 0;
    for (let start = 0; start < text.length; ) {
      const end = chunkEnd(text, start + COUNT_CHUNK_CHARS);
      counted += encode(text.slice(start, end)).length;
      start = end;
      if (counted - cuts * CHUNK_BOUNDARY_SLACK > budget) return { atLeast: counted - cuts * CHUNK_BOUNDARY_SLACK };
      if (start >= text.length) break;
      cuts++;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return { ids: encode(text) };
}

/** Where a chunk reaching at least to `from` ends: after the next "\n" before a non-space, else the next space, else `from`. */
function chunkEnd(text: string, from: number): number {
  if (from >= text.length) return text.length;
  const ahead = text.slice(from - 1, from + COUNT_CHUNK_CHARS);
  const newline = ahead.search(/\n\S/);
  if (newline >= 0) return from + newline;
  const space = ahead.search(/\s\S/);
  if (space >= 0) return from + space;
  // Never between the halves of a surrogate pair.
  const code = text.charCodeAt(from);
  return code >= 0xdc00 && code <= 0xdfff ? from + 1 : from;
}
