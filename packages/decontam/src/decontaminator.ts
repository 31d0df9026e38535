import { sha256OfParts } from "@infialign/data";
import { z } from "zod";
import type { BenchmarkItem } from "./benchmarks/loadBenchmark.js";
import { type BenchmarkSetIdentity, benchmarkSetIdentity } from "./config/benchmarkSetIdentity.js";
import { EmbeddingIndex, type EmbeddingIndexConfig, resolveEmbeddingIndexConfig, type TextEmbedder } from "./embedding/embeddingIndex.js";
import { type ParaphraseIndexConfig, resolveParaphraseIndexConfig } from "./fuzzy/config.js";
import { ParaphraseIndex } from "./fuzzy/paraphraseIndex.js";
import { type NgramIndexConfig, resolveNgramIndexConfig } from "./ngram/config.js";
import { NgramIndex } from "./ngram/ngramIndex.js";

/** Configuration of `Decontaminator`: one section per layer. */
export interface DecontaminatorConfig {
  /** Verbatim layer (see `NgramIndexConfig`). */
  ngram: NgramIndexConfig;
  /** Paraphrase layer (see `ParaphraseIndexConfig`); `enabled: false` leaves only n-grams (and embeddings) on. */
  paraphrase: ParaphraseIndexConfig & {
    /** @default true */
    enabled: boolean;
  };
  /** Embedding layer, used by `checkBatch` when an embedder is given (see `EmbeddingIndexConfig`). */
  embedding: EmbeddingIndexConfig;
}

/** What `Decontaminator.build` accepts: any subset of any section. */
export interface DecontaminatorOptions {
  ngram?: Partial<NgramIndexConfig>;
  paraphrase?: Partial<DecontaminatorConfig["paraphrase"]>;
  embedding?: Partial<EmbeddingIndexConfig>;
}

const SectionsSchema = z
  .object({
    ngram: z.record(z.string(), z.unknown()).optional(),
    paraphrase: z.object({ enabled: z.boolean().optional() }).loose().optional(),
    embedding: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** Merges options over the defaults, section by section, and validates every field. */
export function resolveDecontaminatorConfig(opts: DecontaminatorOptions = {}): DecontaminatorConfig {
  const parsed = SectionsSchema.safeParse(opts);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`[infialign/decontam] decontaminator: invalid config (${issues})`);
  }
  const { enabled, ...paraphrase } = opts.paraphrase ?? {};
  return {
    ngram: resolveNgramIndexConfig(opts.ngram),
    paraphrase: { enabled: enabled ?? true, ...resolveParaphraseIndexConfig(paraphrase) },
    embedding: resolveEmbeddingIndexConfig(opts.embedding),
  };
}

export const DEFAULT_DECONTAMINATOR_CONFIG: Readonly<DecontaminatorConfig> = Object.freeze(resolveDecontaminatorConfig());

/** What `Decontaminator.build` takes besides the items and config. */
export interface DecontaminatorBuildOptions {
  /** Turns the embedding layer on (used by `checkBatch`). @default none */
  embedder?: TextEmbedder;
  /**
   * Texts of the corpus being cleaned (or a sample of it). Phrases recurring there are stock: item n-grams in
   * `ngram.backgroundStockDocs` documents that are not copies of the item, and paraphrase features common there (see
   * `paraphrase.maxDocFrequency`). @default none
   */
  background?: Iterable<string>;
}

/** One benchmark item a text matched, and how. */
export interface Match {
  benchmark: string;
  id: string;
  method: "ngram" | "paraphrase" | "embedding";
  /** Evidence: the matched word span (ngram) or the item's heaviest shared features (paraphrase). */
  ngram?: string;
  /** ngram only: share of the item's n-grams found in the text. */
  overlap?: number;
  /** paraphrase: IDF-weighted containment score; embedding: cosine. */
  score?: number;
}

export interface CheckResult {
  contaminated: boolean;
  /** ngram matches first, then paraphrase, then embedding; one entry per item (its strongest layer). */
  matches: Match[];
}

/**
 * Combined benchmark decontamination: verbatim n-grams (stock phrases discounted), paraphrase-level feature containment,
 * and, with an embedder, embedding cosine similarity.
 */
export class Decontaminator {
  readonly config: DecontaminatorConfig;
  readonly ngram: NgramIndex;
  readonly paraphrase: ParaphraseIndex | undefined;
  readonly embedding: EmbeddingIndex | undefined;
  /** What the verdicts depend on: items, resolved config, embedder id, background texts (hashed into a stage's key). */
  readonly identity: BenchmarkSetIdentity;

  private constructor(identity: BenchmarkSetIdentity, config: DecontaminatorConfig, ngram: NgramIndex, paraphrase?: ParaphraseIndex, embedding?: EmbeddingIndex) {
    this.identity = identity;
    this.config = config;
    this.ngram = ngram;
    this.paraphrase = paraphrase;
    this.embedding = embedding;
  }

  /** Indexes `items` for every enabled layer; the embedding layer only when `options.embedder` is given. */
  static async build(items: Iterable<BenchmarkItem>, config: DecontaminatorOptions = {}, options: DecontaminatorBuildOptions = {}): Promise<Decontaminator> {
    const resolved = resolveDecontaminatorConfig(config);
    const list = [...items];
    const background = options.background ? [...options.background] : [];
    const ngram = await NgramIndex.build(list, resolved.ngram, { background });
    const { enabled, ...paraphraseConfig } = resolved.paraphrase;
    const paraphrase = enabled ? ParaphraseIndex.build(list, paraphraseConfig, { background }) : undefined;
    const embedding = options.embedder ? await EmbeddingIndex.build(list, options.embedder, resolved.embedding) : undefined;
    const identity = benchmarkSetIdentity(list, resolved, options.embedder?.id);
    if (background.length > 0) identity.backgroundSha256 = sha256OfParts(background);
    return new Decontaminator(identity, resolved, ngram, paraphrase, embedding);
  }

  /** n-gram and paraphrase layers (sync). Never throws on any string. */
  check(text: string): CheckResult {
    const matches: Match[] = [];
    const seen = new Set<string>();
    for (const m of this.ngram.check(text).matches) {
      seen.add(`${m.benchmark}\u0000${m.id}`);
      matches.push({ benchmark: m.benchmark, id: m.id, method: "ngram", ngram: m.ngram, overlap: m.overlap });
    }
    if (this.paraphrase) {
      for (const m of this.paraphrase.check(text)) {
        const key = `${m.benchmark}\u0000${m.id}`;
        if (seen.has(key)) continue;
        seen.add(key);
        matches.push({ benchmark: m.benchmark, id: m.id, method: "paraphrase", ngram: m.features, score: m.score });
      }
    }
    return { contaminated: matches.length > 0, matches };
  }

  /** `check` for each text, plus the embedding layer when the decontaminator was built with an embedder. */
  async checkBatch(texts: readonly string[]): Promise<CheckResult[]> {
    const results = texts.map((t) => this.check(t));
    if (!this.embedding) return results;
    const emb = await this.embedding.checkBatch(texts);
    for (let i = 0; i < texts.length; i++) {
      const r = results[i] as CheckResult;
      const seen = new Set(r.matches.map((m) => `${m.benchmark}\u0000${m.id}`));
      for (const m of (emb[i] as { matches: { benchmark: string; id: string; cosine: number }[] }).matches) {
        if (seen.has(`${m.benchmark}\u0000${m.id}`)) continue;
        r.matches.push({ benchmark: m.benchmark, id: m.id, method: "embedding", score: m.cosine });
      }
      r.contaminated = r.matches.length > 0;
    }
    return results;
  }
}
