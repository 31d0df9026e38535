import { canonicalJson, type Sample, type Stage, sha256Hex } from "@infialign/data";
import type { BenchmarkItem } from "../benchmarks/loadBenchmark.js";
import { Decontaminator, type DecontaminatorOptions, resolveDecontaminatorConfig } from "../decontaminator.js";

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

/** Identity of a benchmark set and checker config; hashed into the stage params so a change reruns the stage. */
export interface BenchmarkSetIdentity {
  /** Items per benchmark name. */
  benchmarks: Record<string, number>;
  /** sha256 over every item's benchmark, id and text, in order. */
  itemsSha256: string;
  /** The resolved checker config (e.g. `resolveDecontaminatorConfig(...)`), compared by canonical JSON. */
  config: unknown;
  /** Embedder id when an embedding layer is used. */
  embedder?: string;
}

/** Computes the `params` of `decontamStage` from the items and resolved config the checker is built from. */
export function benchmarkSetIdentity(items: readonly BenchmarkItem[], config: unknown, embedder?: string): BenchmarkSetIdentity {
  const benchmarks: Record<string, number> = {};
  for (const it of items) benchmarks[it.benchmark] = (benchmarks[it.benchmark] ?? 0) + 1;
  const itemsSha256 = sha256Hex(...items.map((it) => canonicalJson([it.benchmark, it.id, it.text])));
  return { benchmarks, itemsSha256, config: config ?? null, ...(embedder === undefined ? {} : { embedder }) };
}

export interface DecontamStageOptions {
  /** The checker, or a factory called on the first batch (so an up-to-date stage never builds its index). */
  decontaminator: DecontamChecker | (() => Promise<DecontamChecker>);
  /** Sample fields checked; a record is contaminated when any of them is. @default ["prompt"] */
  fields?: readonly DecontamField[];
  /** Records per `checkBatch` call; the stage reads at most this many records ahead. @default 64 */
  batchSize?: number;
  /** What the checker was built from (see `benchmarkSetIdentity`). */
  params: BenchmarkSetIdentity;
}

/** One piece of evidence stored in a rejected record's `meta.decontam.matches`. */
export interface DecontamEvidence extends DecontamMatch {
  field: DecontamField;
  method: "ngram" | "paraphrase" | "embedding";
}

export interface DecontamStageParams extends BenchmarkSetIdentity {
  fields: DecontamField[];
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

  let checker: DecontamChecker | undefined;
  const getChecker = async () => {
    checker ??= typeof options.decontaminator === "function" ? await options.decontaminator() : options.decontaminator;
    return checker;
  };
  const totals = { checked: 0, contaminated: 0, byBenchmark: {} as Record<string, number>, byMethod: {} as Record<string, number>, byField: {} as Record<string, number> };
  const bump = (table: Record<string, number>, key: string) => {
    table[key] = (table[key] ?? 0) + 1;
  };

  return {
    name: "decontam",
    version: "1",
    // Batching reads up to one batch ahead of what is written, so a resume replays the input (the stage is deterministic).
    resume: "replay",
    params: { ...options.params, fields },
    async *run(records, ctx) {
      const batch: Sample[] = [];
      const flush = async function* (): AsyncGenerator<Sample> {
        const texts: string[] = [];
        const owners: Array<{ record: number; field: DecontamField }> = [];
        batch.forEach((sample, record) => {
          for (const field of fields) {
            const text = sample[field];
            if (typeof text === "string" && text.trim() !== "") {
              texts.push(text);
              owners.push({ record, field });
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
        batch.length = 0;
      };
      for await (const sample of records) {
        batch.push(sample);
        if (batch.length >= batchSize) yield* flush();
      }
      if (batch.length > 0) yield* flush();
    },
    finish: () => ({ ...totals, fields }),
  };
}

/** Options of {@link benchmarkDecontamStage}. */
export interface BenchmarkDecontamStageOptions extends Pick<DecontamStageOptions, "fields" | "batchSize"> {
  /** Decontaminator settings (n-gram, paraphrase layers). @default the Decontaminator defaults */
  config?: DecontaminatorOptions;
}

/**
 * {@link decontamStage} against `benchmarks` with a {@link Decontaminator}: the index is built on the first batch (an
 * up-to-date stage never builds it), and the benchmark set and resolved config are hashed into the stage params, so a
 * changed benchmark list or setting reruns the stage.
 */
export function benchmarkDecontamStage(benchmarks: readonly BenchmarkItem[], options: BenchmarkDecontamStageOptions = {}): Stage<Sample, Sample, DecontamStageParams> {
  const { config: configOptions, ...stageOptions } = options;
  const config = resolveDecontaminatorConfig(configOptions);
  return decontamStage({ ...stageOptions, decontaminator: () => Decontaminator.build(benchmarks, config), params: benchmarkSetIdentity(benchmarks, config) });
}
