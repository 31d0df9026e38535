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
const SUFFIXES = [" Show your work.", " Explain each step."];
const SYNONYMS: [RegExp, string][] = [
  [/^Compute /, "Calculate "],
  [/ for x\.$/, " to find x."],
  [/What is the remainder\?$/, "Find the remainder."],
  [/How many different picks are there\?$/, "How many different picks can be made?"],
  [/What is the new price\?$/, "What is the price now?"],
  [/What is term (\d+)\?$/, "Find term $1."],
];

/**
 * Minimum exact shingle Jaccard of a reworded sibling. Above the near-dup stage's default
 * MinHash threshold (≈ 0.72 for 14 × 8 bands) with a margin for the estimate's noise
 * (standard error ≈ 0.035 at J = 0.85 over 112 hashes).
 */
export const MIN_SIBLING_JACCARD = 0.85;

/**
 * A reworded sibling of `text` that MinHash catches: a prefix, a suffix or a synonym
 * phrasing when it keeps the shingle Jaccard ≥ MIN_SIBLING_JACCARD (long problems),
 * else `reformat(text)` (short problems, where one changed word breaks most shingles).
 */
export function rewordSibling(rng: Rng, text: string): string {
  const candidates = [
    `${PREFIXES[rng.nextInt(PREFIXES.length)]}${text}`,
    `${text}${SUFFIXES[rng.nextInt(SUFFIXES.length)]}`,
    ...SYNONYMS.filter(([re]) => re.test(text)).map(([re, to]) => text.replace(re, to)),
  ];
  // Fisher-Yates, so every kind of rewording shows up.
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [candidates[i], candidates[j]] = [candidates[j] as string, candidates[i] as string];
  }
  return candidates.find((c) => c !== text && shingleJaccard(c, text) >= MIN_SIBLING_JACCARD) ?? reformat(text);
}

/** A light reformatting that keeps the problem's full word sequence: reformatted, or with a prefix. */
export function lightlyReformat(rng: Rng, text: string): string {
  return rng.nextInt(2) === 0 ? reformat(text) : `${PREFIXES[rng.nextInt(PREFIXES.length)]}${text}`;
}
