import xxhash from "xxhash-wasm";
import type { BenchmarkItem } from "../benchmarks/loadBenchmark.js";
import { fmix32, type Hash64, powA, powB, WordLanes } from "../hashing/wordLanes.js";
import { tokenizeForMatch, tokenizeMarkingCode } from "../normalize/normalizeForMatch.js";
import { type NgramIndexConfig, resolveNgramIndexConfig } from "./config.js";

/** One benchmark item that a checked text overlaps. */
export interface NgramMatch {
  benchmark: string;
  id: string;
  /**
   * The longest matched run of words built from non-stock n-grams (see `stockItemThreshold`), as normalized text
   * (see `normalizeForMatch`); at least `minEvidenceWords` words unless the item is shorter. Falls back to the longest run of any
   * n-grams when the text contains the whole item but only through stock n-grams.
   */
  ngram: string;
  /** Fraction of the item's distinct n-grams found in the text (1 for a short item matched whole). */
  overlap: number;
}

export interface CheckResult {
  contaminated: boolean;
  /** One entry per benchmark item hit, most overlap first. */
  matches: NgramMatch[];
}

const EMPTY = -1;
// Per-slot flags.
const STOCK = 1;
/** The n-gram lies mostly inside drawing code (`[asy]…[/asy]`) in an item. */
const CODE = 2;

/** Options of `NgramIndex.build` beyond the config. */
export interface NgramBuildOptions {
  /**
   * Texts of the corpus being cleaned (or a sample of it): item n-grams recurring in them are stock phrases too (see
   * `backgroundStockDocs`). @default none
   */
  background?: Iterable<string>;
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

  private readonly items: BenchmarkItem[];
  private readonly itemNgrams: Uint32Array;
  private readonly itemWords: Uint32Array;
  private readonly lanes: WordLanes;
  // Per distinct word: its id, the two 32-bit halves of its xxHash64, and a bitmask of short-item lengths (< 32) it starts.
  private starts = new Uint32Array(1 << 12);
  private keys: Uint32Array;
  private vals: Int32Array;
  private mask: number;
  private slotsUsed = 0;
  private readonly shared = new Map<number, number[]>();
  /** Per slot: `STOCK` and `CODE` bits (filled once all items are in, so slots are final). */
  private flags: Uint8Array = new Uint8Array(0);
  /** Distinct stock n-gram keys, from the benchmark set and the background together. */
  readonly stockCount: number;
  /** Distinct n-gram keys made stock by the background texts alone. */
  readonly backgroundStockCount: number;
  /** Background texts read. */
  readonly backgroundDocs: number;
  private readonly shortStarts = new Map<string, number>();
  /** Window lengths to probe: `n` plus each short-item length present. */
  private readonly lengths: number[];
  // Scratch buffers reused across `check` calls.

  private constructor(items: BenchmarkItem[], config: NgramIndexConfig, h64: Hash64, background: Iterable<string>) {
    this.config = config;
    this.lanes = new WordLanes(h64);
    this.lanes.onCapacity = (capacity) => {
      const starts = new Uint32Array(capacity);
      starts.set(this.starts);
      this.starts = starts;
    };
    // Word ids restart after a cache reset: forget the old marks and re-mark the words that start short items.
    this.lanes.onReset = () => {
      this.starts.fill(0);
      for (const [first, mask] of this.shortStarts) this.starts[this.lanes.wordId(first)] = mask;
    };
    const cap = 1 << Math.max(4, Math.ceil(Math.log2(Math.max(1, items.reduce((s, it) => s + it.text.length, 0) / 2))));
    this.keys = new Uint32Array(cap * 2);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.items = [];
    const counts: number[] = [];
    const itemWords: number[] = [];
    const lengths = new Set<number>([config.n]);
    const stopWords = config.stopPhrases.map((p) => tokenizeForMatch(p)).filter((w) => w.length > 0);
    const stopKeys = new Set<string>();
    const codeKeys = new Set<string>();
    for (const item of items) {
      const { words, code } = tokenizeMarkingCode(item.text);
      const codePrefix = code ? prefixCounts(code) : undefined;
      if (words.length < config.minItemWords) {
        this.skipped.push(item);
        continue;
      }
      const idx = this.items.length;
      this.items.push(item);
      const len = Math.min(words.length, config.n);
      lengths.add(len);
      this.lanes.prefix(words);
      if (len < config.n && len < 32) {
        const first = words[0] as string;
        const mask = ((this.shortStarts.get(first) ?? 0) | (1 << len)) >>> 0;
        this.shortStarts.set(first, mask);
        this.starts[this.lanes.ids[0] as number] = mask;
      }
      const covered = stopWords.length ? coveredPrefix(words, stopWords) : undefined;
      const seen = new Set<string>();
      for (let i = 0; i + len <= words.length; i++) {
        const [a, b] = this.window(i, len);
        seen.add(`${a},${b}`);
        if (covered && ((covered[i + len] as number) - (covered[i] as number)) * 2 > len) stopKeys.add(`${a},${b}`);
        if (codePrefix && ((codePrefix[i + len] as number) - (codePrefix[i] as number)) * 2 > len) codeKeys.add(`${a},${b}`);
        this.insert(a, b, idx);
      }
      counts.push(seen.size);
      itemWords.push(words.length);
    }
    this.itemCount = this.items.length;
    this.itemNgrams = Uint32Array.from(counts);
    this.itemWords = Uint32Array.from(itemWords);
    this.lengths = [...lengths].sort((x, y) => y - x);
    this.flags = new Uint8Array(this.vals.length);
    let stock = 0;
    for (let slot = 0; slot < this.vals.length; slot++) {
      if (this.vals[slot] === EMPTY) continue;
      const key = `${this.keys[2 * slot]},${this.keys[2 * slot + 1]}`;
      const df = 1 + (this.shared.get(slot)?.length ?? 0);
      if (df >= config.stockItemThreshold || (stopKeys.size && stopKeys.has(key))) {
        this.flags[slot] = STOCK;
        stock++;
      }
      if (codeKeys.size && codeKeys.has(key)) this.flags[slot] = (this.flags[slot] as number) | CODE;
    }
    const learned = this.learnBackground(background);
    this.backgroundDocs = learned.docs;
    this.backgroundStockCount = learned.stock;
    this.stockCount = stock + learned.stock;
  }

  /**
   * Marks as stock the item n-grams found in at least `backgroundStockDocs` background documents, counting only
   * documents that are not copies of an item holding the n-gram (`copyOverlap`). Returns the documents read and the keys marked.
   */
  private learnBackground(background: Iterable<string>): { docs: number; stock: number } {
    const { backgroundStockDocs, copyOverlap } = this.config;
    let docs = 0;
    let df: Uint16Array | undefined;
    const seen = new Int32Array(this.vals.length);
    for (const text of background) {
      docs++;
      const words = tokenizeForMatch(text);
      if (words.length === 0 || backgroundStockDocs === Number.POSITIVE_INFINITY) continue;
      this.lanes.prefix(words);
      const slots: number[] = [];
      const perItem = new Map<number, number>();
      this.probe(words, (slot) => {
        if (seen[slot] === docs) return;
        seen[slot] = docs;
        slots.push(slot);
        for (const idx of this.owners(slot)) perItem.set(idx, (perItem.get(idx) ?? 0) + 1);
      });
      for (const slot of slots) {
        const copy = this.owners(slot).some((idx) => (perItem.get(idx) as number) >= copyOverlap * (this.itemNgrams[idx] as number));
        if (copy) continue;
        df ??= new Uint16Array(this.vals.length);
        if ((df[slot] as number) < 0xffff) df[slot] = (df[slot] as number) + 1;
      }
    }
    let stock = 0;
    if (df) {
      for (let slot = 0; slot < df.length; slot++) {
        if ((df[slot] as number) < backgroundStockDocs || ((this.flags[slot] as number) & STOCK) !== 0) continue;
        this.flags[slot] = (this.flags[slot] as number) | STOCK;
        stock++;
      }
    }
    return { docs, stock };
  }

  /** Items owning a slot. */
  private owners(slot: number): number[] {
    const first = this.vals[slot] as number;
    const more = this.shared.get(slot);
    return more ? [first, ...more] : [first];
  }

  /** Calls `hit(slot, start, len)` for every indexed window of `words` (already in the prefix lanes), longest windows first. */
  private probe(words: readonly string[], hit: (slot: number, start: number, len: number) => void): void {
    const n = this.config.n;
    for (const len of this.lengths) {
      // A short item can only match where its first word is; skip the probe elsewhere.
      const filtered = len < n && len < 32;
      const bit = (1 << len) >>> 0;
      for (let i = 0; i + len <= words.length; i++) {
        if (filtered && ((this.starts[this.lanes.ids[i] as number] as number) & bit) === 0) continue;
        const [a, b] = this.window(i, len);
        const slot = this.find(a, b);
        if (slot >= 0) hit(slot, i, len);
      }
    }
  }

  /** Builds the index (async: the xxHash WebAssembly module is instantiated once). */
  static async build(items: Iterable<BenchmarkItem>, opts: Partial<NgramIndexConfig> = {}, options: NgramBuildOptions = {}): Promise<NgramIndex> {
    const config = resolveNgramIndexConfig(opts);
    const { h64 } = await xxhash();
    return new NgramIndex([...items], config, h64, options.background ?? []);
  }

  /** Distinct n-gram keys stored. */
  get size(): number {
    return this.slotsUsed;
  }

  /** Checks one text against every indexed item. Never throws on any string. */
  check(text: string): CheckResult {
    const { words, code } = tokenizeMarkingCode(text);
    if (words.length === 0) return { contaminated: false, matches: [] };
    const codePrefix = code ? prefixCounts(code) : undefined;
    this.lanes.prefix(words);
    // Per item: distinct keys hit, and the longest runs of windows over all keys, over non-stock keys, and over
    // non-stock keys outside drawing code.
    let hits: Map<number, Hit> | undefined;
    this.probe(words, (slot, i, len) => {
      hits ??= new Map();
      const flags = this.flags[slot] as number;
      const stock = (flags & STOCK) !== 0;
      const inCode = (flags & CODE) !== 0 || (codePrefix !== undefined && ((codePrefix[i + len] as number) - (codePrefix[i] as number)) * 2 > len);
      const key = `${this.keys[2 * slot]},${this.keys[2 * slot + 1]}`;
      for (const idx of this.owners(slot)) {
        let h = hits.get(idx);
        if (!h) {
          h = { keys: new Set(), all: newRun(), evidence: newRun(), prose: newRun() };
          hits.set(idx, h);
        }
        h.keys.add(key);
        extendRun(h.all, i, len);
        if (stock) continue;
        extendRun(h.evidence, i, len);
        if (!inCode) extendRun(h.prose, i, len);
      }
    });
    if (!hits) return { contaminated: false, matches: [] };
    const matches: NgramMatch[] = [];
    for (const [idx, h] of hits as Map<number, Hit>) {
      const item = this.items[idx] as BenchmarkItem;
      const overlap = Math.min(1, h.keys.size / (this.itemNgrams[idx] as number));
      const minSpan = Math.min(this.config.minEvidenceWords, this.itemWords[idx] as number);
      // Drawing code counts towards the evidence run only when some problem text (outside the code) matches too.
      const run = h.prose.last >= 0 ? h.evidence : h.prose;
      const hasEvidence = run.best[1] - run.best[0] >= minSpan;
      // Stock n-grams or a short shared run are no evidence, unless the text holds every n-gram of the item (the item whole).
      if (!hasEvidence && overlap < 1) continue;
      const span = hasEvidence ? run.best : h.all.best;
      matches.push({ benchmark: item.benchmark, id: item.id, ngram: words.slice(span[0], span[1]).join(" "), overlap });
    }
    matches.sort((x, y) => y.overlap - x.overlap);
    return { contaminated: matches.length > 0, matches };
  }

  /** 64-bit key (two lanes) of words[i, i+len), from the prefix lanes. */
  private window(i: number, len: number): [number, number] {
    const { pa, pb } = this.lanes;
    const a = ((pa[i + len] as number) - Math.imul(pa[i] as number, powA(len))) >>> 0;
    const b = ((pb[i + len] as number) - Math.imul(pb[i] as number, powB(len))) >>> 0;
    // Mixing in the length keeps a short item's key apart from an n-gram with the same lane values.
    return [fmix32(a ^ Math.imul(len, 0x27d4eb2d)), fmix32(b + len)];
  }

  private find(a: number, b: number): number {
    const keys = this.keys;
    const vals = this.vals;
    let slot = (a ^ Math.imul(b, 0x9e3779b1)) & this.mask;
    while (vals[slot] !== EMPTY) {
      if (keys[2 * slot] === a && keys[2 * slot + 1] === b) return slot;
      slot = (slot + 1) & this.mask;
    }
    return -1;
  }

  private insert(a: number, b: number, idx: number): void {
    const found = this.find(a, b);
    if (found >= 0) {
      if (this.vals[found] === idx) return;
      const owners = this.shared.get(found) ?? [];
      if (!owners.includes(idx)) owners.push(idx);
      this.shared.set(found, owners);
      return;
    }
    if ((this.slotsUsed + 1) * 2 > this.vals.length) this.grow();
    let slot = (a ^ Math.imul(b, 0x9e3779b1)) & this.mask;
    while (this.vals[slot] !== EMPTY) slot = (slot + 1) & this.mask;
    this.keys[2 * slot] = a;
    this.keys[2 * slot + 1] = b;
    this.vals[slot] = idx;
    this.slotsUsed++;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const oldShared = new Map(this.shared);
    const cap = oldVals.length * 2;
    this.keys = new Uint32Array(cap * 2);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.shared.clear();
    for (let s = 0; s < oldVals.length; s++) {
      const v = oldVals[s] as number;
      if (v === EMPTY) continue;
      const a = oldKeys[2 * s] as number;
      const b = oldKeys[2 * s + 1] as number;
      let slot = (a ^ Math.imul(b, 0x9e3779b1)) & this.mask;
      while (this.vals[slot] !== EMPTY) slot = (slot + 1) & this.mask;
      this.keys[2 * slot] = a;
      this.keys[2 * slot + 1] = b;
      this.vals[slot] = v;
      const owners = oldShared.get(s);
      if (owners) this.shared.set(slot, owners);
    }
  }
}

interface Run {
  start: number;
  /** Start of the last window added (-2 when none yet). */
  last: number;
  /** Longest run of consecutive windows as a word span [from, to); empty [0, 0] when none. */
  best: [number, number];
}
interface Hit {
  keys: Set<string>;
  all: Run;
  evidence: Run;
  prose: Run;
}
const newRun = (): Run => ({ start: 0, last: -2, best: [0, 0] });
function extendRun(r: Run, i: number, len: number): void {
  if (i !== r.last + 1) r.start = i;
  r.last = i;
  if (i + len - r.start > r.best[1] - r.best[0]) r.best = [r.start, i + len];
}

/** Prefix counts of word positions covered by an occurrence of any phrase (hand-written: a few short phrases, so naive search). */
function coveredPrefix(words: string[], phrases: string[][]): Uint32Array {
  const mark = new Uint8Array(words.length);
  for (const p of phrases) {
    for (let i = 0; i + p.length <= words.length; i++) {
      let j = 0;
      while (j < p.length && words[i + j] === p[j]) j++;
      if (j === p.length) mark.fill(1, i, i + p.length);
    }
  }
  return prefixCounts(mark);
}

/** Prefix sums of 0/1 marks. */
function prefixCounts(marks: Uint8Array): Uint32Array {
  const pre = new Uint32Array(marks.length + 1);
  for (let i = 0; i < marks.length; i++) pre[i + 1] = (pre[i] as number) + (marks[i] as number);
  return pre;
}
