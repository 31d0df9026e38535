import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChatHandler, type FaultKind, type OpenAIServer, type OpenAIServerOptions, startOpenAIServer } from "@infialign/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RejectCode, StageContext } from "../src/runtime/types.js";
import { computeSampleId, makeSample, type Sample } from "../src/schema/sample.js";
import {
  backoffDelay,
  type ChatClientOptions,
  chatCacheKey,
  DEFAULT_BACKOFF,
  DEFAULT_TEACHER_CONFIG,
  DiskCache,
  OpenAIChatClient,
  resolveTeacherConfig,
  TeacherRequestError,
  teacherStage,
} from "../src/teacher/index.js";
import { extractBoxed as lastBoxed } from "../src/normalize/answer.js";

const MODEL = "teacher-model";
const USER = [{ role: "user" as const, content: "What is 1+1?" }];

let tmp: string;
const servers: OpenAIServer[] = [];
const clients: OpenAIChatClient[] = [];

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "teacher-test-"));
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await rm(tmp, { recursive: true, force: true });
});

async function server(opts: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const s = await startOpenAIServer(opts);
  servers.push(s);
  return s;
}

/** A client whose backoff waits are recorded, not slept. */
function client(s: OpenAIServer, opts: Partial<ChatClientOptions> = {}): { c: OpenAIChatClient; sleeps: number[] } {
  const sleeps: number[] = [];
  const c = new OpenAIChatClient({
    baseURL: s.url,
    model: MODEL,
    random: () => 1,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...opts,
  });
  clients.push(c);
  return { c, sleeps };
}

/** Answers chat requests with the given JSON bodies in turn (the last one repeated), for replies the fault server cannot make. */
async function rawServer(bodies: unknown[]): Promise<{ url: string; close: () => Promise<void> }> {
  let n = 0;
  const srv = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(bodies[Math.min(n++, bodies.length - 1)]));
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/v1`, close: () => new Promise((r) => srv.close(() => r())) };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("startOpenAIServer", () => {
  it("serves models, chat and completions, and rejects bad requests OpenAI-style", async () => {
    const s = await server({ handler: (req) => `re: ${req.messages.at(-1)?.content}` });
    const models = (await (await fetch(`${s.url}/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toEqual(["test-model"]);

    const chat = await fetch(`${s.url}/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m", messages: USER, n: 2 }) });
    const body = (await chat.json()) as { choices: Array<{ message: { content: string }; finish_reason: string }>; usage: { total_tokens: number } };
    expect(body.choices.map((c) => c.message.content)).toEqual(["re: What is 1+1?", "re: What is 1+1?"]);
    expect(body.choices[0]?.finish_reason).toBe("stop");
    expect(body.usage.total_tokens).toBeGreaterThan(0);

    const completion = await fetch(`${s.url}/completions`, { method: "POST", body: JSON.stringify({ model: "m", prompt: "hi" }) });
    expect(((await completion.json()) as { choices: Array<{ text: string }> }).choices[0]?.text).toBe("re: hi");

    const bad = await fetch(`${s.url}/chat/completions`, { method: "POST", body: JSON.stringify({ messages: USER }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { message: expect.stringContaining("model"), type: "invalid_request_error", param: "model", code: null } });
  });
});

describe("OpenAIChatClient", () => {
  it("returns choices, finish reasons and usage, sending model, sampling params and the API key", async () => {
    const s = await server({ handler: () => "The answer is \\boxed{2}." });
    const { c } = client(s, { apiKey: "sk-test" });
    const res = await c.chat({ messages: USER, temperature: 0.6, top_p: 0.95, max_tokens: 100, seed: 7 });
    expect(res).toEqual({
      choices: [{ content: "The answer is \\boxed{2}.", finishReason: "stop" }],
      usage: { promptTokens: 3, completionTokens: 4, totalTokens: 7 },
      cached: false,
      attempts: 1,
    });
    expect(s.requests).toHaveLength(1);
    expect(s.requests[0]?.path).toBe("/v1/chat/completions");
    expect(s.requests[0]?.body).toEqual({ model: MODEL, messages: USER, temperature: 0.6, top_p: 0.95, max_tokens: 100, seed: 7 });
    expect(s.requests[0]?.headers.authorization).toBe("Bearer sk-test");
  });

  it("retries a 429 after the server's Retry-After instead of its own backoff", async () => {
    const s = await server({ faults: ["429"] });
    const { c, sleeps } = client(s);
    const res = await c.chat({ messages: USER });
    expect(res.attempts).toBe(2);
    expect(res.choices[0]?.content).toBe("What is 1+1?");
    expect(sleeps).toEqual([0]); // Retry-After: 0, not the 500 ms backoff
  });

  it("caps Retry-After at backoff.maxMs", async () => {
    const s = await server({ faults: ["429"], retryAfter: "120" });
    const { c, sleeps } = client(s, { backoff: { maxMs: 1000 } });
    await c.chat({ messages: USER });
    expect(sleeps).toEqual([1000]);
  });

  it("retries 500 and 503 with exponential backoff", async () => {
    const s = await server({ faults: ["500", "503"] });
    const retries: number[] = [];
    const { c, sleeps } = client(s, { onRetry: (info) => retries.push(info.status ?? 0) });
    const res = await c.chat({ messages: USER });
    expect(res.attempts).toBe(3);
    expect(sleeps).toEqual([500, 1000]);
    expect(retries).toEqual([500, 503]);
  });

  it("aborts a hung request after timeoutMs and retries", async () => {
    const s = await server({ faults: ["hang"] });
    const { c } = client(s, { timeoutMs: 1000 });
    const res = await c.chat({ messages: USER });
    expect(res.attempts).toBe(2);
    expect(s.requests).toHaveLength(2);
  });

  it.each<FaultKind>(["truncate", "reset", "bad_json"])("retries after a %s fault", async (fault) => {
    const s = await server({ faults: [fault] });
    const { c } = client(s);
    const res = await c.chat({ messages: USER });
    expect(res.attempts).toBe(2);
    expect(res.choices[0]?.content).toBe("What is 1+1?");
    expect(s.requests).toHaveLength(2);
  });

  it("does not retry a 400", async () => {
    const s = await server();
    const { c, sleeps } = client(s);
    const error = await c.chat({ messages: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TeacherRequestError);
    expect(error).toMatchObject({ attempts: 1, status: 400 });
    expect((error as Error).message).toMatch(/after 1 attempt: HTTP 400: 'messages' must be a non-empty array/);
    expect(s.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("throws TeacherRequestError naming endpoint, model and last failure once retries run out", async () => {
    const s = await server({ faultFor: () => "503" });
    const { c, sleeps } = client(s, { maxRetries: 3 });
    const error = await c.chat({ messages: USER }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TeacherRequestError);
    expect(error).toMatchObject({ attempts: 4, status: 503 });
    const message = (error as Error).message;
    expect(message).toContain(`POST ${s.url}/chat/completions`);
    expect(message).toContain(`model "${MODEL}"`);
    expect(message).toContain("HTTP 503: The engine is currently overloaded");
    expect(message.startsWith("[infialign/data] teacher: ")).toBe(true);
    expect(s.requests).toHaveLength(4);
    expect(sleeps).toEqual([500, 1000, 2000]);
  });

  it("passes a connection failure's cause through once retries run out", async () => {
    const s = await server({ faultFor: () => "reset" });
    const { c } = client(s, { maxRetries: 1 });
    const error = (await c.chat({ messages: USER }).catch((e: unknown) => e)) as TeacherRequestError;
    expect(error.attempts).toBe(2);
    expect(error.status).toBeUndefined();
    expect(error.message).toContain("connection failed");
    expect(error.cause).toBeInstanceOf(Error);
  });

  it("retries a reply whose choice has content null and no reasoning, then reports it, never returning empty text", async () => {
    const replies = [{ choices: [{ message: { content: null } }] }, { choices: [{ message: { content: null } }] }];
    const raw = await rawServer(replies);
    const { c, sleeps } = client({ url: raw.url } as OpenAIServer, { maxRetries: 1 });
    const error = (await c.chat({ messages: USER }).catch((e: unknown) => e)) as TeacherRequestError;
    expect(error).toBeInstanceOf(TeacherRequestError);
    expect(error.attempts).toBe(2);
    expect(error.message).toMatch(/after 2 attempts: response is not a chat completion \(choice 0 has content null and no reasoning\)/);
    expect(sleeps).toHaveLength(1);
    await raw.close();
  });

  it("accepts content null when the server sent the reasoning apart (cut off while thinking)", async () => {
    const raw = await rawServer([{ choices: [{ message: { content: null, reasoning_content: "hmm" }, finish_reason: "length" }] }]);
    const { c } = client({ url: raw.url } as OpenAIServer);
    const reply = await c.chat({ messages: USER });
    expect(reply.choices).toEqual([{ content: "", reasoning: "hmm", finishReason: "length" }]);
    await raw.close();
  });

  it("labels its errors with the caller's package and component", async () => {
    const s = await server({ faultFor: () => "400" });
    const { c } = client(s, { label: "[infialign/eval] endpoint-runner" });
    const error = (await c.chat({ messages: USER }).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/^\[infialign\/eval\] endpoint-runner: POST /);
    expect(error.message).not.toContain("[infialign/data]");
  });

  it("refuses a base URL that is not an http(s) URL at construction, instead of retrying it as a network failure", () => {
    expect(() => new OpenAIChatClient({ baseURL: "not-a-url", model: MODEL })).toThrow('[infialign/data] teacher: baseURL must be an http(s) URL such as http://localhost:8000/v1, got "not-a-url"');
    expect(() => new OpenAIChatClient({ baseURL: "ftp://x/v1", model: MODEL, label: "[infialign/eval] endpoint-runner" })).toThrow(/^\[infialign\/eval\] endpoint-runner: baseURL must be/);
  });

  it("stops at once when the caller's signal aborts", async () => {
    const s = await server({ faults: ["hang"] });
    const { c } = client(s);
    const controller = new AbortController();
    const pending = c.chat({ messages: USER }, { signal: controller.signal });
    // Abort once the server holds the request (a fixed sleep raced the request on a loaded machine).
    await vi.waitFor(() => expect(s.requests).toHaveLength(1), { timeout: 30_000, interval: 5 });
    controller.abort(new Error("user abort"));
    await expect(pending).rejects.toThrow("user abort");
    expect(s.requests).toHaveLength(1);
  });

  it("never has more than `concurrency` requests in flight", async () => {
    const handler: ChatHandler = async (req) => {
      await wait(15);
      return req.messages[0]?.content ?? "";
    };
    const s = await server({ handler });
    const { c } = client(s, { concurrency: 3 });
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => c.chat({ messages: [{ role: "user", content: `q${i}` }] })));
    expect(replies.map((r) => r.choices[0]?.content)).toEqual(Array.from({ length: 12 }, (_, i) => `q${i}`));
    expect(s.requests).toHaveLength(12);
    expect(s.maxInFlight).toBe(3);
  });

  it("serves a repeated request from the disk cache without any HTTP request", async () => {
    let calls = 0;
    const s = await server({ handler: () => `reply ${calls++}` });
    const cache = new DiskCache(join(tmp, "cache"));
    const first = await client(s, { cache }).c.chat({ messages: USER, temperature: 0.6 });
    const second = await client(s, { cache }).c.chat({ messages: USER, temperature: 0.6 });
    expect(s.requests).toHaveLength(1);
    expect(second).toEqual({ ...first, cached: true, attempts: 0 });
    expect(second.choices[0]?.content).toBe("reply 0");
  });

  it("keys the cache on model and sampling, not on base URL or API key", async () => {
    const a = await server();
    const b = await server();
    const req = { messages: USER, temperature: 0.6 };
    const keyA = client(a).c.cacheKey(req);
    expect(client(b, { apiKey: "other" }).c.cacheKey(req)).toBe(keyA);
    expect(chatCacheKey(MODEL, { temperature: 0.6, messages: USER, seed: undefined })).toBe(keyA);
    expect(chatCacheKey(MODEL, { ...req, temperature: 0.7 })).not.toBe(keyA);
    expect(chatCacheKey("other-model", req)).not.toBe(keyA);
    expect(client(a, { cacheNamespace: "q4" }).c.cacheKey(req)).not.toBe(keyA);
    expect(keyA).toMatch(/^[0-9a-f]{64}$/);
  });

  it("treats a corrupt cache entry as a miss and rewrites it", async () => {
    const s = await server();
    const cache = new DiskCache(join(tmp, "cache"));
    const { c } = client(s, { cache });
    const key = c.cacheKey({ messages: USER });
    await c.chat({ messages: USER });
    await writeFile(cache.pathOf(key), '{"choices": [{"content": "trunc');
    const res = await c.chat({ messages: USER });
    expect(res.cached).toBe(false);
    expect(s.requests).toHaveLength(2);
    expect((await c.chat({ messages: USER })).cached).toBe(true);
    // A well-formed file of the wrong shape is a miss too.
    await writeFile(cache.pathOf(key), JSON.stringify({ choices: "nope" }));
    expect((await c.chat({ messages: USER })).cached).toBe(false);
  });
});

describe("DiskCache", () => {
  it("stores one JSON file per key under a two-character fan-out, leaving no temp files", async () => {
    const cache = new DiskCache(join(tmp, "c"));
    const key = "abcdef0123";
    expect(await cache.get(key)).toBeUndefined();
    await Promise.all([cache.set(key, { v: 1 }), cache.set(key, { v: 1 })]);
    expect(await cache.get(key)).toEqual({ v: 1 });
    expect(cache.pathOf(key)).toBe(join(tmp, "c", "ab", "abcdef0123.json"));
    expect(await readdir(join(tmp, "c", "ab"))).toEqual(["abcdef0123.json"]);
    await writeFile(cache.pathOf(key), "");
    expect(await cache.get(key)).toBeUndefined();
  });

  it("refuses keys that could escape the directory", async () => {
    const cache = new DiskCache(tmp);
    expect(() => cache.pathOf("../../etc/passwd")).toThrow(/not a hash/);
  });
});

describe("backoffDelay", () => {
  const seq = (random: () => number, backoff = DEFAULT_BACKOFF) => Array.from({ length: 9 }, (_, i) => backoffDelay(i + 1, backoff, random));

  it("grows exponentially to maxMs, with full jitter scaling each ceiling", () => {
    expect(seq(() => 1)).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(seq(() => 0.5)).toEqual([250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
    expect(seq(() => 0)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("waits the ceiling without jitter", () => {
    expect(seq(() => 0, { initialMs: 100, maxMs: 1000, multiplier: 3, jitter: "none" })).toEqual([100, 300, 900, 1000, 1000, 1000, 1000, 1000, 1000]);
  });
});

describe("resolveTeacherConfig", () => {
  it("applies the R1 defaults", () => {
    const config = resolveTeacherConfig({ baseURL: "http://localhost:8000/v1", model: "m", backoff: { maxMs: 5000 } });
    expect(config).toMatchObject({ ...DEFAULT_TEACHER_CONFIG, backoff: { ...DEFAULT_BACKOFF, maxMs: 5000 } });
    expect(config.promptTemplate).toBe("{prompt}\nPlease reason step by step, and put your final answer within \\boxed{}.");
    expect([config.temperature, config.top_p, config.max_tokens, config.timeoutMs]).toEqual([0.6, 0.95, 32768, 600_000]);
  });

  it("reports every invalid field at once", () => {
    let message = "";
    try {
      resolveTeacherConfig({ baseURL: "not a url", model: "", temperature: 3, concurrency: 0, promptTemplate: "no placeholder" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^\[infialign\/data\] teacher: invalid config \(5 problems\)/);
    for (const field of ["baseURL", "model", "temperature", "concurrency", "promptTemplate"]) expect(message).toContain(`${field}:`);
  });
});

describe("teacher answers use the shared extractBoxed", () => {
  it("returns the last complete boxed content, nested braces included", () => {
    expect(lastBoxed("a \\boxed{1} then \\boxed{\\frac{1}{2}}")).toBe("\\frac{1}{2}");
    expect(lastBoxed("\\boxed{\\{1, 2\\}}")).toBe("\\{1, 2\\}");
    expect(lastBoxed("\\boxed{3} and a cut \\boxed{\\frac{1}{")).toBe("3");
    expect(lastBoxed("\\fbox{x}")).toBe("x");
    expect(lastBoxed("no answer")).toBeUndefined();
  });
});

describe("teacherStage", () => {
  interface Rejected {
    record: unknown;
    code: RejectCode;
    message: string;
    id?: string;
  }

  function context(cacheDir: string, signal = new AbortController().signal) {
    const rejects: Rejected[] = [];
    const counts: Record<string, number> = {};
    const ctx: StageContext = {
      reject: (record, code, message, extra) => rejects.push({ record, code, message, ...(extra?.id ? { id: extra.id } : {}) }),
      duplicate: () => {
        throw new Error("unexpected duplicate");
      },
      count: (name, by = 1) => {
        counts[name] = (counts[name] ?? 0) + by;
      },
      logger: { info() {}, warn() {}, debug() {} },
      progress: { start() {}, update() {}, stop() {} },
      signal,
      cacheDir,
      seed: 0,
    };
    return { ctx, rejects, counts };
  }

  async function* from<T>(items: T[]): AsyncIterable<T> {
    for (const item of items) yield item;
  }

  async function collect(iterable: AsyncIterable<Sample>): Promise<Sample[]> {
    const out: Sample[] = [];
    for await (const s of iterable) out.push(s);
    return out;
  }

  /** Replies out of order (later prompts answer sooner); FAIL prompts always 500, LONG ones hit max_tokens. */
  const handler: ChatHandler = async (req) => {
    const content = req.messages.at(-1)?.content ?? "";
    const n = Number(/q(\d+)/.exec(content)?.[1] ?? 0);
    await wait((20 - n) % 7);
    if (content.includes("LONG")) return { content: "<think>going on and on", finishReason: "length" };
    if (content.includes("NOANSWER")) return "<think>hmm</think>I don't know.";
    return `<think>\nthinking about q${n}\n</think>\nSo the answer is \\boxed{${n}}.`;
  };
  const faultFor = (req: { messages: Array<{ content: string }> }, attempt: number): FaultKind | undefined =>
    req.messages.at(-1)?.content.includes("FAIL") ? "500" : attempt === 1 && req.messages.at(-1)?.content.includes("q3") ? "503" : undefined;

  function inputs(): Sample[] {
    return [
      makeSample({ source: "t", prompt: "q0" }),
      makeSample({ source: "t", prompt: "q1 kept", response: "old", reasoning: "already thought" }),
      makeSample({ source: "t", prompt: "q2", answer: "stale", lineage: ["normalize"] }),
      makeSample({ source: "t", prompt: "q3" }),
      makeSample({ source: "t", prompt: "q4 FAIL" }),
      makeSample({ source: "t", prompt: "q5 LONG" }),
      makeSample({ source: "t", prompt: "q6 with solution", response: "human solution \\boxed{6}" }),
      makeSample({ source: "t", prompt: "q7 NOANSWER" }),
      ...Array.from({ length: 12 }, (_, i) => makeSample({ source: "t", prompt: `q${8 + i}`, meta: { level: i } })),
    ];
  }

  const stageOptions = (s: OpenAIServer) => ({ baseURL: s.url, model: MODEL, concurrency: 2, maxRetries: 2, apiKey: "sk-secret", seed: 1 });
  const hooks = { sleep: async () => {}, random: () => 1 };

  it("generates, passes through and rejects records in input order", async () => {
    const s = await server({ handler, faultFor });
    const stage = teacherStage(stageOptions(s), hooks);
    expect(stage.name).toBe("teacher");
    expect(stage.resume).toBe("replay");
    expect(JSON.stringify(stage.params)).not.toContain("sk-secret");

    const input = inputs();
    const { ctx, rejects, counts } = context(join(tmp, "cache"));
    const out = await collect(stage.run(from(input), ctx));

    expect(out.map((o) => o.prompt)).toEqual(["q0", "q1 kept", "q2", "q3", "q6 with solution", ...Array.from({ length: 12 }, (_, i) => `q${8 + i}`)]);
    expect(out[1]).toBe(input[1]);
    expect(out[4]).toBe(input[6]);

    const q2 = out[2]!;
    const reply = "<think>\nthinking about q2\n</think>\nSo the answer is \\boxed{2}.";
    expect(q2).toEqual({
      id: computeSampleId("q2", reply),
      source: "t",
      prompt: "q2",
      response: reply,
      reasoning: "thinking about q2",
      answer: "2",
      meta: { teacher: { model: MODEL, finishReason: "stop" } },
      lineage: ["normalize", "teacher"],
    });
    expect(q2.id).not.toBe(input[2]!.id);
    expect(out[5]?.meta).toEqual({ level: 0, teacher: { model: MODEL, finishReason: "stop" } });

    const prompt = (s.requests.find((r) => JSON.stringify(r.body).includes('"q0')) as { body: { messages: unknown; temperature: number } }).body;
    expect(prompt).toMatchObject({ messages: [{ role: "user", content: "q0\nPlease reason step by step, and put your final answer within \\boxed{}." }], temperature: 0.6, top_p: 0.95, max_tokens: 32768, seed: 1 });

    expect(rejects.map((r) => [(r.record as Sample).prompt, r.code])).toEqual([
      ["q4 FAIL", "teacher_failed"],
      ["q5 LONG", "teacher_truncated"],
      ["q7 NOANSWER", "missing_final_answer"],
    ]);
    expect(rejects[0]?.message).toContain("failed after 3 attempts: HTTP 500");
    expect(rejects[1]?.record).toMatchObject({ response: "<think>going on and on", meta: { teacher: { finishReason: "length" } } });
    expect(rejects[2]?.id).toBe(computeSampleId("q7 NOANSWER", "<think>hmm</think>I don't know."));

    // 18 records sent; q3 retried once, q4 twice.
    expect(counts).toEqual({ teacher_skipped: 2, teacher_requests: 18, teacher_retries: 3 });
    expect(s.requests).toHaveLength(18 + 3);
    expect(s.maxInFlight).toBeLessThanOrEqual(2);
  });

  it("makes no HTTP request on a rerun and gives identical output", async () => {
    const s = await server({ handler, faultFor });
    const cacheDir = join(tmp, "cache");
    // Failures are not cached (a rerun tries them again), so leave the always-failing record out.
    const records = () => inputs().filter((r) => !r.prompt.includes("FAIL"));
    const first = context(cacheDir);
    const out1 = await collect(teacherStage(stageOptions(s), hooks).run(from(records()), first.ctx));
    const sent = s.requests.length;
    expect(sent).toBe(17 + 1);

    const second = context(cacheDir);
    const out2 = await collect(teacherStage(stageOptions(s), hooks).run(from(records()), second.ctx));
    expect(s.requests.length).toBe(sent);
    // Records do not say whether their reply was cached, so a rerun is byte-identical.
    expect(out2).toEqual(out1);
    expect(second.rejects.map((r) => r.code)).toEqual(first.rejects.map((r) => r.code));
    expect(second.counts).toEqual({ teacher_skipped: 2, teacher_requests: 17, teacher_cache_hits: 17 });
  });

  it("stops sending requests when the run is aborted", async () => {
    const controller = new AbortController();
    const slow: ChatHandler = async () => {
      await wait(10);
      return "\\boxed{1}";
    };
    const s = await server({ handler: slow });
    const { ctx } = context(join(tmp, "cache"), controller.signal);
    const records = Array.from({ length: 50 }, (_, i) => makeSample({ source: "t", prompt: `p${i}` }));
    const out: Sample[] = [];
    const run = (async () => {
      for await (const sample of teacherStage({ baseURL: s.url, model: MODEL, concurrency: 2 }, hooks).run(from(records), ctx)) {
        out.push(sample);
        if (out.length === 3) controller.abort(new Error("stop now"));
      }
    })();
    await expect(run).rejects.toThrow("stop now");
    const sent = s.requests.length;
    expect(sent).toBeLessThan(10);
    await wait(30);
    expect(s.requests.length).toBe(sent);
  });
});
