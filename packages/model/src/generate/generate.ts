// Batched autoregressive generation over any DecodeModel: left-padded prompts, n samples per prompt, a KV cache (or a
// full recompute per step), seeded sampling, stop tokens and OpenAI-style stop strings, per-token log-probs.
import { z } from "zod";
import type { DecodeModel, GeneratedSample, GenerateFn, GenerateOptions, GenerationRequest, KvCache, ModelTokenizer, SamplingOptions, StepOutput } from "../engine.js";
import { ModelError } from "../errors.js";
import { IncrementalDetokenizer } from "./detokenizer.js";
import { sampleSeed, TokenSampler } from "./sampling.js";

const COMPONENT = "generate";

/** Sampling options of one request after defaults (see {@link SamplingOptions} for each field's meaning). */
export type ResolvedSampling = Required<Omit<SamplingOptions, "stop" | "stopTokenIds">> & { stop: readonly string[]; stopTokenIds: readonly number[] };

/** Defaults of {@link SamplingOptions}, as OpenAI and vLLM define them; `stopTokenIds` defaults to the tokenizer's EOS ids. */
export const DEFAULT_SAMPLING: Readonly<Omit<ResolvedSampling, "stopTokenIds">> = Object.freeze({
  temperature: 1,
  topP: 1,
  topK: 0,
  seed: 0,
  maxNewTokens: 256,
  stop: [],
  n: 1,
  topLogprobs: 0,
});

/** @default 16 */
export const DEFAULT_MAX_BATCH_SIZE = 16;

function requestSchema(vocabSize: number) {
  const tokenId = z
    .number()
    .int()
    .min(0)
    .max(vocabSize - 1, `token ids must be below the model's vocabulary size ${vocabSize}`);
  return z.object({
    promptIds: z.array(tokenId).min(1, "the prompt needs at least one token"),
    temperature: z.number().min(0).max(1e6),
    topP: z.number().gt(0).max(1),
    topK: z.number().int().min(0),
    seed: z.number().int().min(0).max(2 ** 32 - 1),
    maxNewTokens: z.number().int().min(0),
    stop: z.array(z.string().min(1, "stop strings must be non-empty")),
    stopTokenIds: z.array(tokenId),
    n: z.number().int().min(1),
    topLogprobs: z.number().int().min(0).max(vocabSize),
  });
}

/**
 * Applies the defaults to request `index` and validates it; one ModelError lists every invalid field with what was
 * expected. Exported so that a server can reject a bad request before queueing it.
 */
export function resolveSampling(request: GenerationRequest, index: number, model: Pick<DecodeModel, "vocabSize" | "maxPositions">, tokenizer: Pick<ModelTokenizer, "eosTokenIds">): ResolvedSampling & { promptIds: readonly number[] } {
  const defined = Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined));
  const merged = { ...DEFAULT_SAMPLING, stopTokenIds: tokenizer.eosTokenIds, ...defined };
  const parsed = requestSchema(model.vocabSize).safeParse(merged);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(request)"}: ${issue.message}`);
    throw new ModelError(COMPONENT, `request ${index} is invalid — ${fields.join("; ")}`, { cause: parsed.error });
  }
  const r = parsed.data;
  if (r.promptIds.length >= model.maxPositions) {
    throw new ModelError(COMPONENT, `request ${index}: promptIds has ${r.promptIds.length} tokens; the model accepts at most ${model.maxPositions} positions (prompt + new tokens), so shorten the prompt`);
  }
  return r;
}

/** One sample being decoded (shared with the continuous batcher, src/serve/continuousBatcher.ts). */
export interface Row {
  request: number;
  sample: number;
  prompt: readonly number[];
  options: ResolvedSampling;
  sampler: TokenSampler;
  /** New tokens allowed: maxNewTokens, capped so that prompt + new tokens fit the model's positions. */
  limit: number;
  tokenIds: number[];
  logprobs: number[];
  topLogprobs: { tokenId: number; logprob: number }[][] | undefined;
  detokenizer: IncrementalDetokenizer;
  /** Longest stop string: only the text's last (length − 1) characters plus a new piece can hold a new match. */
  maxStopLength: number;
  finishReason: "stop" | "length" | undefined;
  /** Text cut before the first stop string, once one is found. */
  stoppedText: string | undefined;
}

/**
 * Generates `n` samples for every request (see {@link GenerateFn}). Rows (request × sample) are decoded in waves of at
 * most `maxBatchSize`; within a wave each distinct prompt is prefilled once, left-padded, and its cache rows repeated
 * for its samples with `selectRows`, then every step feeds one token per row, dropping finished rows from the batch.
 *
 * Returned `tokenIds` and `logprobs` include a stop token id when one ended the sample (as vLLM's `token_ids` do; the
 * id's text is not in `text`), and every token sampled up to the one that completed a stop string (whose text and
 * anything after it is cut from `text`, OpenAI semantics).
 */
export const generate: GenerateFn = async (model, tokenizer, requests, options = {}) => {
  const useCache = options.useCache ?? true;
  const maxBatchSize = options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) throw new ModelError(COMPONENT, `maxBatchSize must be a positive integer, got ${maxBatchSize}`);
  const resolved = requests.map((r, i) => resolveSampling(r, i, model, tokenizer));

  const rows = resolved.flatMap((r, request) => Array.from({ length: r.n }, (_, sample) => newRow(r, request, sample, model, tokenizer)));
  const pending = rows.filter((row) => row.finishReason === undefined);
  const padId = padIdOf(model, tokenizer);
  for (let start = 0; start < pending.length && !options.signal?.aborted; start += maxBatchSize) {
    await decodeWave(model, pending.slice(start, start + maxBatchSize), { useCache, padId, options });
  }

  const out: GeneratedSample[][] = resolved.map(() => []);
  for (const row of rows) out[row.request]!.push(finishRow(row));
  return out;
};

/** The row of sample `sample` of a resolved request (finished at once when it may generate no token). */
export function newRow(r: ResolvedSampling & { promptIds: readonly number[] }, request: number, sample: number, model: Pick<DecodeModel, "maxPositions">, tokenizer: ModelTokenizer): Row {
  return {
    request,
    sample,
    prompt: r.promptIds,
    options: r,
    sampler: new TokenSampler(r, sampleSeed(r.seed, sample)),
    limit: Math.min(r.maxNewTokens, model.maxPositions - r.promptIds.length),
    tokenIds: [],
    logprobs: [],
    topLogprobs: r.topLogprobs > 0 ? [] : undefined,
    detokenizer: new IncrementalDetokenizer(tokenizer),
    maxStopLength: Math.max(0, ...r.stop.map((s) => s.length)),
    finishReason: r.maxNewTokens === 0 ? "length" : undefined,
    stoppedText: undefined,
  };
}

/** The id fed in padding slots: the tokenizer's pad id when the model has it, else 0 (masked out either way). */
export function padIdOf(model: Pick<DecodeModel, "vocabSize">, tokenizer: Pick<ModelTokenizer, "padTokenId">): number {
  return tokenizer.padTokenId >= 0 && tokenizer.padTokenId < model.vocabSize ? tokenizer.padTokenId : 0;
}

/** The sample a row ends as (an unfinished row ends with finishReason "length"). */
export function finishRow(row: Row): GeneratedSample {
  // A trailing incomplete character flushes as U+FFFD, as transformers' decode shows it.
  if (row.stoppedText === undefined) row.detokenizer.flush();
  const sample: GeneratedSample = {
    text: row.stoppedText ?? row.detokenizer.text,
    tokenIds: row.tokenIds,
    logprobs: row.logprobs,
    finishReason: row.finishReason ?? "length",
  };
  if (row.topLogprobs) sample.topLogprobs = row.topLogprobs;
  return sample;
}

/** Records a sampled token on its row and decides whether the row is finished. */
export function accept(row: Row, logits: Float32Array, options: Pick<GenerateOptions, "onToken">): void {
  const token = row.sampler.sample(logits);
  row.tokenIds.push(token.tokenId);
  row.logprobs.push(token.logprob);
  if (row.topLogprobs && token.topLogprobs) row.topLogprobs.push(token.topLogprobs);
  options.onToken?.(row.request, row.sample, token.tokenId);
  if (row.options.stopTokenIds.includes(token.tokenId)) {
    row.finishReason = "stop";
    return;
  }
  const before = row.detokenizer.text.length;
  const piece = row.detokenizer.push(token.tokenId);
  if (piece && row.maxStopLength > 0) {
    const text = row.detokenizer.text;
    const from = Math.max(0, before - row.maxStopLength + 1);
    let cut = -1;
    for (const s of row.options.stop) {
      const at = text.indexOf(s, from);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      row.stoppedText = text.slice(0, cut);
      row.finishReason = "stop";
      return;
    }
  }
  if (row.tokenIds.length >= row.limit) row.finishReason = "length";
}

/** Decodes one wave of rows to completion (or until aborted). */
async function decodeWave(model: DecodeModel, wave: Row[], ctx: { useCache: boolean; padId: number; options: GenerateOptions }): Promise<void> {
  const vocab = model.vocabSize;
  // Prefill each distinct prompt once; its samples share the prompt's cache rows.
  const prompts: Row[] = [];
  const promptOf = wave.map((row) => {
    const i = prompts.findIndex((p) => p.request === row.request);
    if (i >= 0) return i;
    prompts.push(row);
    return prompts.length - 1;
  });
  const promptLength = Math.max(...prompts.map((r) => r.prompt.length));
  let out: StepOutput = await model.step(batchInput(prompts, promptLength, ctx.padId, 0, false));
  let cache: KvCache | undefined = out.cache;
  let logits = out.logits;
  try {
    if (promptOf.some((p, i) => p !== i)) {
      logits = gatherRows(logits, promptOf, vocab);
      if (ctx.useCache) {
        const expanded = model.selectRows(cache, promptOf);
        cache.dispose();
        cache = expanded;
      }
    }
    if (!ctx.useCache) {
      cache.dispose();
      cache = undefined;
    }
    let active = wave;
    for (;;) {
      active.forEach((row, b) => {
        accept(row, logits.subarray(b * vocab, (b + 1) * vocab), ctx.options);
      });
      const keep = active.flatMap((row, b) => (row.finishReason === undefined ? [b] : []));
      if (keep.length === 0) return;
      if (ctx.options.signal?.aborted) {
        for (const b of keep) active[b]!.finishReason = "length";
        return;
      }
      if (keep.length < active.length) {
        active = keep.map((b) => active[b]!);
        if (cache) {
          const kept = model.selectRows(cache, keep);
          cache.dispose();
          cache = kept;
        }
      }
      const generated = active[0]!.tokenIds.length;
      if (cache) {
        out = await model.step({ ...batchInput(active, promptLength, ctx.padId, generated, true), cache });
        cache.dispose();
        cache = out.cache;
      } else {
        // Recompute: the remaining rows need only as much left padding as their longest prompt.
        out = await model.step(batchInput(active, Math.max(...active.map((r) => r.prompt.length)), ctx.padId, generated, false));
        out.cache.dispose();
      }
      logits = out.logits;
    }
  } finally {
    cache?.dispose();
  }
}

/**
 * The step input for `rows`, each left-padded to `promptLength` and followed by its `generated` tokens: the whole
 * sequence (`lastOnly` false), or only the newest token on top of a cache holding the rest (`lastOnly` true).
 * Positions count real tokens only; padding slots get id `padId` and position 0, and key mask 0.
 */
export function batchInput(rows: readonly Row[], promptLength: number, padId: number, generated: number, lastOnly: boolean) {
  const batch = rows.length;
  const total = promptLength + generated;
  const newTokens = lastOnly ? 1 : total;
  const first = total - newTokens;
  const ids = new Int32Array(batch * newTokens);
  const positionIds = new Int32Array(batch * newTokens);
  const keyMask = new Uint8Array(batch * total);
  rows.forEach((row, b) => {
    const pad = promptLength - row.prompt.length;
    for (let k = 0; k < total; k++) {
      const real = k >= pad;
      keyMask[b * total + k] = real ? 1 : 0;
      if (k < first) continue;
      const j = k - pad;
      ids[b * newTokens + k - first] = !real ? padId : j < row.prompt.length ? row.prompt[j]! : row.tokenIds[j - row.prompt.length]!;
      positionIds[b * newTokens + k - first] = real ? j : 0;
    }
  });
  return { ids, positionIds, keyMask, batch, newTokens };
}

/** Rows `rows` of a `[batch, vocab]` logits matrix, in that order (repeats allowed). */
function gatherRows(logits: Float32Array, rows: readonly number[], vocab: number): Float32Array {
  const out = new Float32Array(rows.length * vocab);
  rows.forEach((r, i) => {
    out.set(logits.subarray(r * vocab, (r + 1) * vocab), i * vocab);
  });
  return out;
}
