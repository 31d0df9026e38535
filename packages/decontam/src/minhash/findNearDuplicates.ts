import { tokenizeForMatch } from "../normalize/normalizeForMatch.js";
import { lshThreshold, type MinHashConfig, resolveMinHashConfig } from "./config.js";
import { LshIndex } from "./lshIndex.js";
import { EMPTY_SIGNATURE_VALUE, estimateJaccard, MinHasher } from "./minHasher.js";

export interface NearDuplicateOptions extends Partial<MinHashConfig> {
  /**
   * Drop LSH candidate pairs whose estimated Jaccard similarity is below this (removes band-hash collisions and
   * pairs that collided in one band by chance).
   * @default lshThreshold(bands, rowsPerBand) ≈ 0.72 for 14 × 8
   */
  minJaccard?: number;
}

export interface NearDuplicateResult {
  /** For each input index: index of the kept representative (first occurrence in input order) it duplicates, or -1. */
  duplicateOf: Int32Array;
  /** Estimated Jaccard similarity to the representative (0 where duplicateOf = -1). */
  similarity: Float32Array;
  /** Clusters of size ≥ 2, each sorted ascending, representative first; ordered by representative. */
  clusters: number[][];
  /** Distinct (earlier, later) pairs that shared at least one LSH band. */
  candidatePairs: number;
  /** Candidate pairs whose estimated Jaccard reached `minJaccard` (the edges that were merged). */
  verifiedPairs: number;
}

/**
 * Near-duplicate clusters within `texts` by MinHash + LSH (datatrove's Signature → Buckets → Cluster stages in memory).
 *
 * Every text is signed, each is queried against the earlier ones in the LSH index, and candidate pairs with estimated
 * Jaccard ≥ `minJaccard` are merged by union-find. As in datatrove, chains are merged transitively: if A ~ B and
 * B ~ C, all three form one cluster even when A and C are less similar than `minJaccard`, so `similarity` (to the
 * representative) can fall below it. The representative is the smallest index of the cluster: keep it, drop the rest.
 * Texts with no words (empty signature) are never paired.
 */
export async function findNearDuplicates(texts: readonly string[], options: NearDuplicateOptions = {}): Promise<NearDuplicateResult> {
  const { minJaccard, ...rest } = options;
  const config = resolveMinHashConfig(rest);
  const threshold = minJaccard ?? lshThreshold(config.bands, config.rowsPerBand);
  if (!(threshold >= 0 && threshold <= 1)) {
    throw new Error(`[infialign/decontam] minhash: invalid minJaccard ${minJaccard}; use a number in [0, 1].`);
  }
  const hasher = await MinHasher.create(config);
  const n = texts.length;
  const P = hasher.numPermutations;
  const sigs = new Uint32Array(n * P);
  const index = new LshIndex(config);
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      const up = parent[parent[x] as number] as number;
      parent[x] = up; // path halving
      x = up;
    }
    return x;
  };
  let candidatePairs = 0;
  let verifiedPairs = 0;
  for (let i = 0; i < n; i++) {
    const sig = hasher.signatureOfWords(tokenizeForMatch(texts[i] as string), sigs.subarray(i * P, (i + 1) * P));
    if (sig[0] === EMPTY_SIGNATURE_VALUE && isEmpty(sig)) continue;
    for (const j of index.query(sig)) {
      candidatePairs++;
      if (estimateJaccard(sig, sigs.subarray(j * P, (j + 1) * P)) < threshold) continue;
      verifiedPairs++;
      const ri = find(i);
      const rj = find(j);
      // Union by smallest index, so every root is its cluster's representative.
      if (ri < rj) parent[rj] = ri;
      else if (rj < ri) parent[ri] = rj;
    }
    index.add(i, sig);
  }
  const duplicateOf = new Int32Array(n).fill(-1);
  const similarity = new Float32Array(n);
  const byRep = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    if (r === i) continue;
    duplicateOf[i] = r;
    similarity[i] = estimateJaccard(sigs.subarray(i * P, (i + 1) * P), sigs.subarray(r * P, (r + 1) * P));
    const members = byRep.get(r);
    if (members) members.push(i);
    else byRep.set(r, [r, i]);
  }
  const clusters = [...byRep.values()].sort((x, y) => (x[0] as number) - (y[0] as number));
  return { duplicateOf, similarity, clusters, candidatePairs, verifiedPairs };
}

function isEmpty(sig: Uint32Array): boolean {
  for (let i = 0; i < sig.length; i++) if (sig[i] !== EMPTY_SIGNATURE_VALUE) return false;
  return true;
}
