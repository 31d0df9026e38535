import { afterEach, describe, expect, it } from "vitest";
import type { GenerateFn, GenerateOptions, GenerationRequest } from "../src/engine.js";
import { generate } from "../src/generate/generate.js";
import { type RunningServer, type ServerOptions, startServer } from "../src/serve/server.js";
import { fixtures, gate, parseSse, postJson, until } from "./serveHelpers.js";

/** A server whose generateFn records its calls and holds the first one until `first.open()`. */
async function heldServer(options: Partial<ServerOptions> & { fail?: (requests: readonly GenerationRequest[]) => boolean } = {}) {
  const { tokenizer, model } = fixtures(128);
  const first = gate();
  const calls: { requests: GenerationRequest[]; options: GenerateOptions }[] = [];
  const generateFn: GenerateFn = async (m, t, requests, generateOptions = {}) => {
    calls.push({ requests: [...requests], options: generateOptions });
    if (calls.length === 1) await first.promise;
    if (options.fail?.(requests)) throw new Error("generation exploded");
    return generate(m, t, requests, generateOptions);
  };
  const lines: string[] = [];
  const server = await startServer({ model, tokenizer, modelId: "m", port: 0, generateFn, log: (line) => lines.push(line), ...options });
  return { server, base: `${server.url}/v1`, calls, first, tokenizer, lines };
}

const complete = (base: string, prompt: string, extra: Record<string, unknown> = {}, init: RequestInit = {}) => postJson(`${base}/completions`, { model: "m", prompt, temperature: 0, max_tokens: 3, ...extra }, init);

describe("infialign-serve: queue and batcher", () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("merges requests that arrive during a batch into the next generateFn call, each with its own options", async () => {
    const s = await heldServer({ maxBatchSize: 3 });
    server = s.server;
    const a = complete(s.base, "a");
    await until(() => s.calls.length === 1, "the first batch");
    const rest = [complete(s.base, "d", { max_tokens: 2 }), complete(s.base, "g", { max_tokens: 4 }), complete(s.base, "p", { n: 2 }), complete(s.base, "w")];
    await until(() => s.tokenizer.encodes === 5, "four queued requests");
    s.first.open();
    const replies = await Promise.all([a, ...rest]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(replies.map((r) => r.json.choices.map((c: { text: string }) => c.text))).toEqual([["bcd"], ["ef"], ["hijk"], ["qrs", "qrs"], ["xyz"]]);
    // Rows (prompts × n) per call stay within maxBatchSize = 3: [a], [d, g] (p's 2 rows would make 4), [p, w].
    expect(s.calls.map((c) => c.requests.map((r) => String.fromCharCode(r.promptIds[0] as number)))).toEqual([["a"], ["d", "g"], ["p", "w"]]);
    expect(s.calls[1]?.requests.map((r) => r.maxNewTokens)).toEqual([2, 4]);
    expect(s.calls[1]?.options.maxBatchSize).toBe(3);
  });

  it("reads new requests while a generation runs, even when every model step completes at once (tfjs cpu/wasm)", async () => {
    const { tokenizer, model } = fixtures(1024, false);
    const seenDuringFirst: number[] = [];
    let call = 0;
    const generateFn: GenerateFn = async (m, t, requests, options) => {
      const mine = ++call;
      const step: typeof m.step = (input) => {
        if (mine === 1) seenDuringFirst.push(tokenizer.encodes);
        return m.step(input);
      };
      const watched = { ...m, step, selectRows: m.selectRows };
      return generate(watched, t, requests, options);
    };
    server = await startServer({ model, tokenizer, modelId: "m", port: 0, generateFn });
    const base = `${server.url}/v1`;
    const long = complete(base, "a", { max_tokens: 800 });
    await until(() => call === 1, "the first batch");
    const short = complete(base, "b");
    expect((await long).json.usage.completion_tokens).toBe(800);
    expect((await short).json.choices[0].text).toBe("cde");
    // The second request was read (tokenised and queued) while the first was still being decoded.
    expect(seenDuringFirst.at(-1)).toBe(2);
  });

  it("answers 429 when the queue is full and keeps serving the others", async () => {
    const s = await heldServer({ maxQueue: 1 });
    server = s.server;
    const a = complete(s.base, "a");
    await until(() => s.calls.length === 1, "the first batch");
    const [b, c] = [complete(s.base, "b"), complete(s.base, "c")];
    const rejected = await Promise.race([b, c]);
    expect(rejected.status).toBe(429);
    expect(rejected.json.error).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
    s.first.open();
    expect((await a).status).toBe(200);
    expect([(await b).status, (await c).status].sort()).toEqual([200, 429]);
  });

  it("a failing batch fails only the request that breaks generation (500); the server keeps serving", async () => {
    const boom = "z".charCodeAt(0);
    const s = await heldServer({ fail: (requests) => requests.some((r) => r.promptIds.includes(boom)) });
    server = s.server;
    const a = complete(s.base, "a");
    await until(() => s.calls.length === 1, "the first batch");
    const [bad, good] = [complete(s.base, "z"), complete(s.base, "m")];
    await until(() => s.tokenizer.encodes === 3, "two queued requests");
    s.first.open();
    expect((await a).status).toBe(200);
    const failed = await bad;
    expect(failed.status).toBe(500);
    expect(failed.json.error).toMatchObject({ type: "server_error", message: expect.stringContaining("generation exploded") });
    expect((await good).json.choices[0].text).toBe("nop");
    // The merged call failed, then each request was retried alone.
    expect(s.calls.map((c) => c.requests.length)).toEqual([1, 2, 1, 1]);
    expect((await complete(s.base, "q")).status).toBe(200);
    expect(s.lines.some((l) => l.includes("generation exploded"))).toBe(true);
  });

  it("ends a stream whose generation fails with an SSE error event and [DONE]", async () => {
    const { tokenizer, model } = fixtures(128);
    const failing: GenerateFn = async (_m, _t, _requests, options) => {
      options?.onToken?.(0, 0, "b".charCodeAt(0));
      throw new Error("device lost");
    };
    server = await startServer({ model, tokenizer, modelId: "m", port: 0, generateFn: failing });
    const res = await fetch(`${server.url}/v1/completions`, { method: "POST", body: JSON.stringify({ model: "m", prompt: "a", stream: true }) });
    expect(res.status).toBe(200);
    const events = parseSse(await res.text());
    expect(events.at(-1)).toBe("[DONE]");
    expect(events.at(-2)).toMatchObject({ error: { type: "server_error", message: expect.stringContaining("device lost") } });
    expect(events[0]).toMatchObject({ choices: [{ text: "b" }] });
  });

  it("a client that disconnects aborts its generation; a queued one leaves the queue", async () => {
    const s = await heldServer();
    server = s.server;
    const running = new AbortController();
    const queued = new AbortController();
    const a = complete(s.base, "a", {}, { signal: running.signal }).catch((e: Error) => e);
    await until(() => s.calls.length === 1, "the first batch");
    const b = complete(s.base, "b", {}, { signal: queued.signal }).catch((e: Error) => e);
    await until(() => s.tokenizer.encodes === 2, "the queued request");
    queued.abort();
    running.abort();
    expect(await a).toBeInstanceOf(Error);
    expect(await b).toBeInstanceOf(Error);
    const signal = s.calls[0]?.options.signal as AbortSignal;
    await until(() => signal.aborted, "the batch's abort signal");
    s.first.open();
    expect((await complete(s.base, "c")).json.choices[0].text).toBe("def");
    // b never reached generateFn.
    expect(s.calls.map((c) => c.requests.map((r) => String.fromCharCode(r.promptIds[0] as number)))).toEqual([["a"], ["c"]]);
  });

  it("close() answers waiting requests with 503 and stops the running batch", async () => {
    const s = await heldServer();
    const a = complete(s.base, "a");
    await until(() => s.calls.length === 1, "the first batch");
    const b = complete(s.base, "b");
    await until(() => s.tokenizer.encodes === 2, "the queued request");
    const closing = s.server.close();
    const queued = await b;
    expect(queued.status).toBe(503);
    expect(queued.json.error.code).toBe("server_shutting_down");
    s.first.open();
    await closing;
    expect((await a).status).toBe(503);
    expect(s.calls[0]?.options.signal?.aborted).toBe(true);
  });
});
