import { z } from "zod";
import { resolveConfig } from "../config/resolveConfig.js";

/** Configuration of MinHash signatures and their LSH banding (datatrove `MinhashConfig` defaults). */
export interface MinHashConfig {
  /**
   * Words per shingle (word n-gram over `tokenizeForMatch` tokens). Texts with fewer words form one shingle of all their words.
   * @default 5 (datatrove)
   */
  shingleSize: number;
  /**
   * LSH bands. Two documents become candidates when all `rowsPerBand` hashes of at least one band agree.
   * @default 14 (datatrove)
   */
  bands: number;
  /**
   * Hashes (permutations) per band; the signature has `bands * rowsPerBand` values.
   * Defaults give 112 permutations and a Jaccard threshold (1/14)^(1/8) ≈ 0.72 (see `lshThreshold`).
   * @default 8 (datatrove)
   */
  rowsPerBand: number;
  /**
   * Seed of the permutation family; the same seed gives the same signatures on every run and platform.
   * @default 1 (datatrove)
   */
  seed: number;
}

export const DEFAULT_MINHASH_CONFIG: Readonly<MinHashConfig> = Object.freeze({ shingleSize: 5, bands: 14, rowsPerBand: 8, seed: 1 });

const ConfigSchema = z.object({
  shingleSize: z.number().int().min(1).max(1000),
  bands: z.number().int().min(1).max(1024),
  rowsPerBand: z.number().int().min(1).max(1024),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1),
});

/** Merges options over the defaults and validates every field at once. */
export function resolveMinHashConfig(partial: Partial<MinHashConfig> = {}): MinHashConfig {
  const config = resolveConfig("minhash", ConfigSchema, DEFAULT_MINHASH_CONFIG, partial);
  if (config.bands * config.rowsPerBand > 4096) {
    throw new Error(
      `[infialign/decontam] minhash: invalid config (bands * rowsPerBand = ${config.bands * config.rowsPerBand} permutations; use at most 4096)`,
    );
  }
  return config;
}

/**
 * Jaccard similarity at which a pair becomes an LSH candidate with probability ≈ 1/2: (1/b)^(1/r)
 * (Leskovec, Rajaraman & Ullman, Mining of Massive Datasets §3.4.3). ≈ 0.72 for 14 × 8.
 */
export function lshThreshold(bands: number, rowsPerBand: number): number {
  return (1 / bands) ** (1 / rowsPerBand);
}

/** Probability that a pair with Jaccard similarity `jaccard` shares at least one band: 1 − (1 − s^r)^b (MMDS §3.4.2). */
export function collisionProbability(jaccard: number, bands: number, rowsPerBand: number): number {
  return 1 - (1 - jaccard ** rowsPerBand) ** bands;
}
