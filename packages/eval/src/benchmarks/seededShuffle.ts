import { createRng } from "@infialign/kernels";

/** FNV-1a (32-bit) of a string: turns (seed, item id) into an RNG seed, so an item's draw does not depend on file order. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The position (0…n−1) at which an item's correct answer is inserted, drawn from an RNG seeded by `seed` and `id`. */
export function goldPosition(seed: number, id: string, n: number): number {
  return createRng(fnv1a32(`${seed}\u0000${id}`)).nextInt(n);
}
