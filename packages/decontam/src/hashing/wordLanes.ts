// Rolling word-sequence hashes shared by NgramIndex and MinHasher: each distinct word is hashed once with xxHash64 and
// split into two 32-bit lanes; a run of words gets one polynomial hash per lane from prefix sums, so any window costs
// O(1) and no n-gram string is ever built. Hand-written: no package offers rolling hashes over word tokens.

export type Hash64 = (input: string, seed?: bigint) => bigint;

// Bases of the two polynomial lanes (odd, so multiplication is invertible mod 2^32).
export const BASE_A = 0x01000193;
export const BASE_B = 0x5bd1e995;
/** Distinct words cached before the cache is cleared (between texts only, so ids stay valid within one). */
const WORD_CACHE_MAX = 1 << 20;

/** murmur3's 32-bit finalizer (full avalanche). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const powCacheA: number[] = [1];
const powCacheB: number[] = [1];
/** BASE_A^len mod 2^32. */
export function powA(len: number): number {
  while (powCacheA.length <= len) powCacheA.push(Math.imul(powCacheA[powCacheA.length - 1] as number, BASE_A) >>> 0);
  return powCacheA[len] as number;
}
/** BASE_B^len mod 2^32. */
export function powB(len: number): number {
  while (powCacheB.length <= len) powCacheB.push(Math.imul(powCacheB[powCacheB.length - 1] as number, BASE_B) >>> 0);
  return powCacheB[len] as number;
}

const grow = (a: Uint32Array, size: number): Uint32Array<ArrayBuffer> => {
  const b = new Uint32Array(size);
  b.set(a);
  return b;
};

/**
 * Word-id cache plus the prefix lanes of the last text given to `prefix`. Owners that keep per-word data (NgramIndex's
 * short-item start masks) pass `perWord` arrays through `onCapacity` and re-mark words after `onReset`.
 */
export class WordLanes {
  readonly #h64: Hash64;
  readonly #wordIds = new Map<string, number>();
  /** Lanes of each word's xxHash64, by word id. */
  wa = new Uint32Array(1 << 12);
  wb = new Uint32Array(1 << 12);
  /** Prefix lanes of the last text: lanes of words[0, i) at index i. */
  pa = new Uint32Array(1024);
  pb = new Uint32Array(1024);
  /** Word ids of the last text. */
  ids = new Int32Array(1024);
  /** Called when the word capacity grows (to grow per-word arrays) and after the cache is cleared. */
  onCapacity?: (capacity: number) => void;
  onReset?: () => void;

  constructor(h64: Hash64) {
    this.#h64 = h64;
  }

  get capacity(): number {
    return this.wa.length;
  }

  /** Word id of `w`, hashing it on first sight. */
  wordId(w: string): number {
    let id = this.#wordIds.get(w);
    if (id !== undefined) return id;
    id = this.#wordIds.size;
    if (id >= this.wa.length) {
      this.wa = grow(this.wa, this.wa.length * 2);
      this.wb = grow(this.wb, this.wb.length * 2);
      this.onCapacity?.(this.wa.length);
    }
    this.#wordIds.set(w, id);
    const h = this.#h64(w);
    this.wa[id] = Number(h & 0xffffffffn);
    this.wb[id] = Number(h >> 32n);
    return id;
  }

  /** Fills `ids` and the prefix lanes for `words`. */
  prefix(words: readonly string[]): void {
    if (this.#wordIds.size >= WORD_CACHE_MAX) {
      this.#wordIds.clear();
      this.onReset?.();
    }
    if (this.pa.length <= words.length) {
      this.pa = new Uint32Array(words.length * 2 + 1);
      this.pb = new Uint32Array(words.length * 2 + 1);
      this.ids = new Int32Array(words.length * 2 + 1);
    }
    const { pa, pb, ids } = this;
    let ha = 0;
    let hb = 0;
    for (let i = 0; i < words.length; i++) {
      const id = this.wordId(words[i] as string);
      ids[i] = id;
      ha = (Math.imul(ha, BASE_A) + (this.wa[id] as number)) >>> 0;
      hb = (Math.imul(hb, BASE_B) + (this.wb[id] as number)) >>> 0;
      pa[i + 1] = ha;
      pb[i + 1] = hb;
    }
  }
}
