import type { Sample } from "@infialign/data";
import type { Embedder } from "../embed/embedder.js";
import { KeywordLabeler } from "./keywordLabeler.js";
import { KnnLabeler } from "./knnLabeler.js";
import type { LlmLabeler } from "./llmLabeler.js";
import { labelFromMetadata } from "./metadataLabel.js";
import type { Domain, DomainLabel, DomainSource } from "./taxonomy.js";

export interface LabelDomainsOptions {
  /** Keyword labeler; `false` skips keywords. @default new KeywordLabeler() */
  keywords?: KeywordLabeler | false;
  /** Asked for samples that metadata and keywords leave unlabeled. @default none */
  llm?: LlmLabeler;
  /** Labels what is still unlabeled after the LLM. @default none, or built from `embedder` */
  knn?: KnnLabeler;
  /**
   * Without `knn`: a kNN labeler is built from this batch's samples already labeled by
   * metadata or keywords and labels the rest. @default none
   */
  embedder?: Embedder;
  /** Neighbours for the kNN labeler built from `embedder`. @default 10 */
  k?: number;
  /** Let keyword matches in `response` count (at the labeler's `responseWeight`). @default true */
  useResponse?: boolean;
  signal?: AbortSignal;
}

/** What decides `labelDomains`' output for given options (the labelers' ids), as hashed into stage params. */
export interface LabelerParams {
  /** `KeywordLabeler.id`, or false when keywords are skipped. */
  keywords: string | false;
  llm: string | null;
  knn: string | null;
  /** Embedder of the kNN labeler built from the batch (only without `knn`), and its `k`. */
  embedder: string | null;
  k: number | null;
  useResponse: boolean;
}

/**
 * The labelers' identities for `options`; throws when an LLM labeler cannot be identified (its client names no model
 * and no `clientId` was given), since a changed labeler must change the key.
 */
export function labelerParams(options: LabelDomainsOptions = {}, component = "label-domains"): LabelerParams {
  const { llm, knn, embedder } = options;
  if (llm && llm.id === undefined) {
    throw new Error(`[infialign/sampling] ${component}: the LLM labeler's client names no model, so a changed labeler could not rerun the stage. Pass new LlmLabeler(client, { clientId: "<model and server>" }).`);
  }
  const keywords = options.keywords === false ? false : (options.keywords ?? new KeywordLabeler()).id;
  const builtKnn = !knn && embedder !== undefined;
  return {
    keywords,
    llm: llm?.id ?? null,
    knn: knn?.id ?? null,
    embedder: builtKnn ? embedder.id : null,
    k: builtKnn ? (options.k ?? 10) : null,
    useResponse: options.useResponse ?? true,
  };
}

type LabelInput = Pick<Sample, "prompt" | "source" | "domain" | "meta" | "response">;

/**
 * One domain per sample, each with its source, trying in order: metadata, keywords, LLM,
 * kNN, then `"other"` (`source: "default"`).
 */
export async function labelDomains(samples: readonly LabelInput[], options: LabelDomainsOptions = {}): Promise<DomainLabel[]> {
  const keywords = options.keywords === false ? undefined : (options.keywords ?? new KeywordLabeler());
  const useResponse = options.useResponse ?? true;
  const labels: (DomainLabel | undefined)[] = samples.map((s) => {
    const meta = labelFromMetadata(s);
    if (meta) return { domain: meta, source: "metadata" };
    const kw = keywords?.label(s.prompt, useResponse ? (s.response ?? "") : "");
    return kw ? { domain: kw.domain, source: "keywords" } : undefined;
  });

  const { llm } = options;
  if (llm) {
    await Promise.all(
      samples.map(async (s, i) => {
        if (labels[i]) return;
        const got = await llm.label(s.prompt, options.signal ? { signal: options.signal } : {});
        if (got) labels[i] = { domain: got.domain, source: "llm" };
      }),
    );
  }

  const missing = labels.flatMap((l, i) => (l ? [] : [i]));
  if (missing.length > 0) {
    let knn = options.knn;
    if (!knn && options.embedder) {
      const seed = labels.flatMap((l, i) => (l && (l.source === "metadata" || l.source === "keywords") ? [{ text: samples[i]?.prompt as string, domain: l.domain }] : []));
      if (seed.length > 0) knn = await KnnLabeler.build(seed, options.embedder, { k: options.k ?? 10 });
    }
    if (knn) {
      const got = await knn.label(
        missing.map((i) => samples[i]?.prompt as string),
        options.signal ? { signal: options.signal } : {},
      );
      missing.forEach((i, j) => {
        labels[i] = { domain: (got[j] as { domain: Domain }).domain, source: "knn" };
      });
    }
  }
  return labels.map((l) => l ?? { domain: "other", source: "default" });
}

/** Counts per domain and per source, for logs and manifests. */
export function summarizeDomainLabels(labels: readonly DomainLabel[]): { byDomain: Partial<Record<Domain, number>>; bySource: Partial<Record<DomainSource, number>> } {
  const byDomain: Partial<Record<Domain, number>> = {};
  const bySource: Partial<Record<DomainSource, number>> = {};
  for (const l of labels) {
    byDomain[l.domain] = (byDomain[l.domain] ?? 0) + 1;
    bySource[l.source] = (bySource[l.source] ?? 0) + 1;
  }
  return { byDomain, bySource };
}
