import type { MinHashConfig } from "./config.js";

/**
 * LSH banding over MinHash signatures (MMDS §3.4): the signature is cut into `bands` runs of `rowsPerBand` values and
 * each band is hashed to a 32-bit bucket key, one map per band. A 32-bit key can collide by chance (≈ N²/2^33 pairs per
 * band), so `query` returns candidates; `findNearDuplicates` verifies each with `estimateJaccard`.
 */
export class LshIndex {
  readonly config: MinHashConfig;
  // Per band: bucket key → first id, or all ids once the bucket holds more than one.
  private readonly buckets: Map<number, number | number[]>[];
  private added = 0;

  constructor(config: MinHashConfig) {
    this.config = config;
    this.buckets = Array.from({ length: config.bands }, () => new Map());
  }

  /** Documents added. */
  get size(): number {
    return this.added;
  }

  /** Adds document `id` (any integer; ids are not checked for uniqueness). */
  add(id: number, signature: Uint32Array): void {
    this.check(signature);
    for (let band = 0; band < this.config.bands; band++) {
      const key = this.bandKey(signature, band);
      const map = this.buckets[band] as Map<number, number | number[]>;
      const cur = map.get(key);
      if (cur === undefined) map.set(key, id);
      else if (typeof cur === "number") map.set(key, [cur, id]);
      else cur.push(id);
    }
    this.added++;
  }

  /** Ids of previously added documents that share at least one band with `signature` (deduplicated, in order of first hit). */
  query(signature: Uint32Array): number[] {
    this.check(signature);
    const out: number[] = [];
    let seen: Set<number> | undefined;
    for (let band = 0; band < this.config.bands; band++) {
      const cur = (this.buckets[band] as Map<number, number | number[]>).get(this.bandKey(signature, band));
      if (cur === undefined) continue;
      seen ??= new Set();
      for (const id of typeof cur === "number" ? [cur] : cur) {
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(id);
      }
    }
    return out;
  }

  private bandKey(sig: Uint32Array, band: number): number {
    return lshBandHash(sig, band, this.config.rowsPerBand);
  }
  private check(signature: Uint32Array): void {
    const want = this.config.bands * this.config.rowsPerBand;
    if (signature.length !== want) {
      throw new Error(
        `[infialign/decontam] lsh-index: signature has ${signature.length} values but bands × rowsPerBand = ${want}; build signatures with the same config as the index.`,
      );
    }
  }
}

/**
 * murmur3-style hash of one band's rows of a MinHash signature; the band seeds the hash, so equal rows of different
 * bands never meet. Signed 32-bit: it stays a V8 small integer on 64-bit platforms, which makes faster Map keys.
 */
export function lshBandHash(sig: Uint32Array, band: number, rowsPerBand: number): number {
  let h = Math.imul(band + 1, 0x9e3779b1);
  for (let i = band * rowsPerBand, end = i + rowsPerBand; i < end; i++) {
    let k = Math.imul(sig[i] as number, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}
