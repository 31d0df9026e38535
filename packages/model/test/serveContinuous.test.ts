// Continuous batching (src/serve/continuousBatcher.ts) on the contract-checking fake model: requests join the running
// batch at the next decode step, finished rows leave it at once, and every request gets what a solo generate() gives.
// Ordering is observed through the model's recorded steps, never through time.
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../src/cli/serve.js";
import type { CacheRows, GeneratedSample, GenerationRequest, KvCache, StepInput, StepOutput } from "../src/engine.js";
import { generate } from "../src/generate/generate.js";
import { ApiError } from "../src/serve/apiError.js";
import { ContinuousBatcher } from "../src/serve/continuousBatcher.js";
import { type RunningServer, startServer } from "../src/serve/server.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";
import { FakeCache, FakeModel, hashLogits, type LogitsFn, scriptedLogits } from "./generateFakeModel.js";
import { CountingModel, fixtures, gate, parseSse, postJson, until } from "./serveHelpers.js";

const tok = new ByteTokenizer();
const V = tok.vocabSize;
const enc = (s: string) => [...new TextEncoder().encode(s)];

/** The fake model with mergeCaches; a dropped leading position must be padding, and `lengths` must count real positions. */
class MergingFakeModel extends FakeModel {
  readonly merges: { batch: number; length: number }[] = [];
  mergeCaches(parts: readonly CacheRows[], length: number): KvCache {
    const rows = parts.flatMap(({ cache, rows: picked, lengths }) => {
      const c = cache as FakeCache;
      if (c.disposed) throw new Error("fake model: mergeCaches on a disposed cache");
      return picked.map((r, i) => {
        const row = c.rows[r];
        if (!row) throw new Error(`fake model: mergeCaches row ${r} of ${c.batch}`);
        const real = row.real.filter((x) => x).length;
        if (lengths !== undefined && lengths[i] !== real) throw new Error(`fake model: mergeCaches says row ${r} has ${lengths[i]} real positions, it has ${real}`);
        const drop = Math.max(0, row.ids.length - length);
        if (row.real.slice(0, drop).some((real) => real)) throw new Error("fake model: mergeCaches dropped a real position");
        const pad = Math.max(0, length - row.ids.length);
        return { ids: [...new Array<number>(pad).fill(0), ...row.ids.slice(drop)], real: [...new Array<boolean>(pad).fill(false), ...row.real.slice(drop)] };
      });
    });
    this.merges.push({ batch: rows.length, length });
    return new FakeCache(rows, this);
  }
}

/** Fails every step whose new tokens include `poison` (a request that breaks generation). */
class PoisonedModel extends MergingFakeModel {
  constructor(
    logitsFn: LogitsFn,
    readonly poison: number,
  ) {
    super(V, 256, logitsFn);
  }
  override async step(input: StepInput): Promise<StepOutput> {
    if (input.ids.includes(this.poison)) throw new Error("step exploded");
    return super.step(input);
  }
}

const solo = async (request: GenerationRequest, logitsFn: LogitsFn = hashLogits(V)) => (await generate(new FakeModel(V, 256, logitsFn), tok, [request]))[0] as GeneratedSample[];
/** Index of the first step that prefills `prompt` (a step without cache whose rows end with it). */
const prefillOf = (steps: StepInput[], prompt: readonly number[]) =>
  steps.findIndex((s) => s.cache === undefined && Array.from({ length: s.batch }, (_, b) => [...s.ids.subarray((b + 1) * s.newTokens - prompt.length, (b + 1) * s.newTokens)].join()).includes(prompt.join()));

describe("ContinuousBatcher", () => {
  it("a request that arrives mid-generation joins at the next decode step and finishes first", async () => {
    const model = new MergingFakeModel(V, 256, hashLogits(V));
    const batcher = new ContinuousBatcher({ model, tokenizer: tok });
    const done: string[] = [];
    const long: GenerationRequest = { promptIds: enc("a long running request"), temperature: 0, maxNewTokens: 40, stopTokenIds: [] };
    const short: GenerationRequest = { promptIds: enc("hi"), temperature: 0, maxNewTokens: 5, stopTokenIds: [] };
    const a = batcher.submit({ requests: [long] }).then((r) => {
      done.push("long");
      return r;
    });
    await until(() => batcher.stats.steps >= 10, "ten decode steps of the long request");
    const b = batcher.submit({ requests: [short] }).then((r) => {
      done.push("short");
      return r;
    });
    const [ra, rb] = await Promise.all([a, b]);
    expect(done).toEqual(["short", "long"]);
    const joinedAt = prefillOf(model.steps, short.promptIds);
    // The short prompt was prefilled while the long one was running, then both decoded in the same steps.
    const longPrefill = prefillOf(model.steps, long.promptIds);
    expect(joinedAt).toBeGreaterThan(longPrefill + 10);
    expect(model.steps[joinedAt + 1]?.batch).toBe(2);
    expect(batcher.stats.rowsPerStep.filter((rows) => rows === 2)).toHaveLength(4);
    expect(batcher.stats.rowsPerStep.length).toBe(39);
    expect(ra).toEqual([await solo(long)]);
    expect(rb).toEqual([await solo(short)]);
    await until(() => model.live === 0, "every cache disposed");
  });

  it("gives every request exactly what a solo generate() gives (greedy, seeded sampling, n, stop strings, log-probs)", async () => {
    const model = new MergingFakeModel(V, 256, hashLogits(V));
    const batcher = new ContinuousBatcher({ model, tokenizer: tok, maxBatchSize: 4 });
    const requests: GenerationRequest[] = [
      { promptIds: enc("x"), temperature: 0, maxNewTokens: 16, stopTokenIds: [] },
      { promptIds: enc("a longer prompt than the others"), temperature: 0, maxNewTokens: 7, stopTokenIds: [] },
      { promptIds: enc("sampled"), temperature: 0.9, topP: 0.9, seed: 11, n: 2, maxNewTokens: 9, topLogprobs: 3 },
      { promptIds: enc("stops"), temperature: 1, seed: 3, maxNewTokens: 30, stop: ["e", "a"] },
      { promptIds: enc("zero"), maxNewTokens: 0 },
      { promptIds: enc("late and long"), temperature: 0, topK: 5, maxNewTokens: 24, stopTokenIds: [] },
    ];
    const results: Promise<GeneratedSample[][]>[] = [];
    for (const [i, request] of requests.entries()) {
      results.push(batcher.submit({ requests: [request] }));
      const steps = batcher.stats.steps;
      if (i % 2 === 1) await until(() => batcher.stats.steps >= steps + 3, "three more steps");
    }
    const got = await Promise.all(results);
    for (const [i, request] of requests.entries()) expect(got[i]?.[0]).toEqual(await solo(request));
    expect(Math.max(...batcher.stats.rowsPerStep)).toBeLessThanOrEqual(4);
    await until(() => model.live === 0, "every cache disposed");
  });

  it("frees a finished row's slot at once: waiting rows take it, and the cache drops padding no row needs", async () => {
    const model = new MergingFakeModel(V, 256, hashLogits(V));
    const batcher = new ContinuousBatcher({ model, tokenizer: tok, maxBatchSize: 2 });
    const request = (prompt: string, maxNewTokens: number): GenerationRequest => ({ promptIds: enc(prompt), temperature: 0, maxNewTokens, stopTokenIds: [] });
    const requests = [request("a very long prompt indeed, forty bytes", 3), request("b", 12), request("c", 4), request("d", 4)];
    const got = await Promise.all(requests.map((r) => batcher.submit({ requests: [r] })));
    // Rows per step stay at maxBatchSize while anyone waits: a and b (2 steps: a's first token comes from its prefill),
    // then c joins as a leaves (3 steps), d as c leaves (3 steps), and b ends alone.
    expect(batcher.stats.rowsPerStep).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1]);
    // Once the 40-byte prompt has left, no step carries its padding: b's row is the longest and has no padding.
    const after = model.steps.filter((s, k) => k > prefillOf(model.steps, enc("c")) && s.cache !== undefined);
    for (const s of after) expect((s.cache as KvCache).length).toBeLessThan(30);
    for (const [i, r] of requests.entries()) expect(got[i]?.[0]).toEqual(await solo(r));
    await until(() => model.live === 0, "every cache disposed");
  });

  it("splits a job with more rows than maxBatchSize across the batch and streams every token", async () => {
    const model = new MergingFakeModel(V, 256, hashLogits(V));
    const batcher = new ContinuousBatcher({ model, tokenizer: tok, maxBatchSize: 3 });
    const request: GenerationRequest = { promptIds: enc("many"), temperature: 0.7, seed: 9, n: 5, maxNewTokens: 6, stopTokenIds: [] };
    const streamed: number[][] = [[], [], [], [], []];
    const got = await batcher.submit({ requests: [request], onToken: (i, j, id) => streamed[j]?.push(id + 1000 * i) });
    expect(got).toEqual([await solo(request)]);
    expect(streamed).toEqual(got[0]?.map((s) => s.tokenIds));
    expect(Math.max(...batcher.stats.rowsPerStep)).toBe(3);
  });

  it("an aborted request leaves the batch without disturbing the others; a queued one leaves the queue", async () => {
    const model = new MergingFakeModel(V, 256, hashLogits(V));
    const batcher = new ContinuousBatcher({ model, tokenizer: tok, maxBatchSize: 2 });
    const keep: GenerationRequest = { promptIds: enc("keep going"), temperature: 0, maxNewTokens: 30, stopTokenIds: [] };
    const running = new AbortController();
    const queued = new AbortController();
    const kept = batcher.submit({ requests: [keep] });
    const aborted = batcher.submit({ requests: [{ promptIds: enc("abort me"), maxNewTokens: 30, stopTokenIds: [] }], signal: running.signal }).catch((e: unknown) => e);
    const never = batcher.submit({ requests: [{ promptIds: enc("never"), maxNewTokens: 30 }], signal: queued.signal }).catch((e: unknown) => e);
    await until(() => batcher.stats.steps >= 5, "five steps");
    expect(batcher.queued).toBe(1);
    queued.abort();
    running.abort();
    expect(batcher.queued).toBe(0);
    expect(await aborted).toMatchObject({ status: 499 });
    expect(await never).toBeInstanceOf(ApiError);
    expect(await kept).toEqual([await solo(keep)]);
    // From the step after the abort on, only the kept row is decoded; the other prompt was never prefilled.
    expect(batcher.stats.rowsPerStep.slice(0, 5)).toEqual([2, 2, 2, 2, 2]);
    expect(batcher.stats.rowsPerStep.slice(6).every((rows) => rows === 1)).toBe(true);
    expect(prefillOf(model.steps, enc("never"))).toBe(-1);
    await until(() => model.live === 0, "every cache disposed");
  });

  it("a step that fails fails only the request that breaks it, in prefill and in decode", async () => {
    const poison = 7;
    const marker = enc("!")[0] as number;
    // After "!", greedy decoding spells 65, 66, poison: the row feeds the poison at its third decode step.
    const logitsFn = scriptedLogits(V, marker, [65, 66, poison], 70);
    const model = new PoisonedModel(logitsFn, poison);
    const batcher = new ContinuousBatcher({ model, tokenizer: tok });
    const good: GenerationRequest = { promptIds: enc("fine"), temperature: 0, maxNewTokens: 8, stopTokenIds: [] };
    const streamed: number[] = [];
    const results = [
      batcher.submit({ requests: [good] }),
      batcher.submit({ requests: [{ promptIds: [65, poison, 66], temperature: 0, maxNewTokens: 8 }] }).catch((e: Error) => e),
      batcher.submit({ requests: [{ promptIds: enc("!"), temperature: 0, maxNewTokens: 8, stopTokenIds: [] }], onToken: (_i, _j, id) => streamed.push(id) }).catch((e: Error) => e),
    ];
    const [ok, badPrompt, badDecode] = await Promise.all(results);
    expect(ok).toEqual([await solo(good, logitsFn)]);
    expect((badPrompt as Error).message).toBe("step exploded");
    expect((badDecode as Error).message).toBe("step exploded");
    expect(streamed).toEqual([65, 66, poison]);
    await until(() => model.live === 0, "every cache disposed");
    // The batcher keeps serving.
    expect(await batcher.submit({ requests: [good] })).toEqual([await solo(good, logitsFn)]);
  });

  it("a cache rebuild that fails fails the rows it held (running and joining), and the batcher keeps serving", async () => {
    let failNext = false;
    class FlakyMergeModel extends MergingFakeModel {
      override mergeCaches(parts: readonly CacheRows[], length: number): KvCache {
        if (failNext) {
          failNext = false;
          throw new Error("out of memory");
        }
        return super.mergeCaches(parts, length);
      }
    }
    const model = new FlakyMergeModel(V, 256, hashLogits(V));
    const batcher = new ContinuousBatcher({ model, tokenizer: tok });
    const request: GenerationRequest = { promptIds: enc("ok"), temperature: 0, maxNewTokens: 20, stopTokenIds: [] };
    const running = batcher.submit({ requests: [request] }).catch((e: Error) => e);
    await until(() => batcher.stats.steps >= 3, "three steps");
    failNext = true;
    const joining = batcher.submit({ requests: [request] }).catch((e: Error) => e);
    expect(((await running) as Error).message).toBe("out of memory");
    expect(((await joining) as Error).message).toBe("out of memory");
    expect(await batcher.submit({ requests: [request] })).toEqual([await solo(request)]);
    await until(() => model.live === 0, "every cache disposed");
  });

  it("refuses a job with 429 when the queue is full, and close() answers waiting and running jobs with 503", async () => {
    const model = new MergingFakeModel(V, 256, hashLogits(V));
    const batcher = new ContinuousBatcher({ model, tokenizer: tok, maxBatchSize: 1, maxQueue: 1 });
    const job = { requests: [{ promptIds: enc("q"), maxNewTokens: 50, stopTokenIds: [] }] };
    const running = batcher.submit(job).catch((e: unknown) => e);
    expect(() => batcher.submit(job)).toThrow(expect.objectContaining({ status: 429 }));
    await until(() => batcher.queued === 0 && batcher.stats.steps > 0, "the first job running");
    const waiting = batcher.submit(job).catch((e: unknown) => e);
    await batcher.close();
    expect(await running).toMatchObject({ status: 503 });
    expect(await waiting).toMatchObject({ status: 503 });
    expect(() => batcher.submit(job)).toThrow(expect.objectContaining({ status: 503 }));
    await until(() => model.live === 0, "every cache disposed");
  });

  it("close() while a prefill runs answers the joining request with 503 too", async () => {
    const held = gate();
    let holding = false;
    class HeldModel extends MergingFakeModel {
      override async step(input: StepInput): Promise<StepOutput> {
        if (input.cache === undefined) {
          holding = true;
          await held.promise;
        }
        return super.step(input);
      }
    }
    const model = new HeldModel(V, 256, hashLogits(V));
    const batcher = new ContinuousBatcher({ model, tokenizer: tok });
    const joining = batcher.submit({ requests: [{ promptIds: enc("held"), maxNewTokens: 5 }] }).catch((e: unknown) => e);
    await until(() => holding, "the prefill in flight");
    const closing = batcher.close();
    held.open();
    await closing;
    expect(await joining).toMatchObject({ status: 503 });
    await until(() => model.live === 0, "every cache disposed");
  });

  it("rejects an invalid request without affecting the batch, and needs a model with mergeCaches", async () => {
    const batcher = new ContinuousBatcher({ model: new MergingFakeModel(V, 256, hashLogits(V)), tokenizer: tok });
    await expect(batcher.submit({ requests: [{ promptIds: [], maxNewTokens: 2 }] })).rejects.toThrow(/at least one token/);
    expect(() => new ContinuousBatcher({ model: new FakeModel(V, 256, hashLogits(V)), tokenizer: tok })).toThrow(/mergeCaches/);
  });
});

/** The server tests' counting model, with mergeCaches (its logits depend on the last token only). */
class MergingCountingModel extends CountingModel {
  mergeCaches(parts: readonly CacheRows[], length: number): KvCache {
    return { length, batch: parts.reduce((sum, p) => sum + p.rows.length, 0), dispose() {} };
  }
}

describe("infialign-serve with continuous batching", () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("is the default: a short request sent during a long one is answered first, streams, and both are right", async () => {
    const { tokenizer } = fixtures();
    const model = new MergingCountingModel(tokenizer.vocabSize, 1024, tokenizer.eosTokenId, false);
    server = await startServer({ model, tokenizer, modelId: "m", port: 0 });
    const base = `${server.url}/v1`;
    const order: string[] = [];
    const long = postJson(`${base}/completions`, { model: "m", prompt: "a", temperature: 0, max_tokens: 600 }).then((r) => {
      order.push("long");
      return r;
    });
    await until(() => model.steps.length > 20, "the long generation running");
    const res = await fetch(`${base}/completions`, { method: "POST", body: JSON.stringify({ model: "m", prompt: "m", temperature: 0, max_tokens: 4, stream: true }) });
    const events = parseSse(await res.text());
    order.push("short");
    expect(events.at(-1)).toBe("[DONE]");
    expect(events.flatMap((e) => (typeof e === "string" ? [] : (e as { choices: { text: string }[] }).choices.map((c) => c.text))).join("")).toBe("nopq");
    const longReply = await long;
    expect(order).toEqual(["short", "long"]);
    expect(longReply.json.usage.completion_tokens).toBe(600);
    expect(model.steps.some((s) => s.batch === 2)).toBe(true);
  });

  it("infialign-serve takes --batching continuous|static and refuses anything else", async () => {
    const err: string[] = [];
    const io = { out: () => {}, err: (line: string) => err.push(line), shutdown: () => Promise.resolve("test over") };
    expect(await main(["--model", "m", "--batching", "dynamic"], io)).toBe(2);
    expect(err.join("\n")).toContain('--batching must be continuous or static, got "dynamic"');
    const out: string[] = [];
    expect(await main(["--help"], { ...io, out: (line) => out.push(line) })).toBe(0);
    expect(out.join("\n")).toMatch(/--batching <mode>\s+continuous:/);
  });

  it('refuses batching "continuous" with a generateFn or a model without mergeCaches; "static" keeps the old batcher', async () => {
    const { tokenizer, model } = fixtures();
    await expect(startServer({ model, tokenizer, modelId: "m", port: 0, batching: "continuous" })).rejects.toThrow(/mergeCaches/);
    const merging = new MergingCountingModel(tokenizer.vocabSize, 64, tokenizer.eosTokenId);
    await expect(startServer({ model: merging, tokenizer, modelId: "m", port: 0, batching: "continuous", generateFn: generate })).rejects.toThrow(/generateFn/);
    server = await startServer({ model: merging, tokenizer, modelId: "m", port: 0, batching: "static" });
    const reply = await postJson(`${server.url}/v1/completions`, { model: "m", prompt: "a", temperature: 0, max_tokens: 3 });
    expect(reply.json.choices[0].text).toBe("bcd");
  });
});
