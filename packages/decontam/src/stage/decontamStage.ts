import { canonicalJson, type Sample, type ShardPlan, type Stage, type StageContext, sha256OfParts } from "@infialign/data";
import type { BenchmarkItem } from "../benchmarks/loadBenchmark.js";
import { type BenchmarkSetIdentity, benchmarkSetIdentity } from "../config/benchmarkSetIdentity.js";
import { Decontaminator, type DecontaminatorOptions, resolveDecontaminatorConfig } from "../decontaminator.js";
import type { TextEmbedder } from "../embedding/embeddingIndex.js";

/** Sample fields a decontamination stage can check. */
export type DecontamField = "prompt" | "response" | "reasoning";
export const DECONTAM_FIELDS: readonly DecontamField[] = ["prompt", "response", "reasoning"];

/** One benchmark item hit, as any checker (n-gram index, Decontaminator) reports it. */
export interface DecontamMatch {
  benchmark: string;
  id: string;
  /** `ngram` when absent (a bare `NgramIndex`). */
  method?: "ngram" | "paraphrase" | "embedding";
  ngram?: string;
  overlap?: number;
  score?: number;
}

/** What the stage needs from a `Decontaminator`: batched checks, results in input order. */
export interface DecontamChecker {
  checkBatch(texts: readonly string[]): Promise<Array<{ contaminated: boolean; matches: readonly DecontamMatch[] }>>;
}

/** A built checker that states what its verdicts depend on (a `Decontaminator` does: `identity`). */
export interface IdentifiedDecontamChecker extends DecontamChecker {
  /** Everything that changes the checker's verdicts; the stage hashes it into its params, so a change reruns the stage. */
  readonly identity: unknown;
}

/** A checker the stage builds when it first needs it (an up-to-date stage never does), with the identity it will have. */
export interface LazyDecontamChecker {
  /** Everything that changes the verdicts of the checker `build` returns (e.g. `benchmarkSetIdentity(...)` plus settings). */
  identity: unknown;
  /**
   * Input records the stage reads ahead and hands to `build` (the non-empty checked fields' texts) as a sample of the
   * corpus being cleaned, e.g. to learn its stock phrases. The stage then holds up to this many records before its first
   * output. The sample is the input's head, so it is fixed by the input, which the pipeline key already covers.
   * @default 0
   */
  learnRecords?: number;
  /** Builds the checker; `sample` holds the texts of the first `learnRecords` records. */
  build(sample: readonly string[]): Promise<DecontamChecker>;
}

export interface DecontamStageOptions {
  /**
   * The checker: a built one that states its `identity` (a `Decontaminator`), or `{ identity, build, learnRecords? }`
   * to build it on first use. Either way the stage key is derived from the checker's own identity.
   * A bare factory function is accepted only with the deprecated `params`.
   */
  decontaminator: IdentifiedDecontamChecker | LazyDecontamChecker | (() => Promise<DecontamChecker>);
  /** Sample fields checked; a record is contaminated when any of them is. @default ["prompt"] */
  fields?: readonly DecontamField[];
  /** Records per `checkBatch` call; the stage reads at most this many records ahead (plus `learnRecords`). @default 64 */
  batchSize?: number;
  /**
   * Whether the checker's verdict on a text (and its evidence, scores included) is independent of the other texts of its
   * `checkBatch` call. Then sharded executors split the stage by input shard, each shard checked in batches from its own
   * first record, with the output of a `local` run; otherwise the stage runs as one task. A `Decontaminator` with an
   * embedding layer is not: `cosineTopK` rounds a query's cosine by its row in the batch's block. Not hashed.
   * @default true, except for a built `Decontaminator` with an embedding layer (and `benchmarkDecontamStage` with an embedder)
   */
  batchInvariant?: boolean;
  /**
   * @deprecated The identity of a bare factory `decontaminator`, given apart from it (so the two could disagree). Pass
   * `{ identity, build }` instead.
   */
  params?: BenchmarkSetIdentity;
}

/** One piece of evidence stored in a rejected record's `meta.decontam.matches`. */
export interface DecontamEvidence extends DecontamMatch {
  field: DecontamField;
  method: "ngram" | "paraphrase" | "embedding";
}

/** The stage params: hashed into the stage key, so changing any of them reruns the stage. */
export interface DecontamStageParams {
  /** The checker's identity (see `IdentifiedDecontamChecker.identity`). */
  checker: unknown;
  fields: DecontamField[];
  /** Records read ahead to build the checker from (see `LazyDecontamChecker.learnRecords`). */
  learnRecords: number;
}

const EVIDENCE_IN_MESSAGE = 3;
const SPAN_CHARS = 80;

function describeMatch(m: DecontamEvidence): string {
  const how =
    m.ngram !== undefined
      ? ` "${m.ngram.length > SPAN_CHARS ? `${m.ngram.slice(0, SPAN_CHARS)}…` : m.ngram}"${m.overlap !== undefined ? ` overlap ${m.overlap.toFixed(2)}` : ""}`
      : m.score !== undefined
        ? ` score ${m.score.toFixed(3)}`
        : "";
  return `${m.benchmark} #${m.id} by ${m.method} in ${m.field}${how}`;
}

/**
 * Pipeline stage that drops training records overlapping benchmark items. Clean records
 * pass through unchanged; contaminated ones go to `rejects.jsonl` with code `contaminated`,
 * the evidence in the message and in the rejected record's `meta.decontam.matches`
 * (field, benchmark, id, method, matched span / overlap / score). Records are checked in
 * batches of `batchSize` (the embedding layer embeds a batch at once), in input order;
 * after a crash the runtime replays the input and drops the outputs already written.
 */
export function decontamStage(options: DecontamStageOptions): Stage<Sample, Sample, DecontamStageParams> {
  const fields: DecontamField[] = [...new Set<DecontamField>(options.fields ?? ["prompt"])];
  if (fields.length === 0) throw new Error("[infialign/decontam] decontam-stage: fields is empty; pass at least one of prompt, response, reasoning");
  const badField = fields.find((f) => !DECONTAM_FIELDS.includes(f));
  if (badField !== undefined) throw new Error(`[infialign/decontam] decontam-stage: unknown field "${badField}"; use prompt, response or reasoning`);
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`[infialign/decontam] decontam-stage: batchSize must be a positive integer, got ${batchSize}`);

  const source = resolveSource(options);
  const learnRecords = source.learnRecords;
  const textsOf = (record: Sample) => fields.map((f) => record[f]).filter((t): t is string => typeof t === "string" && t.trim() !== "");
  const totals = { checked: 0, contaminated: 0, byBenchmark: {} as Record<string, number>, byMethod: {} as Record<string, number>, byField: {} as Record<string, number> };
  const bump = (table: Record<string, number>, key: string) => {
    table[key] = (table[key] ?? 0) + 1;
  };
  /** The checker built once, on first use, from the learned texts (a stage whose batches have no text never builds it). */
  const lazyChecker = (learned: () => readonly string[], built: () => void = () => {}) => {
    let checker: DecontamChecker | undefined;
    return async () => {
      if (!checker) {
        checker = await source.build(learned());
        built();
      }
      return checker;
    };
  };

  /** Checks one batch in input order: yields the clean records, rejects the contaminated ones with their evidence. */
  const checkRecords = async function* (batch: readonly Sample[], getChecker: () => Promise<DecontamChecker>, ctx: StageContext): AsyncGenerator<Sample> {
    const texts: string[] = [];
    const owners: Array<{ record: number; field: DecontamField }> = [];
    batch.forEach((record, index) => {
      for (const field of fields) {
        const text = record[field];
        if (typeof text === "string" && text.trim() !== "") {
          texts.push(text);
          owners.push({ record: index, field });
        }
      }
    });
    const results = texts.length ? await (await getChecker()).checkBatch(texts) : [];
    if (results.length !== texts.length) {
      throw new Error(`[infialign/decontam] decontam-stage: checker returned ${results.length} results for ${texts.length} texts; checkBatch must return one result per text`);
    }
    const evidence: DecontamEvidence[][] = batch.map(() => []);
    results.forEach((res, i) => {
      if (!res.contaminated) return;
      const { record, field } = owners[i]!;
      for (const m of res.matches) evidence[record]!.push({ ...m, method: m.method ?? "ngram", field });
    });
    for (let i = 0; i < batch.length; i++) {
      const sample = batch[i]!;
      const found = evidence[i]!;
      totals.checked++;
      if (found.length === 0) {
        yield sample;
        continue;
      }
      totals.contaminated++;
      ctx.count("contaminated");
      for (const b of new Set(found.map((m) => m.benchmark))) {
        bump(totals.byBenchmark, b);
        ctx.count(`contaminated.benchmark.${b}`);
      }
      for (const m of new Set(found.map((m) => m.method))) {
        bump(totals.byMethod, m);
        ctx.count(`contaminated.method.${m}`);
      }
      const hitFields = [...new Set(found.map((m) => m.field))];
      for (const f of hitFields) bump(totals.byField, f);
      const more = found.length > EVIDENCE_IN_MESSAGE ? ` and ${found.length - EVIDENCE_IN_MESSAGE} more` : "";
      const message = `overlaps ${found.slice(0, EVIDENCE_IN_MESSAGE).map(describeMatch).join("; ")}${more}`;
      const rejected: Sample = { ...sample, meta: { ...sample.meta, decontam: { matches: found } } };
      ctx.reject(rejected, "contaminated", message, { id: sample.id, field: hitFields.join(","), loc: sample.meta.origin });
    }
  };
  const stats = () => ({ ...totals, fields });
  // The streaming pass's checker, kept across runs of this stage; the learned texts are dropped once it is built.
  let learnedTexts: string[] = [];
  const runChecker = lazyChecker(
    () => learnedTexts,
    () => {
      learnedTexts = [];
    },
  );

  return {
    name: "decontam",
    version: "2",
    // Batching (and learning from the input's head) reads ahead of what is written, so a resume replays the input (the stage is deterministic).
    resume: "replay",
    params: { checker: source.identity, fields, learnRecords },
    async *run(records, ctx) {
      const batch: Sample[] = [];
      const push = async function* (record: Sample): AsyncGenerator<Sample> {
        batch.push(record);
        if (batch.length >= batchSize) yield* checkRecords(batch.splice(0), runChecker, ctx);
      };
      // One for-await, so the input is closed (its finally blocks run) on error or early exit. The input's head is
      // the sample the checker learns from; it is checked like every other record once learned.
      const head: Sample[] = [];
      let learning = learnRecords > 0;
      const endLearning = async function* (): AsyncGenerator<Sample> {
        learning = false;
        learnedTexts = head.flatMap(textsOf);
        for (const learned of head.splice(0)) yield* push(learned);
      };
      for await (const record of records) {
        if (learning && head.length < learnRecords) {
          head.push(record);
          continue;
        }
        if (learning) yield* endLearning();
        yield* push(record);
      }
      if (learning) yield* endLearning();
      if (batch.length > 0) yield* checkRecords(batch, runChecker, ctx);
    },
    finish: stats,
    ...((options.batchInvariant ?? source.batchInvariant) ? { sharding: shardingPlan() } : {}),
  };

  /**
   * Sharded: a record's verdict depends only on the record and the checker, so each input shard is checked apart, in
   * batches from its own first record. The checker learns from the input's head, which the prepare task reads (and
   * stops); its texts are the state every apply task builds the checker from, once.
   */
  function shardingPlan(): ShardPlan<Sample, Sample> {
    if (learnRecords === 0) return { kind: "records" };
    return {
      kind: "global",
      async prepare(input) {
        const sample: string[] = [];
        let read = 0;
        for await (const record of input()) {
          sample.push(...textsOf(record));
          if (++read >= learnRecords) break;
        }
        return { state: { sample } };
      },
      async *apply(records, _decision, state: { sample: string[] }, ctx) {
        let checker: Promise<DecontamChecker> | undefined;
        const getChecker = () => (checker ??= memoizedChecker(sha256OfParts([canonicalJson(source.identity), ...state.sample]), () => source.build(state.sample)));
        const batch: Sample[] = [];
        for await (const { record } of records) {
          batch.push(record);
          if (batch.length >= batchSize) yield* checkRecords(batch.splice(0), getChecker, ctx);
        }
        if (batch.length > 0) yield* checkRecords(batch, getChecker, ctx);
      },
      applyStats: stats,
    };
  }
}

/**
 * Checkers built by this worker process, by identity and learned texts: every task of a sharded stage learns from the
 * same head of the input, and building (indexing the benchmarks, learning the stock phrases) costs seconds, so a
 * worker builds once and checks all its shards with it. Two entries: a worker serves one stage at a time.
 */
const builtCheckers = new Map<string, Promise<DecontamChecker>>();

function memoizedChecker(key: string, build: () => Promise<DecontamChecker>): Promise<DecontamChecker> {
  let checker = builtCheckers.get(key);
  if (!checker) {
    checker = build();
    builtCheckers.set(key, checker);
    checker.catch(() => builtCheckers.delete(key));
    while (builtCheckers.size > 2) builtCheckers.delete(builtCheckers.keys().next().value!);
  }
  return checker;
}

/** The one place the stage learns what it checks with and what that depends on. */
function resolveSource(options: DecontamStageOptions): {
  identity: unknown;
  learnRecords: number;
  build: (sample: readonly string[]) => Promise<DecontamChecker>;
  /** Whether `checkBatch` verdicts are known not to depend on the rest of the batch (the default of `batchInvariant`). */
  batchInvariant: boolean;
} {
  const d = options.decontaminator;
  if (typeof d === "function") {
    if (options.params === undefined) {
      throw new Error("[infialign/decontam] decontam-stage: a factory decontaminator needs its identity; pass { identity, build } (see benchmarkSetIdentity) or a built Decontaminator");
    }
    return { identity: options.params, learnRecords: 0, build: () => d(), batchInvariant: true };
  }
  if (options.params !== undefined) {
    throw new Error("[infialign/decontam] decontam-stage: params is only for a bare factory; the checker's own identity is used, drop params");
  }
  if ("build" in d && typeof d.build === "function") {
    const learnRecords = d.learnRecords ?? 0;
    if (!Number.isInteger(learnRecords) || learnRecords < 0) throw new Error(`[infialign/decontam] decontam-stage: learnRecords must be a non-negative integer, got ${learnRecords}`);
    return { identity: d.identity, learnRecords, build: (sample) => d.build(sample), batchInvariant: true };
  }
  const built = d as IdentifiedDecontamChecker;
  if (built.identity === undefined) {
    throw new Error("[infialign/decontam] decontam-stage: the checker has no identity; give it one (see benchmarkSetIdentity) or pass { identity, build }");
  }
  // The embedding layer scores a batch as one block, and a block rounds a query's cosine by its row in the block.
  const batchInvariant = !(built instanceof Decontaminator && built.embedding !== undefined);
  return { identity: built.identity, learnRecords: 0, build: async () => built, batchInvariant };
}

/** Options of {@link benchmarkDecontamStage}. */
export interface BenchmarkDecontamStageOptions extends Pick<DecontamStageOptions, "fields" | "batchSize"> {
  /** Decontaminator settings (n-gram, paraphrase and embedding layers). @default the Decontaminator defaults */
  config?: DecontaminatorOptions;
  /** Turns the embedding layer on; its `id` is part of the stage key. @default none */
  embedder?: TextEmbedder;
  /**
   * Input records read ahead to learn the corpus's stock phrases from (`Decontaminator.build`'s `background`); the
   * stage holds up to this many records before its first output. 0 turns it off.
   * @default 10000
   */
  learnRecords?: number;
}

/** Default of `BenchmarkDecontamStageOptions.learnRecords`. */
export const DEFAULT_LEARN_RECORDS = 10_000;

/**
 * {@link decontamStage} against `benchmarks` with a {@link Decontaminator} built on first use from the benchmarks, the
 * resolved config, the embedder and the input's first `learnRecords` records. Its key covers all of them: a changed
 * benchmark list or item, setting, embedder or sample size reruns the stage; an unchanged rerun does nothing.
 */
export function benchmarkDecontamStage(benchmarks: readonly BenchmarkItem[], options: BenchmarkDecontamStageOptions = {}): Stage<Sample, Sample, DecontamStageParams> {
  const { config: configOptions, embedder, learnRecords = DEFAULT_LEARN_RECORDS, ...stageOptions } = options;
  const config = resolveDecontaminatorConfig(configOptions);
  const identity = benchmarkSetIdentity(benchmarks, config, embedder?.id);
  const build = (sample: readonly string[]) => Decontaminator.build(benchmarks, config, { embedder, background: sample });
  return decontamStage({ ...stageOptions, batchInvariant: embedder === undefined, decontaminator: { identity, learnRecords, build } });
}
