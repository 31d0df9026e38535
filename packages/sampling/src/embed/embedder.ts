/** Turns texts into unit vectors for clustering, kNN labeling and near-duplicate search. */
export interface Embedder {
  /** Stable identity (kind + model + dims + params), used as the cache key prefix. */
  readonly id: string;
  /** Vector length. */
  readonly dim: number;
  /** `n×dim` row-major, each row L2-normalized (zero rows for empty text). */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array>;
}

export interface EmbedOptions {
  signal?: AbortSignal;
}

/** Error with the package/component prefix every sampling message carries. */
export function embedError(component: string, message: string, cause?: unknown): Error {
  return new Error(`[infialign/sampling] ${component}: ${message}`, cause === undefined ? undefined : { cause });
}
