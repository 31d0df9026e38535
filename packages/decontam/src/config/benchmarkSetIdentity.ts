import { canonicalJson, sha256OfParts } from "@infialign/data";
import type { BenchmarkItem } from "../benchmarks/loadBenchmark.js";

/** Identity of a benchmark set and checker config (see `IdentifiedDecontamChecker.identity`). */
export interface BenchmarkSetIdentity {
  /** Items per benchmark name. */
  benchmarks: Record<string, number>;
  /** sha256 over every item's benchmark, id and text, in order. */
  itemsSha256: string;
  /** The resolved checker config (e.g. `resolveDecontaminatorConfig(...)`), compared by canonical JSON. */
  config: unknown;
  /** Embedder id when an embedding layer is used. */
  embedder?: string;
  /** sha256 over the background texts the checker learned stock phrases from, when it was given any. */
  backgroundSha256?: string;
}

/** Computes the identity of a checker built from `items` with a resolved `config` (and an embedder). */
export function benchmarkSetIdentity(items: readonly BenchmarkItem[], config: unknown, embedder?: string): BenchmarkSetIdentity {
  const benchmarks: Record<string, number> = {};
  for (const it of items) benchmarks[it.benchmark] = (benchmarks[it.benchmark] ?? 0) + 1;
  const itemsSha256 = sha256OfParts(items.map((it) => canonicalJson([it.benchmark, it.id, it.text])));
  return { benchmarks, itemsSha256, config: config ?? null, ...(embedder === undefined ? {} : { embedder }) };
}

