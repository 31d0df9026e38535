import { createHash } from "node:crypto";
import { l2NormalizeRows } from "@infialign/kernels";
import { z } from "zod";
import { type Embedder, embedError } from "./embedder.js";
import { fmix, murmur3 } from "./hash.js";

const Range = z.tuple([z.number().int().min(1), z.number().int().min(1)]).refine(([lo, hi]) => lo <= hi, "expected [min, max] with min <= max");

export const HashingEmbedderConfigSchema = z.object({
  dim: z.number().int().min(1),
  wordNgrams: Range,
  charNgrams: Range,
  buckets: z.number().int().min(2).max(2 ** 31),
  sublinearTf: z.boolean(),
  seed: z.number().int(),
  sparsity: z.number().min(1),
});

export interface HashingEmbedderConfig {
  /** Output vector length. @default 256 */
  dim: number;
  /** Word n-gram orders, inclusive. @default [1, 2] */
  wordNgrams: [number, number];
  /** Character n-gram orders within words (with `<` `>` boundary markers), inclusive. @default [3, 5] */
  charNgrams: [number, number];
  /** Size of the feature-hashing space (IDF is kept per bucket). @default 2 ** 20 */
  buckets: number;
  /** Use `1 + ln(tf)` instead of raw term counts. @default true */
  sublinearTf: boolean;
  /** Seed of the feature hashes and of the random projection. @default 0 */
  seed: number;
  /**
   * `s` of the very sparse random projection (Li, Hastie & Church 2006): each entry of the
   * `buckets × dim` matrix is `±sqrt(s)` with probability `1/(2s)` each, else 0. Li et al.
   * suggest `s = sqrt(buckets)`, which for a 256-wide output would drop most features
   * (under one non-zero per row), so the default keeps about 16 non-zeros per feature.
   * @default max(1, dim / 16)
   */
  sparsity: number;
}

export const DEFAULT_HASHING_EMBEDDER_CONFIG: Omit<HashingEmbedderConfig, "sparsity"> = {
  dim: 256,
  wordNgrams: [1, 2],
  charNgrams: [3, 5],
  buckets: 2 ** 20,
  sublinearTf: true,
  seed: 0,
};

/** Fills defaults (the sparsity default derives from `dim`) and validates, reporting every bad field. */
export function resolveHashingEmbedderConfig(config: Partial<HashingEmbedderConfig> = {}): HashingEmbedderConfig {
  const merged = { ...DEFAULT_HASHING_EMBEDDER_CONFIG, ...config };
  const withSparsity = { ...merged, sparsity: config.sparsity ?? Math.max(1, merged.dim / 16) };
  const parsed = HashingEmbedderConfigSchema.safeParse(withSparsity);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "config"}: ${i.message}`).join("; ");
    throw embedError("hashing-embedder", `invalid config (${issues})`);
  }
  return parsed.data as HashingEmbedderConfig;
}

// LaTeX commands, words (letters + combining marks), numbers with decimals, and the operators that mark formulas.
const TOKEN = /\\[a-z]+|[\p{L}\p{M}]+|\p{N}+(?:[.,]\p{N}+)*|[=<>^!%+*/|]/gu;

/** Unicode-aware lowercase tokens: words, numbers, LaTeX commands (`\frac`), formula operators. */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(TOKEN) ?? [];
}

const SerializedSchema = z.object({
  format: z.literal("infialign-hashing-embedder"),
  version: z.literal(1),
  config: HashingEmbedderConfigSchema,
  documents: z.number().int().nonnegative(),
  df: z.object({ buckets: z.array(z.number().int().nonnegative()), counts: z.array(z.number().int().positive()) }),
});

/**
 * Training-free text embedder: word and character n-grams, signed feature hashing into
 * `buckets`, TF × IDF, then a seeded very sparse random projection to `dim` whose columns
 * are generated on the fly from the bucket index (no matrix in memory), then L2
 * normalization. Deterministic for a seed and a fitted IDF table.
 */
export class HashingEmbedder implements Embedder {
  readonly config: HashingEmbedderConfig;
  private df = new Map<number, number>();
  private documents = 0;
  private idfTag = "";

  constructor(config: Partial<HashingEmbedderConfig> = {}) {
    this.config = resolveHashingEmbedderConfig(config);
  }

  get dim(): number {
    return this.config.dim;
  }

  get id(): string {
    const c = this.config;
    return `hashing:d${c.dim}:w${c.wordNgrams.join("-")}:c${c.charNgrams.join("-")}:b${c.buckets}:s${c.sparsity}:tf${c.sublinearTf ? "log" : "raw"}:seed${c.seed}${this.idfTag}`;
  }

  /** Documents seen by `fit` (0 when unfitted). */
  get fittedDocuments(): number {
    return this.documents;
  }

  /** Learns document frequencies per hashed feature from `texts`, replacing any earlier fit. Unfitted, IDF is 1. */
  fit(texts: Iterable<string>): this {
    const df = new Map<number, number>();
    let documents = 0;
    const seen = new Set<number>();
    for (const text of texts) {
      documents++;
      seen.clear();
      this.features(text, (bucket) => seen.add(bucket));
      for (const b of seen) df.set(b, (df.get(b) ?? 0) + 1);
    }
    this.df = df;
    this.documents = documents;
    this.idfTag = documents > 0 ? `:idf${this.dfHash()}` : "";
    return this;
  }

  embedSync(texts: readonly string[]): Float32Array {
    const { dim, sublinearTf } = this.config;
    const out = new Float32Array(texts.length * dim);
    const tf = new Map<number, number>();
    const row = new Float64Array(dim);
    texts.forEach((text, r) => {
      tf.clear();
      this.features(text, (bucket, sign) => tf.set(bucket, (tf.get(bucket) ?? 0) + sign));
      row.fill(0);
      for (const [bucket, count] of tf) {
        if (count === 0) continue;
        const magnitude = sublinearTf ? 1 + Math.log(Math.abs(count)) : Math.abs(count);
        this.project(bucket, Math.sign(count) * magnitude * this.idf(bucket), row);
      }
      out.set(row, r * dim);
    });
    return l2NormalizeRows(out, dim);
  }

  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Float32Array> {
    options.signal?.throwIfAborted();
    return this.embedSync(texts);
  }

  toJSON(): z.infer<typeof SerializedSchema> {
    const buckets = [...this.df.keys()].sort((a, b) => a - b);
    return {
      format: "infialign-hashing-embedder",
      version: 1,
      config: this.config,
      documents: this.documents,
      df: { buckets, counts: buckets.map((b) => this.df.get(b) as number) },
    };
  }

  static fromJSON(json: unknown): HashingEmbedder {
    const parsed = SerializedSchema.safeParse(json);
    if (!parsed.success) {
      throw embedError("hashing-embedder", `not a serialized HashingEmbedder (${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")})`);
    }
    const { config, documents, df } = parsed.data;
    if (df.buckets.length !== df.counts.length) throw embedError("hashing-embedder", "df.buckets and df.counts differ in length");
    const embedder = new HashingEmbedder(config as HashingEmbedderConfig);
    embedder.df = new Map(df.buckets.map((b, i) => [b, df.counts[i] as number]));
    embedder.documents = documents;
    embedder.idfTag = documents > 0 ? `:idf${embedder.dfHash()}` : "";
    return embedder;
  }

  /** Smoothed IDF, `ln((1 + N) / (1 + df)) + 1` (as scikit-learn), so unseen features weigh most. */
  private idf(bucket: number): number {
    if (this.documents === 0) return 1;
    return Math.log((1 + this.documents) / (1 + (this.df.get(bucket) ?? 0))) + 1;
  }

  private features(text: string, emit: (bucket: number, sign: 1 | -1) => void): void {
    const { wordNgrams, charNgrams, buckets, seed } = this.config;
    const add = (key: string) => {
      const h = murmur3(key, seed);
      // The sign comes from an independent mix of the hash, so colliding features cancel on average.
      emit(h % buckets, fmix(h ^ 0x9e3779b9) & 1 ? 1 : -1);
    };
    const tokens = tokenize(text);
    for (let n = wordNgrams[0]; n <= wordNgrams[1]; n++) {
      for (let i = 0; i + n <= tokens.length; i++) add(`w${n}:${tokens.slice(i, i + n).join(" ")}`);
    }
    for (const token of tokens) {
      if (!/^[\p{L}\p{M}]/u.test(token)) continue;
      const w = `<${token}>`;
      for (let n = charNgrams[0]; n <= charNgrams[1]; n++) {
        for (let i = 0; i + n <= w.length; i++) add(`c${w.slice(i, i + n)}`);
      }
    }
  }

  /** Adds `value ×` row `bucket` of the implicit projection matrix to `out`. */
  private project(bucket: number, value: number, out: Float64Array): void {
    const { dim, sparsity, seed } = this.config;
    let state = fmix((bucket ^ Math.imul(seed, 0x9e3779b1)) + 0x6d2b79f5);
    const next = () => {
      // mulberry32: a small seeded PRNG, so each row is reproducible from its bucket alone.
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const scale = value * Math.sqrt(sparsity);
    if (sparsity <= 1) {
      for (let j = 0; j < dim; j++) out[j] = (out[j] as number) + (next() < 0.5 ? scale : -scale);
      return;
    }
    // Non-zeros of a Bernoulli(1/s) row, drawn by geometric gaps: O(dim/s) per feature instead of O(dim).
    const logQ = Math.log(1 - 1 / sparsity);
    for (let j = Math.floor(Math.log(1 - next()) / logQ); j < dim; j += 1 + Math.floor(Math.log(1 - next()) / logQ)) {
      out[j] = (out[j] as number) + (next() < 0.5 ? scale : -scale);
    }
  }

  private dfHash(): string {
    const h = createHash("sha256").update(String(this.documents));
    for (const b of [...this.df.keys()].sort((x, y) => x - y)) h.update(`,${b}:${this.df.get(b)}`);
    return h.digest("hex").slice(0, 12);
  }
}
