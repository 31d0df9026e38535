import { DEFAULT_MINHASH_CONFIG, tokenizeForMatch } from "@infialign/decontam";
import type { Rng } from "@infialign/kernels";

/** Word shingles as `MinHasher` builds them: `size`-word windows, or one shingle of every word for shorter texts. */
function shingles(text: string, size: number): Set<string> {
  const words = tokenizeForMatch(text);
  if (words.length < size) return new Set([words.join(" ")]);
  const out = new Set<string>();
  for (let i = 0; i + size <= words.length; i++) out.add(words.slice(i, i + size).join(" "));
  return out;
}

/** Exact Jaccard similarity of the two texts' shingle sets (what MinHash estimates). */
export function shingleJaccard(a: string, b: string, size = DEFAULT_MINHASH_CONFIG.shingleSize): number {
  const x = shingles(a, size);
  const y = shingles(b, size);
  let shared = 0;
  for (const s of x) if (y.has(s)) shared++;
  return shared / (x.size + y.size - shared);
}

/**
 * Same words and numbers, other surface: first letter lowercased, no spaces around
 * operators, no final full stop. Match normalization (lowercase, punctuation dropped) reads
 * it exactly as the original, so it is a Jaccard-1 near duplicate but not an exact one.
 */
export function reformat(text: string): string {
  return (text.charAt(0).toLowerCase() + text.slice(1)).replace(/ ([-+*/=]) /g, "$1").replace(/\.$/, "");
}

const PREFIXES = ["Question: ", "Problem: "];

/** A light reformatting that keeps the problem's full word sequence: reformatted, or with a prefix. */
export function lightlyReformat(rng: Rng, text: string): string {
  return rng.nextInt(2) === 0 ? reformat(text) : `${PREFIXES[rng.nextInt(PREFIXES.length)]}${text}`;
}
