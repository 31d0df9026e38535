/** Seeded pseudo-random generator; the same seed gives the same stream on every run and platform. */
export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  nextFloat(): number;
  /** Uniform integer in [0, maxExclusive); `maxExclusive` must be in [1, 2^32]. */
  nextInt(maxExclusive: number): number;
  /** Standard normal sample (Box–Muller). */
  nextGaussian(): number;
}

const TWO_POW_32 = 4294967296;

/**
 * xoshiro128** (Blackman & Vigna 2018) seeded through splitmix32; hand-written because no installed package offers a
 * small seedable PRNG and `Math.random` cannot be seeded.
 */
export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed) || seed < 0 || seed >= TWO_POW_32) {
    throw new Error(`[infialign/kernels] rng: seed must be an integer in [0, 2^32), got ${seed}`);
  }
  let sm = seed >>> 0;
  const splitmix32 = (): number => {
    sm = (sm + 0x9e3779b9) | 0;
    let z = sm;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let s0 = splitmix32();
  let s1 = splitmix32();
  let s2 = splitmix32();
  let s3 = splitmix32();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  let spare: number | undefined;

  const nextUint32 = (): number => {
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return r;
  };
  const nextFloat = (): number => nextUint32() / TWO_POW_32;
  return {
    nextUint32,
    nextFloat,
    nextInt(maxExclusive: number): number {
      if (!(maxExclusive >= 1 && maxExclusive <= TWO_POW_32)) {
        throw new Error(`[infialign/kernels] rng: nextInt bound must be in [1, 2^32], got ${maxExclusive}`);
      }
      // Rejection sampling keeps the distribution exactly uniform.
      const limit = TWO_POW_32 - (TWO_POW_32 % maxExclusive);
      let x = nextUint32();
      while (x >= limit) x = nextUint32();
      return x % maxExclusive;
    },
    nextGaussian(): number {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      let u = 0;
      while (u === 0) u = nextFloat();
      const v = nextFloat();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
