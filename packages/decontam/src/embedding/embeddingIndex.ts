import { cosineTopK } from "@infialign/kernels";
import { z } from "zod";
import type { BenchmarkItem } from "../benchmarks/loadBenchmark.js";
import { resolveConfig } from "../config/resolveConfig.js";

/**
 * A text embedder, declared structurally so any model wrapper fits (the sampling package's embedders do) without
 * decontam depending on it.
 */
export interface TextEmbedder {
  readonly id: string;
  readonly dim: number;
  /** n×dim row-major, rows L2-normalized. */
  embed(texts: readonly string[]): Promise<Float32Array>;
}

/** Options of `EmbeddingIndex`. */
export interface EmbeddingIndexConfig {
  /**
   * Minimum cosine similarity reported as a match. 0.9 is a conservative default for sentence embedders on
   * math problems; calibrate per embedder (see `EmbeddingIndex.checkBatch`).
   * @default 0.9
   */
  threshold: number;
  /**
   * Most matches kept per text, best first.
   * @default 3
   */
  topK: number;
  /**
   * Texts embedded per `embed` call.
   * @default 256
   */
  batchSize: number;
}

export const DEFAULT_EMBEDDING_INDEX_CONFIG: Readonly<EmbeddingIndexConfig> = Object.freeze({ threshold: 0.9, topK: 3, batchSize: 256 });

export const EmbeddingIndexConfigSchema = z.object({
  threshold: z.number().min(-1).max(1),
  topK: z.number().int().min(1),
  batchSize: z.number().int().min(1),
});

/** Merges options over the defaults and validates every field at once. */
export function resolveEmbeddingIndexConfig(opts: Partial<EmbeddingIndexConfig> = {}): EmbeddingIndexConfig {
  return resolveConfig("embedding-index", EmbeddingIndexConfigSchema, DEFAULT_EMBEDDING_INDEX_CONFIG, opts);
}

/** One benchmark item whose embedding is close to a checked text's. */
export interface EmbeddingMatch {
  benchmark: string;
  id: string;
  cosine: number;
}

/** Embedding-similarity check: benchmark items are embedded once; texts are matched by exact cosine top-k. */
export class EmbeddingIndex {
  readonly config: EmbeddingIndexConfig;
  readonly embedder: TextEmbedder;
  private readonly items: BenchmarkItem[];
  private readonly keys: Float32Array;

  private constructor(items: BenchmarkItem[], keys: Float32Array, embedder: TextEmbedder, config: EmbeddingIndexConfig) {
    this.items = items;
    this.keys = keys;
    this.embedder = embedder;
    this.config = config;
  }

  /** Embeds every item with `embedder`. */
  static async build(items: Iterable<BenchmarkItem>, embedder: TextEmbedder, opts: Partial<EmbeddingIndexConfig> = {}): Promise<EmbeddingIndex> {
    const config = resolveEmbeddingIndexConfig(opts);
    const list = [...items];
    const keys = await embedAll(embedder, list.map((it) => it.text), config.batchSize);
    return new EmbeddingIndex(list, keys, embedder, config);
  }

  get itemCount(): number {
    return this.items.length;
  }

  /** For each text, the items with cosine ≥ `threshold`, best first (at most `topK`). */
  async checkBatch(texts: readonly string[]): Promise<{ matches: EmbeddingMatch[] }[]> {
    if (texts.length === 0 || this.items.length === 0) return texts.map(() => ({ matches: [] }));
    const queries = await embedAll(this.embedder, texts, this.config.batchSize);
    const k = Math.min(this.config.topK, this.items.length);
    const { indices, scores } = cosineTopK(queries, this.keys, this.embedder.dim, k);
    return texts.map((_, q) => {
      const matches: EmbeddingMatch[] = [];
      for (let j = 0; j < k; j++) {
        const idx = indices[q * k + j] as number;
        const cosine = scores[q * k + j] as number;
        if (idx < 0 || cosine < this.config.threshold) break;
        const item = this.items[idx] as BenchmarkItem;
        matches.push({ benchmark: item.benchmark, id: item.id, cosine });
      }
      return { matches };
    });
  }
}

async function embedAll(embedder: TextEmbedder, texts: readonly string[], batchSize: number): Promise<Float32Array> {
  const dim = embedder.dim;
  const out = new Float32Array(texts.length * dim);
  for (let i = 0; i < texts.length; i += batchSize) {
    const batch = texts.slice(i, i + batchSize);
    const rows = await embedder.embed(batch);
    if (rows.length !== batch.length * dim) {
      throw new Error(
        `[infialign/decontam] embedding-index: embedder "${embedder.id}" returned ${rows.length} floats for ${batch.length} texts of dim ${dim} (expected ${batch.length * dim})`,
      );
    }
    out.set(rows, i * dim);
  }
  return out;
}
