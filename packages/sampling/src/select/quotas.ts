import { fmix } from "../embed/hash.js";

/** 32-bit seeded hash of a string (FNV-1a then a murmur3 finalizer); used only to break ties reproducibly. */
export function seededHash(seed: number, text: string): number {
  let h = (0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix(h);
}

export interface WaterFillBin {
  key: string;
  /** Most units the bin can take (records available). */
  capacity: number;
  /** Relative share; bins with weight 0 get nothing. */
  weight: number;
}

/**
 * Splits `total` integer units over bins in proportion to their weights, never above a
 * bin's capacity: a bin that cannot take its share is filled and its surplus is shared
 * again over the others (water-filling). Integer parts by largest remainder, ties broken
 * by a seeded hash of the key. Returns units per key; the sum is min(total, Σ capacity of
 * bins with weight > 0).
 */
export function waterFill(bins: readonly WaterFillBin[], total: number, seed = 0): Map<string, number> {
  const out = new Map<string, number>(bins.map((b) => [b.key, 0]));
  let active = bins.filter((b) => b.weight > 0 && b.capacity > 0);
  let remaining = Math.max(0, Math.floor(total));
  // Fill saturated bins until every remaining bin's share is below its capacity.
  for (;;) {
    const w = active.reduce((a, b) => a + b.weight, 0);
    if (active.length === 0 || remaining === 0) return out;
    const saturated = active.filter((b) => b.capacity <= (remaining * b.weight) / w);
    if (saturated.length === 0) break;
    for (const b of saturated) {
      out.set(b.key, b.capacity);
      remaining -= b.capacity;
    }
    active = active.filter((b) => !saturated.includes(b));
  }
  const w = active.reduce((a, b) => a + b.weight, 0);
  const shares = active.map((b) => {
    const exact = (remaining * b.weight) / w;
    const base = Math.min(b.capacity, Math.floor(exact));
    return { b, base, frac: exact - base, tie: seededHash(seed, b.key) };
  });
  let left = remaining - shares.reduce((a, s) => a + s.base, 0);
  shares.sort((x, y) => y.frac - x.frac || x.tie - y.tie || (x.b.key < y.b.key ? -1 : 1));
  // Normally one pass; the loop guards against float rounding leaving a unit over.
  while (left > 0) {
    let gave = false;
    for (const s of shares) {
      if (left === 0) break;
      if (s.base < s.b.capacity) {
        s.base++;
        left--;
        gave = true;
      }
    }
    if (!gave) break;
  }
  for (const s of shares) out.set(s.b.key, s.base);
  return out;
}
