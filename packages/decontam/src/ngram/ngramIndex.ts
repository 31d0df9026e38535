import xxhash from "xxhash-wasm";
import type { BenchmarkItem } from "../benchmarks/loadBenchmark.js";
import { tokenizeForMatch } from "../normalize/normalizeForMatch.js";
import { type NgramIndexConfig, resolveNgramIndexConfig } from "./config.js";

/** One benchmark item that a checked text overlaps. */
export interface NgramMatch {
  benchmark: string;
  id: string;
  /** The longest matched run of words, as normalized text (see `normalizeForMatch`). */
  ngram: string;
  /** Fraction of the item's distinct n-grams found in the text (1 for a short item matched whole). */
  overlap: number;
}

export interface CheckResult {
  contaminated: boolean;
  /** One entry per benchmark item hit, most overlap first. */
  matches: NgramMatch[];
}

type Hash64 = (input: string, seed?: bigint) => bigint;

// Bases of the two polynomial lanes (odd, so multiplication is invertible mod 2^32).
const BASE_A = 0x01000193;
const BASE_B = 0x5bd1e995;
const EMPTY = -1;
const WORD_CACHE_MAX = 1 << 20;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Word n-gram index over benchmark items (lm-evaluation-harness style decontamination).
 *
 * Each distinct word is hashed once with xxHash64 (cached; one h64 call beat two seeded h32 calls in bench/run.ts)
 * and split into two 32-bit lanes. An n-gram's 64-bit key is one polynomial rolling hash of its word hashes per lane,
 * finalized with murmur3's fmix32; prefix sums make every window O(1), so a text of w words costs w word lookups plus
 * one table probe per window. Keys live in an open-addressing table of Uint32 pairs with the first item's index beside
 * them; further items sharing an n-gram go to a small side map.
 *
 * Items shorter than `n` words (AIME/MATH one-liners) are indexed by their whole word sequence and match when the text
 * contains all of it, in order.
 */
export class NgramIndex {
  readonly config: NgramIndexConfig;
  /** Items indexed (skipped ones excluded). */
  readonly itemCount: number;
  /** Items with fewer than `minItemWords` words, not indexed. */
  readonly skipped: BenchmarkItem[] = [];

  readonly #items: BenchmarkItem[];
  readonly #itemNgrams: Uint32Array;
  readonly #h64: Hash64;
  // Per distinct word: its id, the two 32-bit halves of its xxHash64, and a bitmask of short-item lengths (< 32) it starts.
  readonly #wordIds = new Map<string, number>();
  #wa = new Uint32Array(1 << 12);
  #wb = new Uint32Array(1 << 12);
  #starts = new Uint32Array(1 << 12);
  #ids = new Int32Array(1024);
  #keys: Uint32Array;
  #vals: Int32Array;
  #mask: number;
  #size = 0;
  readonly #shared = new Map<number, number[]>();
  readonly #shortStarts = new Map<string, number>();
  /** Window lengths to probe: `n` plus each short-item length present. */
  readonly #lengths: number[];
  // Scratch buffers reused across `check` calls.
  #pa = new Uint32Array(1024);
  #pb = new Uint32Array(1024);

  private constructor(items: BenchmarkItem[], config: NgramIndexConfig, h64: Hash64) {
    this.config = config;
    this.#h64 = h64;
    const cap = 1 << Math.max(4, Math.ceil(Math.log2(Math.max(1, items.reduce((s, it) => s + it.text.length, 0) / 2))));
    this.#keys = new Uint32Array(cap * 2);
    this.#vals = new Int32Array(cap).fill(EMPTY);
    this.#mask = cap - 1;
    this.#items = [];
    const counts: number[] = [];
    const lengths = new Set<number>([config.n]);
    for (const item of items) {
      const words = tokenizeForMatch(item.text);
      if (words.length < config.minItemWords) {
        this.skipped.push(item);
        continue;
      }
      const idx = this.#items.length;
      this.#items.push(item);
      const len = Math.min(words.length, config.n);
      lengths.add(len);
      this.#prefix(words);
      if (len < config.n && len < 32) {
        const first = words[0] as string;
        const mask = ((this.#shortStarts.get(first) ?? 0) | (1 << len)) >>> 0;
        this.#shortStarts.set(first, mask);
        this.#starts[this.#ids[0] as number] = mask;
      }
      const seen = new Set<string>();
      for (let i = 0; i + len <= words.length; i++) {
        const [a, b] = this.#window(i, len);
        seen.add(`${a},${b}`);
        this.#insert(a, b, idx);
      }
      counts.push(seen.size);
    }
    this.itemCount = this.#items.length;
    this.#itemNgrams = Uint32Array.from(counts);
    this.#lengths = [...lengths].sort((x, y) => y - x);
  }

  /** Builds the index (async: the xxHash WebAssembly module is instantiated once). */
  static async build(items: Iterable<BenchmarkItem>, opts: Partial<NgramIndexConfig> = {}): Promise<NgramIndex> {
    const config = resolveNgramIndexConfig(opts);
    const { h64 } = await xxhash();
    return new NgramIndex([...items], config, h64);
  }

  /** Distinct n-gram keys stored. */
  get size(): number {
    return this.#size;
  }

  /** Checks one text against every indexed item. Never throws on any string. */
  check(text: string): CheckResult {
    const words = tokenizeForMatch(text);
    if (words.length === 0) return { contaminated: false, matches: [] };
    this.#prefix(words);
    let hits: Map<number, { keys: Set<string>; runStart: number; last: number; best: [number, number] }> | undefined;
    const n = this.config.n;
    for (const len of this.#lengths) {
      // A short item can only match where its first word is; skip the probe elsewhere.
      const filtered = len < n && len < 32;
      const bit = (1 << len) >>> 0;
      for (let i = 0; i + len <= words.length; i++) {
        if (filtered && ((this.#starts[this.#ids[i] as number] as number) & bit) === 0) continue;
        const [a, b] = this.#window(i, len);
        const slot = this.#find(a, b);
        if (slot < 0) continue;
        hits ??= new Map();
        const first = this.#vals[slot] as number;
        const owners = this.#shared.get(slot);
        for (const idx of owners ? [first, ...owners] : [first]) {
          let h = hits.get(idx);
          if (!h) {
            h = { keys: new Set(), runStart: i, last: i, best: [i, i + len] };
            hits.set(idx, h);
          } else if (i !== h.last + 1) h.runStart = i;
          h.keys.add(`${a},${b}`);
          h.last = i;
          if (i + len - h.runStart > h.best[1] - h.best[0]) h.best = [h.runStart, i + len];
        }
      }
    }
    if (!hits) return { contaminated: false, matches: [] };
    const matches: NgramMatch[] = [];
    for (const [idx, h] of hits) {
      const item = this.#items[idx] as BenchmarkItem;
      const overlap = Math.min(1, h.keys.size / (this.#itemNgrams[idx] as number));
      matches.push({ benchmark: item.benchmark, id: item.id, ngram: words.slice(h.best[0], h.best[1]).join(" "), overlap });
    }
    matches.sort((x, y) => y.overlap - x.overlap);
    return { contaminated: true, matches };
  }

  /** Word id of `w`, hashing it on first sight. */
  #wordId(w: string): number {
    let id = this.#wordIds.get(w);
    if (id !== undefined) return id;
    id = this.#wordIds.size;
    if (id >= this.#wa.length) {
      const grow = (a: Uint32Array) => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.#wa = grow(this.#wa);
      this.#wb = grow(this.#wb);
      this.#starts = grow(this.#starts);
    }
    this.#wordIds.set(w, id);
    const h = this.#h64(w);
    this.#wa[id] = Number(h & 0xffffffffn);
    this.#wb[id] = Number(h >> 32n);
    this.#starts[id] = 0;
    return id;
  }

  /** Fills word ids and the two prefix-hash lanes for `words`. */
  #prefix(words: string[]): void {
    if (this.#wordIds.size >= WORD_CACHE_MAX) {
      // Keep memory bounded on huge vocabularies (only between texts, so ids stay valid within one).
      this.#wordIds.clear();
      for (const [first, mask] of this.#shortStarts) this.#starts[this.#wordId(first)] = mask;
    }
    if (this.#pa.length <= words.length) {
      this.#pa = new Uint32Array(words.length * 2 + 1);
      this.#pb = new Uint32Array(words.length * 2 + 1);
      this.#ids = new Int32Array(words.length * 2 + 1);
    }
    const pa = this.#pa;
    const pb = this.#pb;
    const ids = this.#ids;
    let ha = 0;
    let hb = 0;
    for (let i = 0; i < words.length; i++) {
      const id = this.#wordId(words[i] as string);
      ids[i] = id;
      ha = (Math.imul(ha, BASE_A) + (this.#wa[id] as number)) >>> 0;
      hb = (Math.imul(hb, BASE_B) + (this.#wb[id] as number)) >>> 0;
      pa[i + 1] = ha;
      pb[i + 1] = hb;
    }
  }

  /** 64-bit key (two lanes) of words[i, i+len), from the prefix lanes. */
  #window(i: number, len: number): [number, number] {
    const a = ((this.#pa[i + len] as number) - Math.imul(this.#pa[i] as number, powA(len))) >>> 0;
    const b = ((this.#pb[i + len] as number) - Math.imul(this.#pb[i] as number, powB(len))) >>> 0;
    // Mixing in the length keeps a short item's key apart from an n-gram with the same lane values.
    return [fmix32(a ^ Math.imul(len, 0x27d4eb2d)), fmix32(b + len)];
  }

  #find(a: number, b: number): number {
    const keys = this.#keys;
    const vals = this.#vals;
    let slot = (a ^ Math.imul(b, 0x9e3779b1)) & this.#mask;
    while (vals[slot] !== EMPTY) {
      if (keys[2 * slot] === a && keys[2 * slot + 1] === b) return slot;
      slot = (slot + 1) & this.#mask;
    }
    return -1;
  }

  #insert(a: number, b: number, idx: number): void {
    const found = this.#find(a, b);
    if (found >= 0) {
      if (this.#vals[found] === idx) return;
      const owners = this.#shared.get(found) ?? [];
      if (!owners.includes(idx)) owners.push(idx);
      this.#shared.set(found, owners);
      return;
    }
    if ((this.#size + 1) * 2 > this.#vals.length) this.#grow();
    let slot = (a ^ Math.imul(b, 0x9e3779b1)) & this.#mask;
    while (this.#vals[slot] !== EMPTY) slot = (slot + 1) & this.#mask;
    this.#keys[2 * slot] = a;
    this.#keys[2 * slot + 1] = b;
    this.#vals[slot] = idx;
    this.#size++;
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldVals = this.#vals;
    const oldShared = new Map(this.#shared);
    const cap = oldVals.length * 2;
    this.#keys = new Uint32Array(cap * 2);
    this.#vals = new Int32Array(cap).fill(EMPTY);
    this.#mask = cap - 1;
    this.#shared.clear();
    for (let s = 0; s < oldVals.length; s++) {
      const v = oldVals[s] as number;
      if (v === EMPTY) continue;
      const a = oldKeys[2 * s] as number;
      const b = oldKeys[2 * s + 1] as number;
      let slot = (a ^ Math.imul(b, 0x9e3779b1)) & this.#mask;
      while (this.#vals[slot] !== EMPTY) slot = (slot + 1) & this.#mask;
      this.#keys[2 * slot] = a;
      this.#keys[2 * slot + 1] = b;
      this.#vals[slot] = v;
      const owners = oldShared.get(s);
      if (owners) this.#shared.set(slot, owners);
    }
  }
}

const powCacheA: number[] = [1];
const powCacheB: number[] = [1];
function powA(len: number): number {
  while (powCacheA.length <= len) powCacheA.push(Math.imul(powCacheA[powCacheA.length - 1] as number, BASE_A) >>> 0);
  return powCacheA[len] as number;
}
function powB(len: number): number {
  while (powCacheB.length <= len) powCacheB.push(Math.imul(powCacheB[powCacheB.length - 1] as number, BASE_B) >>> 0);
  return powCacheB[len] as number;
}
