import { canonicalJson, sha256Hex } from "@infialign/data";
import { cosineTopK } from "@infialign/kernels";
import type { Embedder } from "../embed/embedder.js";
import { type Domain, isDomain } from "./taxonomy.js";

export interface KnnLabelerOptions {
  /** Neighbours that vote. @default 10 */
  k?: number;
}

export interface KnnLabel {
  domain: Domain;
  /** Share of the k votes the winner got. */
  score: number;
  source: "knn";
}

/**
 * Labels a text by majority vote of its k nearest seed texts (cosine of their embeddings);
 * ties go to the domain with the larger summed similarity.
 */
export class KnnLabeler {
  private constructor(
    /** Identity of the embedder, `k` and the seed set (a hash of its texts and domains), for cache and stage keys. */
    readonly id: string,
    readonly embedder: Embedder,
    private readonly keys: Float32Array,
    private readonly labels: readonly Domain[],
    readonly k: number,
  ) {}

  static async build(seed: readonly { text: string; domain: Domain }[], embedder: Embedder, options: KnnLabelerOptions = {}): Promise<KnnLabeler> {
    const k = options.k ?? 10;
    if (!(Number.isInteger(k) && k > 0)) throw new Error(`[infialign/sampling] knn-labeler: k must be a positive integer, got ${k}`);
    if (seed.length === 0) throw new Error("[infialign/sampling] knn-labeler: the seed set is empty; pass labeled examples ({ text, domain }).");
    const bad = seed.find((s) => !isDomain(s.domain));
    if (bad) throw new Error(`[infialign/sampling] knn-labeler: seed domain "${bad.domain}" is not a taxonomy id`);
    const keys = await embedder.embed(seed.map((s) => s.text));
    const id = `knn:${embedder.id}:k${k}:seeds${seed.length}:${sha256Hex(canonicalJson(seed.map((s) => [s.text, s.domain]))).slice(0, 16)}`;
    return new KnnLabeler(id, embedder, keys, seed.map((s) => s.domain), k);
  }

  /** Seed examples held. */
  get size(): number {
    return this.labels.length;
  }

  async label(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<KnnLabel[]> {
    if (texts.length === 0) return [];
    const queries = await this.embedder.embed(texts, options);
    const { indices, scores } = cosineTopK(queries, this.keys, this.embedder.dim, this.k);
    return texts.map((_, q) => {
      const votes = new Map<Domain, { count: number; sim: number }>();
      let cast = 0;
      for (let j = q * this.k; j < (q + 1) * this.k; j++) {
        const idx = indices[j] as number;
        if (idx < 0) break;
        const domain = this.labels[idx] as Domain;
        const v = votes.get(domain) ?? { count: 0, sim: 0 };
        v.count++;
        v.sim += scores[j] as number;
        votes.set(domain, v);
        cast++;
      }
      let best: [Domain, { count: number; sim: number }] | undefined;
      for (const entry of votes) {
        if (!best || entry[1].count > best[1].count || (entry[1].count === best[1].count && entry[1].sim > best[1].sim)) best = entry;
      }
      const [domain, v] = best as [Domain, { count: number; sim: number }];
      return { domain, score: v.count / cast, source: "knn" as const };
    });
  }
}
