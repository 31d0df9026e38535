import { basename } from "node:path";
import { z } from "zod";
import { type AdapterIdentity, adapterIdentity, detectAdapter, getAdapter, withAdapters } from "../adapters/registry.js";
import type { SourceAdapter } from "../adapters/types.js";
import { DataError } from "../errors.js";
import { normalizeSample } from "../normalize/normalizeSample.js";
import { checkTokenizer, countSampleTokens, loadTokenizer, type TextTokenizer } from "../normalize/tokenizer.js";
import { readRecords } from "../readers/readRecords.js";
import { resolveInputs } from "../readers/resolveInputs.js";
import type { RawRecord, Stage, StageContext } from "../runtime/types.js";
import { makeSample, type Sample } from "../schema/sample.js";

export const NormalizeParamsSchema = z.object({
  /** Adapter name to force for every file; auto-detected per file when absent. */
  adapter: z.string().optional(),
  /** `Sample.source` for every record; default: the file's base name without extensions. */
  source: z.string().optional(),
  /** Reject records without a final answer (`missing_final_answer`). @default true */
  requireAnswer: z.boolean().default(true),
  /** Move `<think>…</think>` content into `reasoning`. @default true */
  stripThink: z.boolean().default(true),
  /** Tokenizer for `meta.tokens` ("qwen2.5", "qwen3" or a tokenizer.json path); none when absent. */
  tokenizer: z.string().optional(),
  /** How many records of a file are looked at to detect its schema. @default 64 */
  detectWindow: z.number().int().positive().default(64),
});
export type NormalizeParams = z.input<typeof NormalizeParamsSchema>;

/** Options of `normalizeStage`: the serializable params plus your own adapters. */
export interface NormalizeOptions extends NormalizeParams {
  /**
   * Your own source adapters, detected alongside the built-in ones (higher `priority` first; yours first on a tie) and
   * usable by name in `adapter`. Each one's name, version, signature and priority go into the stage's params, so
   * adding, removing or re-versioning an adapter reruns the stage. @default none
   */
  adapters?: readonly SourceAdapter[];
}

/** The stage's resolved params as hashed into its cache key; `adapters` only when custom adapters are given. */
export type NormalizeStageParams = z.output<typeof NormalizeParamsSchema> & { adapters?: AdapterIdentity[] };

/**
 * Source records → canonical Samples: per-file schema detection, adapter mapping,
 * text normalization and optional token counts. Read problems (malformed JSON, invalid
 * UTF-8, empty files, oversized records) and adapter failures become rejects.
 */
export function normalizeStage(options: NormalizeOptions = {}): Stage<RawRecord, Sample, NormalizeStageParams> {
  const { adapters: custom = [], ...params } = options;
  const resolved = NormalizeParamsSchema.parse(params);
  const adapters = withAdapters(custom);
  const forced = resolved.adapter ? getAdapter(resolved.adapter, adapters) : undefined;
  let tokenizer: TextTokenizer | undefined;
  const adapterCounts: Record<string, number> = {};
  const normalizeOpts = { stripThink: resolved.stripThink };
  // Sample.source per file, computed once per file rather than once per record.
  let sourceFile: string | undefined;
  let sourceValue = "";
  const sourceOf = (file: string): string => {
    if (resolved.source !== undefined) return resolved.source;
    if (file !== sourceFile) {
      sourceFile = file;
      sourceValue = sourceName(file);
    }
    return sourceValue;
  };

  const convert = (raw: RawRecord, using: SourceAdapter | undefined, c: StageContext): Sample | undefined => {
    if (!raw.ok) {
      c.reject(raw.raw ?? null, raw.code, raw.message, { loc: raw.loc });
      return undefined;
    }
    const value = raw.value;
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      c.reject(value, "not_an_object", `expected a JSON object, got ${Array.isArray(value) ? "array" : value === null ? "null" : typeof value}`, { loc: raw.loc });
      return undefined;
    }
    if (!using) throw new DataError("normalize", `no adapter for ${raw.loc.file}`);
    const record = value as Record<string, unknown>;
    const adaptCtx = { source: sourceOf(raw.loc.file), loc: raw.loc, requireAnswer: resolved.requireAnswer };
    let result = using.adapt(record, adaptCtx);
    if (!result.ok && result.code === "missing_field" && !forced) {
      // Files that mix schemas (concatenated pools) get the adapter of the record's own fields.
      const own = detectOwnAdapter(record, adapters);
      if (own && own !== using) {
        using = own;
        result = own.adapt(record, adaptCtx);
      }
    }
    if (!result.ok) {
      c.reject(value, result.code, result.message, { loc: raw.loc, ...(result.field ? { field: result.field } : {}) });
      return undefined;
    }
    const init = normalizeSample(result.sample, normalizeOpts);
    // normalizeSample returned a new object: the lineage goes onto it, without a copy of its own.
    init.lineage = [...(init.lineage ?? []), "normalize"];
    // normalizeSample ran normalizeText (which ends in NFC) over prompt and response.
    const sample = makeSample(init, { alreadyNfc: true });
    if (tokenizer) sample.meta.tokens = countSampleTokens(sample, tokenizer);
    adapterCounts[using.name] = (adapterCounts[using.name] ?? 0) + 1;
    return sample;
  };

  return {
    name: "normalize",
    version: "1",
    // Without custom adapters the params (and so existing cache keys) stay what they were.
    params: custom.length > 0 ? { ...resolved, adapters: custom.map(adapterIdentity) } : resolved,
    preflight() {
      if (resolved.tokenizer) checkTokenizer(resolved.tokenizer);
    },
    // Per record: schema detection reads each file's own head, whichever part of the file a task holds.
    sharding: { kind: "records" },
    async *run(records, ctx) {
      if (resolved.tokenizer) tokenizer = await loadTokenizer(resolved.tokenizer);
      let file: string | undefined;
      let adapter: SourceAdapter | undefined;
      for await (const raw of records) {
        if (raw.loc.file !== file) {
          file = raw.loc.file;
          // Detection peeks at the file's first records through a second reader instead of
          // buffering the stream: the stage then never reads ahead, so a crash resumes
          // exactly at the last checkpoint.
          adapter = forced ?? (await detectForFile(file, resolved.detectWindow, adapters));
          if (!forced && adapter) ctx.logger.info(`normalize: ${file} → adapter "${adapter.name}"`);
        }
        const sample = convert(raw, adapter, ctx);
        if (sample) yield sample;
      }
    },
    finish: () => ({ adapters: adapterCounts, tokenizer: tokenizer?.name ?? null }),
  };
}

/**
 * The adapter for a file, from the union of the fields of its first `window` object
 * records; undefined when the file holds no object record at all (everything in it is
 * rejected by the reader or as not_an_object, so no adapter is needed).
 */
async function detectForFile(file: string, window: number, adapters: readonly SourceAdapter[]): Promise<SourceAdapter | undefined> {
  const [input] = await resolveInputs(file);
  const fields = new Set<string>();
  let seen = 0;
  for await (const raw of readRecords(input!)) {
    if (!raw.ok || !raw.value || typeof raw.value !== "object" || Array.isArray(raw.value)) continue;
    for (const key of Object.keys(raw.value)) fields.add(key);
    if (++seen >= window) break;
  }
  return seen === 0 ? undefined : detectAdapter(fields, undefined, file, adapters);
}

function detectOwnAdapter(record: Record<string, unknown>, adapters: readonly SourceAdapter[]): SourceAdapter | undefined {
  try {
    return detectAdapter(Object.keys(record), undefined, undefined, adapters);
  } catch {
    return undefined;
  }
}

/** "data/gsm8k-train.jsonl.gz" → "gsm8k-train". */
export function sourceName(file: string): string {
  return basename(file).replace(/(\.(jsonl|ndjson|json|csv|parquet))?(\.(gz|zst))?$/i, "");
}
