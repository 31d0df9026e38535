import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  collisionProbability,
  DEFAULT_MINHASH_CONFIG,
  EMPTY_SIGNATURE_VALUE,
  estimateJaccard,
  findNearDuplicates,
  LshIndex,
  lshThreshold,
  MinHasher,
  resolveMinHashConfig,
} from "../src/minhash/index.js";
import { tokenizeForMatch } from "../src/normalize/normalizeForMatch.js";
import { mulberry32 as rng } from "./fixtures/transforms.js";


const VOCAB = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);
const randomWords = (rand: () => number, n: number) => Array.from({ length: n }, () => VOCAB[Math.floor(rand() * VOCAB.length)] as string);
/** Replaces a fraction `q` of the words with random ones. */
function mutate(rand: () => number, words: string[], q: number): string[] {
  const out = words.slice();
  for (let i = 0; i < out.length; i++) if (rand() < q) out[i] = VOCAB[Math.floor(rand() * VOCAB.length)] as string;
  return out;
}

/** Exact Jaccard of the shingle sets, built from joined strings (independent of the hashing code). */
function exactJaccard(a: string, b: string, k = 5): number {
  const shingles = (t: string) => {
    const w = tokenizeForMatch(t);
    const len = Math.min(k, w.length);
    const s = new Set<string>();
    for (let i = 0; i + len <= w.length && w.length > 0; i++) s.add(w.slice(i, i + len).join(" "));
    return s;
  };
  const sa = shingles(a);
  const sb = shingles(b);
  let inter = 0;
  for (const x of sa) if (sb.has(x)) inter++;
  const union = sa.size + sb.size - inter;
  return union === 0 ? 1 : inter / union;
}

describe("config", () => {
  it("defaults follow datatrove: 5-word shingles, 14 × 8 = 112 hashes, seed 1", () => {
    expect(resolveMinHashConfig()).toEqual({ shingleSize: 5, bands: 14, rowsPerBand: 8, seed: 1 });
    expect(DEFAULT_MINHASH_CONFIG).toEqual(resolveMinHashConfig({}));
    expect(resolveMinHashConfig({ bands: 20, rowsPerBand: undefined })).toEqual({ shingleSize: 5, bands: 20, rowsPerBand: 8, seed: 1 });
  });

  it("lists every invalid field at once", () => {
    let message = "";
    try {
      resolveMinHashConfig({ shingleSize: 0, bands: 2.5, rowsPerBand: -1, seed: Number.NaN });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^\[infialign\/decontam\] minhash: invalid config/);
    for (const field of ["shingleSize", "bands", "rowsPerBand", "seed"]) expect(message).toContain(`${field}:`);
    expect(() => resolveMinHashConfig({ bands: 1024, rowsPerBand: 8 })).toThrow(/at most 4096/);
  });
});

describe("LSH maths", () => {
  it("matches hand-computed values", () => {
    // (1/14)^(1/8) = exp(-ln 14 / 8) = exp(-0.3298822) = 0.7190085
    expect(lshThreshold(14, 8)).toBeCloseTo(0.7190085, 6);
    expect(lshThreshold(4, 2)).toBeCloseTo(0.5, 12);
    expect(lshThreshold(20, 13)).toBeCloseTo(0.79418, 5); // NeMo Curator's 20 × 13
    // datatrove: P(candidate | J = 0.8) = 1 - (1 - 0.8^8)^14 = 0.92354
    expect(collisionProbability(0.8, 14, 8)).toBeCloseTo(0.92354, 4);
    expect(collisionProbability(0.5, 2, 1)).toBeCloseTo(0.75, 12);
    expect(collisionProbability(0, 14, 8)).toBe(0);
    expect(collisionProbability(1, 14, 8)).toBe(1);
  });

  it("S-curve: monotone in Jaccard and ≈ 1/2 near the threshold", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 32 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (b, r, x, y) => {
          const [lo, hi] = x <= y ? [x, y] : [y, x];
          expect(collisionProbability(lo, b, r)).toBeLessThanOrEqual(collisionProbability(hi, b, r) + 1e-12);
        },
      ),
      { seed: 42, numRuns: 500 },
    );
    // At s = (1/b)^(1/r), s^r = 1/b and P = 1 - (1 - 1/b)^b → 1 - 1/e ≈ 0.63 for many bands: the steep middle of the S.
    expect(collisionProbability(lshThreshold(14, 8), 14, 8)).toBeCloseTo(1 - (13 / 14) ** 14, 12);
    for (const [b, r] of [
      [14, 8],
      [20, 13],
      [32, 8],
    ] as const) {
      const t = lshThreshold(b, r);
      expect(collisionProbability(t, b, r)).toBeGreaterThan(0.5);
      expect(collisionProbability(t, b, r)).toBeLessThan(0.65);
      expect(collisionProbability(t - 0.1, b, r)).toBeLessThan(0.35);
      expect(collisionProbability(t + 0.1, b, r)).toBeGreaterThan(0.85);
    }
  });
});

describe("MinHasher", () => {
  let hasher: MinHasher;
  beforeAll(async () => {
    hasher = await MinHasher.create();
  });

  it("gives bands × rowsPerBand values; identical texts (up to normalization) give identical signatures", () => {
    expect(hasher.numPermutations).toBe(112);
    const a = hasher.signature("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.");
    expect(a).toHaveLength(112);
    expect(hasher.signature("natalia SOLD clips to 48 of her friends in april and then she sold half as many clips in may")).toEqual(a);
    expect(hasher.signatureOfWords(tokenizeForMatch("Natalia sold clips to 48 of her friends in April"))).toEqual(
      hasher.signature("Natalia sold clips to 48 of her friends in April"),
    );
  });

  it("is deterministic across instances and depends on the seed", async () => {
    const text = "Find the number of ordered pairs (a, b) of positive integers with a + b = 100.";
    const b = await MinHasher.create();
    expect(b.signature(text)).toEqual(hasher.signature(text));
    expect(new MinHasher().signature(text)).toEqual(hasher.signature(text)); // module already loaded by create()
    const other = await MinHasher.create({ seed: 2 });
    expect(other.signature(text)).not.toEqual(hasher.signature(text));
    // Pinned values: a change of the hashing scheme changes every stored signature, so it must be deliberate.
    expect(Array.from(hasher.signature(text).subarray(0, 4))).toEqual([609310243, 122408867, 105761892, 20164958]);
  });

  it("empty text → all-0xffffffff signature; a short text is one shingle of all its words", () => {
    expect(Array.from(hasher.signature(""))).toEqual(new Array(112).fill(EMPTY_SIGNATURE_VALUE));
    expect(Array.from(hasher.signature(" $\\, ?! "))).toEqual(new Array(112).fill(EMPTY_SIGNATURE_VALUE));
    const short = hasher.signature("compute x squared");
    expect(short.every((v) => v !== EMPTY_SIGNATURE_VALUE)).toBe(true);
    // One shingle: every permutation's minimum is that shingle's hash, so order matters and a prefix differs.
    expect(estimateJaccard(short, hasher.signature("squared x compute"))).toBeLessThan(0.05);
    expect(estimateJaccard(short, hasher.signature("compute x"))).toBeLessThan(0.05);
  });

  it("estimates shingle Jaccard within ±0.1 over seeded pairs at several overlap levels", () => {
    const rand = rng(7);
    const fine = new MinHasher({ bands: 64, rowsPerBand: 8 });
    const errors: number[] = [];
    const fineErrors: number[] = [];
    for (const q of [0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8]) {
      for (let t = 0; t < 12; t++) {
        const base = randomWords(rand, 80 + Math.floor(rand() * 200));
        const a = base.join(" ");
        const b = mutate(rand, base, q).join(" ");
        const exact = exactJaccard(a, b);
        errors.push(estimateJaccard(hasher.signature(a), hasher.signature(b)) - exact);
        fineErrors.push(estimateJaccard(fine.signature(a), fine.signature(b)) - exact);
      }
    }
    const within = errors.filter((e) => Math.abs(e) <= 0.1).length / errors.length;
    const meanAbs = errors.reduce((s, e) => s + Math.abs(e), 0) / errors.length;
    const bias = errors.reduce((s, e) => s + e, 0) / errors.length;
    // 112 hashes: σ ≤ 0.5/√112 ≈ 0.047, so ±0.1 holds for ≈ 97% of pairs; 512 hashes (σ ≤ 0.022) for all of them.
    expect(within).toBeGreaterThanOrEqual(0.95);
    expect(meanAbs).toBeLessThan(0.04);
    expect(Math.abs(bias)).toBeLessThan(0.015);
    expect(Math.max(...fineErrors.map(Math.abs))).toBeLessThanOrEqual(0.1);
  });

  it("never throws and stays deterministic on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const sig = hasher.signature(text);
        expect(sig).toHaveLength(112);
        expect(hasher.signature(text)).toEqual(sig);
      }),
      { seed: 3, numRuns: 300 },
    );
  });

  it("estimateJaccard rejects signatures of different lengths", () => {
    expect(() => estimateJaccard(new Uint32Array(4), new Uint32Array(8))).toThrow(/different lengths/);
  });
});

describe("LshIndex", () => {
  it("returns earlier ids sharing a band, deduplicated; rejects signatures of the wrong length", async () => {
    const config = resolveMinHashConfig({ bands: 4, rowsPerBand: 2 });
    const index = new LshIndex(config);
    const sig = (vals: number[]) => Uint32Array.from(vals);
    index.add(10, sig([1, 2, 3, 4, 5, 6, 7, 8]));
    index.add(11, sig([1, 2, 0, 0, 0, 0, 0, 0])); // shares band 0 with 10
    index.add(12, sig([9, 9, 9, 9, 9, 9, 9, 9]));
    expect(index.size).toBe(3);
    expect(index.query(sig([1, 2, 3, 4, 5, 6, 7, 8])).sort()).toEqual([10, 11]);
    expect(index.query(sig([0, 0, 0, 0, 5, 6, 0, 0]))).toEqual([11, 10]); // bands 0, 1, 3 → 11, band 2 → 10; each once
    expect(index.query(sig([2, 1, 4, 3, 6, 5, 8, 7]))).toEqual([]); // same values, other order: no band matches
    expect(() => index.query(new Uint32Array(3))).toThrow(/bands × rowsPerBand = 8/);
  });
});

describe("findNearDuplicates", () => {
  const rand = rng(11);
  // ≥ 300 words, so 1–4 changed words keep Jaccard ≥ 0.87, where a pair becomes a candidate with probability > 0.998.
  const bases = Array.from({ length: 60 }, () => randomWords(rand, 300 + Math.floor(rand() * 200)));

  it("finds planted near-duplicates and merges nothing unrelated", async () => {
    // Texts 0..59 are unrelated; 60..79 copy one of them with 1–3 words changed, 80..84 copy a copy (a chain).
    const texts = bases.map((w) => w.join(" "));
    const planted = new Map<number, number>();
    for (let i = 0; i < 20; i++) {
      const src = (i * 7) % 60;
      const words = bases[src]?.slice() as string[];
      const changes = 1 + (i % 3);
      for (let c = 0; c < changes; c++) words[Math.floor(rand() * words.length)] = `changed${c}`;
      planted.set(texts.length, src);
      texts.push(words.join(" "));
    }
    for (let i = 0; i < 5; i++) {
      const src = 60 + i;
      const words = tokenizeForMatch(texts[src] as string);
      words[Math.floor(rand() * words.length)] = "again";
      planted.set(texts.length, planted.get(src) as number);
      texts.push(words.join(" "));
    }
    texts.push("", "");
    const res = await findNearDuplicates(texts);
    for (let i = 0; i < texts.length; i++) {
      const want = planted.get(i) ?? -1;
      expect([i, res.duplicateOf[i]]).toEqual([i, want]);
      if (want >= 0) expect(res.similarity[i]).toBeGreaterThan(0.6);
      else expect(res.similarity[i]).toBe(0);
    }
    // Each cluster: representative first, sorted ascending, every member points to it.
    const reps = new Set(planted.values());
    expect(res.clusters).toHaveLength(reps.size);
    for (const cluster of res.clusters) {
      expect(cluster).toEqual([...cluster].sort((a, b) => a - b));
      for (const m of cluster.slice(1)) expect(res.duplicateOf[m]).toBe(cluster[0]);
    }
    expect(res.verifiedPairs).toBeGreaterThanOrEqual(planted.size);
    expect(res.candidatePairs).toBeGreaterThanOrEqual(res.verifiedPairs);
  });

  it("merges chains transitively with the smallest index as representative", async () => {
    // a ~ base ~ c (Jaccard ≈ 0.90 each), but a and c differ in twice as many places (≈ 0.82 < minJaccard 0.86).
    // 512 hashes (σ ≈ 0.015) keep the estimates on the intended side of 0.86.
    const base = randomWords(rand, 600);
    const a = base.slice();
    const c = base.slice();
    for (let i = 25; i < 300; i += 50) a[i] = "left";
    for (let i = 325; i < 600; i += 50) c[i] = "right";
    const texts = [a.join(" "), "unrelated text about something else entirely here", base.join(" "), c.join(" ")];
    const res = await findNearDuplicates(texts, { minJaccard: 0.86, bands: 64, rowsPerBand: 8 });
    expect(Array.from(res.duplicateOf)).toEqual([-1, -1, 0, 0]);
    expect(res.clusters).toEqual([[0, 2, 3]]);
    expect(res.similarity[2]).toBeGreaterThanOrEqual(0.86);
    expect(res.similarity[3]).toBeLessThan(0.86); // reached only through the chain
  });

  it("respects minJaccard and is deterministic across calls", async () => {
    const texts = bases.slice(0, 20).flatMap((w) => [w.join(" "), mutate(rand, w, 0.03).join(" ")]);
    const first = await findNearDuplicates(texts);
    const second = await findNearDuplicates(texts);
    expect(second).toEqual(first);
    expect(first.clusters.length).toBeGreaterThan(10);
    const strict = await findNearDuplicates(texts, { minJaccard: 1 });
    expect(strict.verifiedPairs).toBeLessThan(first.verifiedPairs);
    for (let i = 0; i < texts.length; i++) if ((strict.duplicateOf[i] as number) >= 0) expect(strict.similarity[i]).toBe(1);
    await expect(findNearDuplicates(texts, { minJaccard: 2 })).rejects.toThrow(/minJaccard/);
    await expect(findNearDuplicates(texts, { bands: 0 })).rejects.toThrow(/bands:/);
  });
});
