import xxhash from "xxhash-wasm";
import { fmix32, type Hash64, powA, powB, WordLanes } from "../hashing/wordLanes.js";
import { tokenizeForMatch } from "../normalize/normalizeForMatch.js";
import { type MinHashConfig, resolveMinHashConfig } from "./config.js";

/** Value of every slot of the signature of a text with no words. */
export const EMPTY_SIGNATURE_VALUE = 0xffffffff;

let loadedH64: Hash64 | undefined;

/** splitmix32-style generator for the permutation constants (deterministic for a seed on every platform). */
function constants(seed: number, count: number): { xor: Uint32Array; mul: Uint32Array } {
  const xor = new Uint32Array(count);
  const mul = new Uint32Array(count);
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0;
    return fmix32(s ^ 0x5851f42d);
  };
  for (let i = 0; i < count; i++) {
    xor[i] = next();
    mul[i] = (next() | 1) >>> 0; // odd multiplier: b ↦ b·m is a bijection mod 2^32
  }
  return { xor, mul };
}

/**
 * MinHash signatures over word shingles (Broder 1997), with datatrove's defaults (5-word shingles, 14 × 8 = 112 hashes, seed 1).
 *
 * Words come from `tokenizeForMatch`; each distinct word is hashed once with xxHash64 (cached) and split into two 32-bit
 * lanes, and a shingle's 64-bit key is a polynomial rolling hash of its word hashes per lane (the scheme of `NgramIndex`),
 * so no shingle string is ever built.
 *
 * Permutations: datatrove's (a·x + b) mod (2^61 − 1) needs 64-bit multiplies, which JS only has through slow BigInt.
 * Instead the shingle's two lanes are folded into one well-mixed 32-bit key K (murmur3's fmix32, full avalanche) and
 * permutation i is π_i(K) = (K ⊕ x_i)·m_i mod 2^32, with x_i and odd m_i drawn from a splitmix sequence of `seed`:
 * each π_i is a bijection, the order of its outputs is set by the high product bits, which depend on every bit of K
 * (multiply-shift hashing, Dietzfelbinger et al. 1997), and it costs one `Math.imul` per permutation (a full fmix32 per
 * permutation gave the same estimation error on random pairs at 3 multiplies; K is 32 bits, so a chance key collision
 * between two 300-shingle documents has probability ≈ 10⁻⁵).
 * Everything is 32-bit integer maths, so signatures are identical on every platform. Estimates stay within the usual
 * ±√(J(1−J)/P) error (see tests).
 */
export class MinHasher {
  readonly config: MinHashConfig;
  readonly numPermutations: number;

  private readonly lanes: WordLanes;
  private readonly xor: Int32Array;
  private readonly mul: Int32Array;
  private readonly min: Int32Array;
  private keys = new Int32Array(1024);

  /**
   * Synchronous constructor: needs the xxHash WebAssembly module, either passed as `h64` or already loaded by an earlier
   * `MinHasher.create()`. Prefer `await MinHasher.create(config)`.
   */
  constructor(config: Partial<MinHashConfig> = {}, h64?: Hash64) {
    this.config = resolveMinHashConfig(config);
    this.numPermutations = this.config.bands * this.config.rowsPerBand;
    const fn = h64 ?? loadedH64;
    if (!fn) {
      throw new Error(
        "[infialign/decontam] minhash: the xxHash WebAssembly module is not loaded yet; build the hasher with `await MinHasher.create(config)`.",
      );
    }
    this.lanes = new WordLanes(fn);
    const { xor, mul } = constants(this.config.seed, this.numPermutations);
    this.xor = Int32Array.from(xor, (v) => v | 0);
    this.mul = Int32Array.from(mul, (v) => v | 0);
    this.min = new Int32Array(this.numPermutations);
  }

  /** Loads the xxHash WebAssembly module once, then builds a hasher. */
  static async create(config: Partial<MinHashConfig> = {}): Promise<MinHasher> {
    if (!loadedH64) loadedH64 = (await xxhash()).h64;
    return new MinHasher(config, loadedH64);
  }

  /**
   * Signature of `text` (tokenized with `tokenizeForMatch`): `bands * rowsPerBand` minima, one per permutation.
   * A text with fewer than `shingleSize` words is one shingle of all its words; a text with no words gets a signature
   * of all `0xffffffff` (`EMPTY_SIGNATURE_VALUE`), which `findNearDuplicates` never pairs.
   */
  signature(text: string): Uint32Array {
    return this.signatureOfWords(tokenizeForMatch(text));
  }

  /** Signature of an already tokenized text (see `signature`). */
  signatureOfWords(words: readonly string[], out?: Uint32Array): Uint32Array {
    const P = this.numPermutations;
    const sig = out ?? new Uint32Array(P);
    sig.fill(EMPTY_SIGNATURE_VALUE);
    const n = words.length;
    if (n === 0) return sig;
    this.lanes.prefix(words);
    const k = Math.min(this.config.shingleSize, n);
    const shiftA = powA(k);
    const shiftB = powB(k);
    const { pa, pb } = this.lanes;
    const xor = this.xor;
    const mul = this.mul;
    const count = n - k + 1;
    if (this.keys.length < count + 3) this.keys = new Int32Array(2 * count + 3);
    const keys = this.keys;
    for (let i = 0; i < count; i++) {
      const ra = ((pa[i + k] as number) - Math.imul(pa[i] as number, shiftA)) | 0;
      const rb = ((pb[i + k] as number) - Math.imul(pb[i] as number, shiftB)) | 0;
      // Length mixed in keeps a short text's single shingle apart from a full shingle with the same lanes.
      keys[i] = fmix32(fmix32(ra ^ Math.imul(k, 0x27d4eb2d)) ^ Math.imul(fmix32(rb + k), 0x9e3779b1)) | 0;
    }
    // Pad to a multiple of 4 with copies of the first key (a repeated shingle leaves every minimum unchanged).
    const padded = (count + 3) & ~3;
    for (let i = count; i < padded; i++) keys[i] = keys[0] as number;
    // Minima kept as signed int32 with the top bit flipped (same order as uint32), so V8 never boxes them as doubles;
    // four shingles per pass over the permutations quarter the loads and stores of the constants and minima.
    const min = this.min;
    min.fill(0x7fffffff);
    for (let i = 0; i < padded; i += 4) {
      const k0 = keys[i] as number;
      const k1 = keys[i + 1] as number;
      const k2 = keys[i + 2] as number;
      const k3 = keys[i + 3] as number;
      for (let p = 0; p < P; p++) {
        const x = xor[p] as number;
        const m = mul[p] as number;
        let lo = min[p] as number;
        const h0 = Math.imul(k0 ^ x, m) ^ 0x80000000;
        const h1 = Math.imul(k1 ^ x, m) ^ 0x80000000;
        const h2 = Math.imul(k2 ^ x, m) ^ 0x80000000;
        const h3 = Math.imul(k3 ^ x, m) ^ 0x80000000;
        if (h0 < lo) lo = h0;
        if (h1 < lo) lo = h1;
        if (h2 < lo) lo = h2;
        if (h3 < lo) lo = h3;
        min[p] = lo;
      }
    }
    for (let p = 0; p < P; p++) sig[p] = ((min[p] as number) ^ 0x80000000) >>> 0;
    return sig;
  }
}

/** Fraction of positions where two signatures agree: an unbiased estimate of the Jaccard similarity of their shingle sets. */
export function estimateJaccard(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) {
    throw new Error(
      `[infialign/decontam] minhash: signatures have different lengths (${a.length} vs ${b.length}); compare signatures built with the same bands × rowsPerBand.`,
    );
  }
  if (a.length === 0) return 0;
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
