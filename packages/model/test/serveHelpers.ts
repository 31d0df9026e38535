// Test doubles for the server tests: a "counting" DecodeModel whose greedy continuation is known in advance, so the
// real generate() runs end to end (batching, stop strings, log-probs) in microseconds without tfjs.
import type { DecodeModel, GenerateFn, KvCache, ModelTokenizer, StepInput, StepOutput } from "../src/engine.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";

/** Logit of every token but the favoured one; the favoured one gets 0. */
export const OTHER_LOGIT = -10;
const A = "a".charCodeAt(0);
const Z = "z".charCodeAt(0);

/**
 * After a letter a–y the model favours the next letter, after "z" the EOS token, after anything else "a". So the greedy
 * continuation of "…i" is "jklmnopqrstuvwxyz" then EOS, and of a chat prompt (ending "\n") the alphabet.
 */
export class CountingModel implements DecodeModel {
  readonly steps: StepInput[] = [];
  constructor(
    readonly vocabSize: number,
    readonly maxPositions: number,
    readonly eosId: number,
    /** After "z": EOS, or "a" again (a generation that runs until max_tokens). */
    readonly endAfterZ = true,
  ) {}

  next(token: number): number {
    if (token >= A && token < Z) return token + 1;
    return token === Z && this.endAfterZ ? this.eosId : A;
  }

  async step(input: StepInput): Promise<StepOutput> {
    this.steps.push(input);
    const positions = input.allLogits ? input.newTokens : 1;
    const logits = new Float32Array(input.batch * positions * this.vocabSize).fill(OTHER_LOGIT);
    for (let b = 0; b < input.batch; b++) {
      for (let p = 0; p < positions; p++) {
        const t = input.ids[b * input.newTokens + (input.allLogits ? p : input.newTokens - 1)] as number;
        logits[(b * positions + p) * this.vocabSize + this.next(t)] = 0;
      }
    }
    const cache: KvCache = { length: (input.cache?.length ?? 0) + input.newTokens, batch: input.batch, dispose() {} };
    return { logits, cache };
  }

  selectRows(cache: KvCache, rows: readonly number[]): KvCache {
    return { length: cache.length, batch: rows.length, dispose() {} };
  }
}

/** log p of the favoured token: 0 − logsumexp(0, (V − 1) × OTHER_LOGIT). */
export function favouredLogprob(vocabSize: number): number {
  return -Math.log(1 + (vocabSize - 1) * Math.exp(OTHER_LOGIT));
}

/** Greedy decoding of this model emits `script` token by token (one prompt of `promptLength` tokens, batch 1). */
export function scriptedModel(script: readonly number[], vocabSize: number, promptLength: number, maxPositions = 1024): DecodeModel {
  return {
    vocabSize,
    maxPositions,
    async step(input: StepInput): Promise<StepOutput> {
      const generated = (input.cache?.length ?? 0) + input.newTokens - promptLength;
      const logits = new Float32Array(input.batch * vocabSize).fill(-5);
      for (let b = 0; b < input.batch; b++) logits[b * vocabSize + (script[generated] ?? 0)] = 5;
      const cache: KvCache = { length: (input.cache?.length ?? 0) + input.newTokens, batch: input.batch, dispose() {} };
      return { logits, cache };
    },
    selectRows: (cache, rows) => ({ length: cache.length, batch: rows.length, dispose() {} }),
  };
}

/** A byte tokenizer that counts calls, so a test can tell when the server has queued a request (it encodes, then queues). */
export class CountingTokenizer extends ByteTokenizer {
  encodes = 0;
  override encode(text: string, options?: { allowSpecial?: boolean }): number[] {
    this.encodes++;
    return super.encode(text, options);
  }
}

export function fixtures(maxPositions = 64, endAfterZ = true): { tokenizer: CountingTokenizer; model: CountingModel } {
  const tokenizer = new CountingTokenizer();
  return { tokenizer, model: new CountingModel(tokenizer.vocabSize, maxPositions, tokenizer.eosTokenId, endAfterZ) };
}

/** Resolves once `condition()` holds, checking after each macrotask (no timers, no sleeping). */
export async function until(condition: () => boolean, what: string, maxTurns = 100_000): Promise<void> {
  for (let turn = 0; turn < maxTurns; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A deferred promise. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

export type RecordedCall = Parameters<GenerateFn>;

// biome-ignore lint/suspicious/noExplicitAny: response bodies are untyped JSON that the tests' assertions check.
export async function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body), ...init });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** Parses an SSE body into its `data:` payloads (JSON, or the literal "[DONE]"). */
export function parseSse(body: string): unknown[] {
  return body
    .split("\n\n")
    .filter((event) => event.trim() !== "")
    .map((event) => {
      if (!event.startsWith("data: ")) throw new Error(`not an SSE data event: ${JSON.stringify(event)}`);
      const data = event.slice("data: ".length);
      return data === "[DONE]" ? data : JSON.parse(data);
    });
}

export type { ModelTokenizer };
