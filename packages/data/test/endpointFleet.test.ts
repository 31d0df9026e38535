import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChatHandler, type OpenAIServer, type OpenAIServerOptions, startOpenAIServer } from "@infialign/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { StageContext } from "../src/runtime/types.js";
import { makeSample, type Sample } from "../src/schema/sample.js";
import {
  type ChatClientOptions,
  type ChatRequest,
  DiskCache,
  OpenAIChatClient,
  pickEndpoint,
  type RetryInfo,
  type RouteView,
  resolveTeacherConfig,
  TeacherRequestError,
  teacherStage,
} from "../src/teacher/index.js";

const MODEL = "fleet-model";

let tmp: string;
const servers: OpenAIServer[] = [];
const clients: OpenAIChatClient[] = [];

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "endpoint-fleet-test-"));
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close().catch(() => {})));
  await rm(tmp, { recursive: true, force: true });
});

async function server(opts: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const s = await startOpenAIServer(opts);
  servers.push(s);
  return s;
}

/** A server that was started and stopped: its port refuses connections. */
async function deadServer(): Promise<OpenAIServer> {
  const s = await startOpenAIServer();
  await s.close();
  return s;
}

/** A client that never sleeps (backoff waits are recorded) and whose clock stands still unless the test moves it. */
function client(opts: Partial<ChatClientOptions>): { c: OpenAIChatClient; sleeps: number[]; retries: RetryInfo[] } {
  const sleeps: number[] = [];
  const retries: RetryInfo[] = [];
  const c = new OpenAIChatClient({
    model: MODEL,
    random: () => 1,
    now: () => 0,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    onRetry: (info) => retries.push(info),
    ...opts,
  });
  clients.push(c);
  return { c, sleeps, retries };
}

const ask = (content: string): ChatRequest => ({ messages: [{ role: "user", content }], temperature: 0.6, max_tokens: 64, seed: 1 });
const chatRequests = (s: OpenAIServer) => s.requests.filter((r) => r.path === "/v1/chat/completions");

/** A `DiskCache` that counts writes per key. */
class CountingCache extends DiskCache {
  readonly writes = new Map<string, number>();
  override async set(key: string, value: unknown): Promise<void> {
    this.writes.set(key, (this.writes.get(key) ?? 0) + 1);
    await super.set(key, value);
  }
}

/** Every cache entry, as `relative path → content`, sorted. */
async function cacheFiles(dir: string): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for (const sub of (await readdir(dir)).sort()) {
    for (const file of (await readdir(join(dir, sub))).sort()) out.push([`${sub}/${file}`, await readFile(join(dir, sub, file), "utf8")]);
  }
  return out;
}

/** Replies held until the test opens the gate: each echoes its first message. */
function gate(): { handler: ChatHandler; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  const handler: ChatHandler = async (req) => {
    await wait;
    return req.messages[0]?.content ?? "";
  };
  return { handler, open };
}

describe("endpoint fleet under fault injection", () => {
  it("answers every request exactly once into the cache with one endpoint down, one slow and one failing with 500", async () => {
    const dead = await deadServer();
    const failing = await server({ faultFor: () => "500" });
    const slow = await server({ delayMs: 40 });
    const fastA = await server();
    const fastB = await server();
    // The bad endpoints come first, so index order alone would send them the most.
    const endpoints = [dead, failing, slow, fastA, fastB].map((s) => ({ baseURL: s.url, concurrency: 4 }));
    const cache = new CountingCache(join(tmp, "fleet"));
    const { c, sleeps, retries } = client({ endpoints, cache });

    const prompts = Array.from({ length: 200 }, (_, i) => `prompt ${i}`);
    // 20 requests repeat one already asked, at the same time: they share its HTTP request and cache entry.
    const asked = [...prompts, ...prompts.slice(0, 20)];
    const replies = await Promise.all(asked.map((p) => c.chat(ask(p))));

    expect(replies.map((r) => r.choices[0]?.content)).toEqual(asked);
    expect(replies.filter((r) => !r.cached)).toHaveLength(200);
    // Each distinct request written once, 200 entries on disk.
    expect(cache.writes.size).toBe(200);
    expect([...cache.writes.values()].every((n) => n === 1)).toBe(true);
    expect(await cacheFiles(cache.dir)).toHaveLength(200);
    // Exactly one successful generation per distinct request, over the healthy servers.
    const served = [slow, fastA, fastB].map((s) => chatRequests(s).length);
    expect(served.reduce((a, b) => a + b, 0)).toBe(200);

    const [deadStats, failingStats, slowStats, aStats, bStats] = c.endpointStats();
    // The dead endpoint failed its first health check and never got a request.
    expect(deadStats).toMatchObject({ baseURL: dead.url, state: "down", requests: 0, probes: 1 });
    expect(deadStats?.lastError).toMatch(/health check GET .*\/models failed \(ECONNREFUSED/);
    // The failing one got at most one request per slot before its first 500 marked it down; each failed over at once.
    const failed = failingStats!.requests;
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(failed).toBeLessThanOrEqual(4);
    expect(failingStats).toMatchObject({ state: "down", failures: failed, successes: 0 });
    expect(retries).toHaveLength(failed);
    expect(retries.every((r) => r.failover && r.endpoint === failing.url && r.status === 500 && r.delayMs === 0)).toBe(true);
    expect(sleeps).toEqual([]);
    expect(replies.filter((r) => r.attempts === 2)).toHaveLength(failed);
    // Least-loaded routing: the fast servers share the load, the slow one (slots held 40 ms) takes less.
    expect(aStats!.successes).toBeGreaterThan(50);
    expect(bStats!.successes).toBeGreaterThan(50);
    expect(slowStats!.successes).toBeGreaterThan(0);
    expect(slowStats!.successes).toBeLessThan(Math.min(aStats!.successes, bStats!.successes));
    expect(slowStats!.meanLatencyMs).toBeGreaterThanOrEqual(40);
    for (const s of [slowStats, aStats, bStats]) expect(s).toMatchObject({ state: "up", failures: 0, inFlight: 0 });

    // The same requests through one endpoint give the same cache, byte for byte and key for key.
    const single = client({ baseURL: fastA.url, cache: new DiskCache(join(tmp, "single")) }).c;
    await Promise.all(prompts.map((p) => single.chat(ask(p))));
    expect(await cacheFiles(join(tmp, "single"))).toEqual(await cacheFiles(cache.dir));
    // A rerun of the fleet is served from the cache alone.
    const before = served.reduce((a, b) => a + b, 0) + failingStats!.requests;
    const again = await Promise.all(prompts.map((p) => c.chat(ask(p))));
    expect(again.every((r) => r.cached)).toBe(true);
    expect([failing, slow, fastA, fastB].map((s) => chatRequests(s).length).reduce((a, b) => a + b, 0)).toBe(before + 200);
  });
});

describe("pickEndpoint", () => {
  const up = (inFlight: number, concurrency: number): RouteView => ({ state: "up", inFlight, concurrency });

  it("takes the fewest requests in flight relative to concurrency, the lowest index on a tie", () => {
    expect(pickEndpoint([up(0, 4), up(0, 4), up(0, 1)])).toBe(0);
    expect(pickEndpoint([up(2, 4), up(1, 1), up(3, 8)])).toBe(2);
    expect(pickEndpoint([up(1, 2), up(2, 4)])).toBe(0);
  });

  it("waits for a healthy endpoint's slot rather than use a down one", () => {
    expect(pickEndpoint([up(4, 4), { state: "down", inFlight: 0, concurrency: 4 }])).toBeUndefined();
    expect(pickEndpoint([{ state: "unknown", inFlight: 0, concurrency: 4 }, up(3, 4)])).toBe(1);
  });

  it("prefers endpoints the request has not just failed on, and uses down ones only when none is up", () => {
    expect(pickEndpoint([up(0, 4), up(3, 4)], new Set([0]))).toBe(1);
    expect(pickEndpoint([up(0, 4), { state: "down", inFlight: 0, concurrency: 4 }], new Set([0]))).toBe(0);
    const down = (inFlight: number): RouteView => ({ state: "down", inFlight, concurrency: 2 });
    expect(pickEndpoint([down(1), down(0)])).toBe(1);
    expect(pickEndpoint([down(0), down(0)], new Set([0]))).toBe(1);
  });
});

describe("OpenAIChatClient with several endpoints", () => {
  it("fills endpoints by load relative to their concurrency and queues what does not fit", async () => {
    const hold = gate();
    const small = await server({ handler: hold.handler });
    const large = await server({ handler: hold.handler });
    const { c } = client({ endpoints: [{ baseURL: small.url, concurrency: 1 }, { baseURL: large.url, concurrency: 3 }] });
    const pending = Promise.all([0, 1, 2, 3, 4].map((i) => c.chat(ask(`q${i}`))));
    await vi.waitFor(() => expect(small.inFlight + large.inFlight).toBe(4));
    expect([small.inFlight, large.inFlight]).toEqual([1, 3]);
    expect(c.endpointStats().map((s) => s.inFlight)).toEqual([1, 3]);
    hold.open();
    expect((await pending).map((r) => r.choices[0]?.content)).toEqual(["q0", "q1", "q2", "q3", "q4"]);
    expect(chatRequests(small).length + chatRequests(large).length).toBe(5);
  });

  it("re-probes a down endpoint with doubling waits and routes to it again once it answers", async () => {
    const flaky = await server();
    const steady = await server();
    flaky.setDown(true);
    let t = 0;
    const { c } = client({ endpoints: [flaky.url, steady.url], now: () => t, healthCheck: { downMs: 1000, maxDownMs: 8000 } });
    const stats = () => c.endpointStats()[0]!;

    await Promise.all([1, 2, 3].map((i) => c.chat(ask(`a${i}`))));
    expect(stats()).toMatchObject({ state: "down", probes: 1, requests: 0 });
    t = 999;
    await c.chat(ask("b"));
    expect(stats().probes).toBe(1);
    // Due at 1000: probed, still down, so the next probe waits 2000 ms.
    t = 1000;
    await c.chat(ask("c"));
    await vi.waitFor(() => expect(stats()).toMatchObject({ probes: 2, state: "down" }));
    flaky.setDown(false);
    t = 2999;
    await c.chat(ask("d"));
    expect(stats().probes).toBe(2);
    t = 3000;
    await c.chat(ask("e"));
    await vi.waitFor(() => expect(stats()).toMatchObject({ probes: 3, state: "up" }));

    await Promise.all(Array.from({ length: 10 }, (_, i) => c.chat(ask(`f${i}`))));
    expect(stats().successes).toBeGreaterThan(0);
    expect(chatRequests(flaky).length).toBe(stats().successes);
    expect(c.endpointStats()[1]!.successes + stats().successes).toBe(17);
  });

  it("without health checks, learns from a failed request and tries the endpoint again once its wait is over", async () => {
    const dead = await deadServer();
    const ok = await server();
    let t = 0;
    const { c, retries } = client({ endpoints: [dead.url, ok.url], now: () => t, healthCheck: { enabled: false, downMs: 100 } });
    const first = await c.chat(ask("x"));
    expect(first.attempts).toBe(2);
    expect(retries[0]).toMatchObject({ endpoint: dead.url, failover: true, delayMs: 0 });
    expect(retries[0]?.reason).toMatch(/connection failed \(ECONNREFUSED/);
    await c.chat(ask("y"));
    expect(c.endpointStats().map((s) => [s.requests, s.state])).toEqual([
      [1, "down"],
      [2, "up"],
    ]);
    t = 100;
    expect((await c.chat(ask("z"))).attempts).toBe(2);
    expect(c.endpointStats()[0]).toMatchObject({ requests: 2, probes: 0 });
    expect(ok.requests.some((r) => r.path === "/v1/models")).toBe(false);
  });

  it("fails over 429 without marking the endpoint down, and does not fail over a 400", async () => {
    const limited = await server({ faultFor: (_req, attempt) => (attempt === 1 ? "429" : undefined) });
    const ok = await server();
    const { c, sleeps } = client({ endpoints: [limited.url, ok.url] });
    expect((await c.chat(ask("r"))).attempts).toBe(2);
    expect(sleeps).toEqual([]);
    expect(c.endpointStats()[0]).toMatchObject({ state: "up", failures: 1 });

    const refusing = await server({ faultFor: () => "400" });
    const other = await server();
    const { c: c2 } = client({ endpoints: [refusing.url, other.url] });
    const error = await c2.chat(ask("bad")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TeacherRequestError);
    expect((error as Error).message).toBe(
      `[infialign/data] teacher: POST ${refusing.url}/chat/completions (model "${MODEL}") failed after 1 attempt: HTTP 400: Injected bad request.`,
    );
    expect(chatRequests(other)).toHaveLength(0);
  });

  it("names every endpoint tried when all of them fail", async () => {
    const a = await server({ faultFor: () => "500" });
    const b = await server({ faultFor: () => "503" });
    const { c, sleeps } = client({ endpoints: [a.url, b.url], maxRetries: 1 });
    const error = (await c.chat(ask("q")).catch((e: unknown) => e)) as TeacherRequestError;
    // a fails, b at once, then one backoff wait (maxRetries 1), then a again.
    expect(sleeps).toHaveLength(1);
    expect(error.attempts).toBe(3);
    expect(error.status).toBe(500);
    expect(error.message).toBe(
      `[infialign/data] teacher: POST /chat/completions (model "${MODEL}") failed after 3 attempts on 2 endpoints (${a.url} ×2, ${b.url} ×1); the last, on ${a.url}: HTTP 500: The server had an error while processing your request. Check that the servers are up and not overloaded, or raise maxRetries / timeoutMs.`,
    );
  });

  it("drops a queued request whose signal aborts, and re-asks for a joined request whose first caller aborted", async () => {
    const hold = gate();
    const s = await server({ handler: hold.handler });
    const cache = new CountingCache(join(tmp, "cache"));
    const { c } = client({ endpoints: [{ baseURL: s.url, concurrency: 1 }], cache });
    const first = new AbortController();
    const leader = c.chat(ask("same"), { signal: first.signal });
    const joiner = c.chat(ask("same"));
    const queued = new AbortController();
    const other = c.chat(ask("other"), { signal: queued.signal });
    await vi.waitFor(() => expect(s.inFlight).toBe(1));
    queued.abort(new Error("not needed"));
    await expect(other).rejects.toThrow("not needed");
    first.abort(new Error("first caller gone"));
    await expect(leader).rejects.toThrow("first caller gone");
    await vi.waitFor(() => expect(chatRequests(s)).toHaveLength(2));
    hold.open();
    expect((await joiner).choices[0]?.content).toBe("same");
    expect([...cache.writes.values()]).toEqual([1]);
    expect(chatRequests(s).map((r) => (r.body as { messages: Array<{ content: string }> }).messages[0]?.content)).toEqual(["same", "same"]);
  });

  it("sends no health check with one endpoint, and keys the cache as with baseURL", async () => {
    const s = await server();
    const viaList = client({ endpoints: [s.url], cache: new DiskCache(join(tmp, "list")) }).c;
    const viaUrl = client({ baseURL: s.url, cache: new DiskCache(join(tmp, "url")) }).c;
    await viaList.chat(ask("k"));
    await viaUrl.chat(ask("k"));
    expect(s.requests.map((r) => r.path)).toEqual(["/v1/chat/completions", "/v1/chat/completions"]);
    expect(await cacheFiles(join(tmp, "list"))).toEqual(await cacheFiles(join(tmp, "url")));
    expect(viaList.cacheKey(ask("k"))).toBe(viaUrl.cacheKey(ask("k")));
  });

  it("refuses a fleet given with baseURL too, a repeated endpoint and a bad URL, naming each", () => {
    expect(() => new OpenAIChatClient({ model: MODEL, baseURL: "http://a:1/v1", endpoints: ["http://b:1/v1"] })).toThrow(/either baseURL .* or endpoints/);
    expect(() => new OpenAIChatClient({ model: MODEL })).toThrow(/either baseURL .* or endpoints/);
    expect(() => new OpenAIChatClient({ model: MODEL, endpoints: ["http://a:1/v1", "http://a:1/v1/"] })).toThrow(/endpoints\[1\]\.baseURL: repeats endpoint 0/);
    expect(() => new OpenAIChatClient({ model: MODEL, endpoints: ["http://a:1/v1", { baseURL: "a:1", concurrency: 0 }] })).toThrow(
      /endpoints\[1\]\.baseURL: must be an http\(s\) URL.*endpoints\[1\]\.concurrency/,
    );
    expect(() => resolveTeacherConfig({ model: MODEL, endpoints: ["http://a:1/v1", { baseURL: "http://b:1/v1", concurrency: 16 }] })).not.toThrow();
    expect(resolveTeacherConfig({ model: MODEL, endpoints: ["http://a:1/v1"] }).endpoints).toEqual([{ baseURL: "http://a:1/v1" }]);
    expect(() => resolveTeacherConfig({ model: MODEL, endpoints: [] })).toThrow(/endpoints: must list at least one endpoint/);
  });
});

describe("teacherStage with endpoints", () => {
  function context(cacheDir: string, logs: string[]): StageContext {
    return {
      reject: () => {
        throw new Error("unexpected reject");
      },
      duplicate: () => {
        throw new Error("unexpected duplicate");
      },
      count: () => {},
      logger: { info: (m) => logs.push(m), warn() {}, debug() {} },
      progress: { start() {}, update() {}, stop() {} },
      signal: new AbortController().signal,
      cacheDir,
      seed: 0,
    };
  }

  async function run(stage: ReturnType<typeof teacherStage>, ctx: StageContext): Promise<Sample[]> {
    const records = Array.from({ length: 24 }, (_, i) => makeSample({ source: "t", prompt: `p${i}` }));
    const out: Sample[] = [];
    for await (const s of stage.run((async function* () { yield* records; })(), ctx)) out.push(s);
    return out;
  }

  it("writes what one endpoint writes, with the same cache, and logs each endpoint's stats", async () => {
    const handler = (req: { messages: Array<{ content: string }> }) => `<think>t</think> \\boxed{${req.messages.at(-1)?.content.split("\n")[0]}}`;
    const dead = await deadServer();
    const a = await server({ handler, delayMs: 5 });
    const b = await server({ handler, faultFor: (_req, attempt) => (attempt === 1 ? "503" : undefined) });
    const hooks = { sleep: async () => {}, random: () => 1 };
    const logs: string[] = [];
    const fleetOut = await run(teacherStage({ endpoints: [dead.url, a.url, { baseURL: b.url, concurrency: 2 }], model: MODEL, concurrency: 3 }, hooks), context(join(tmp, "fleet"), logs));
    const singleOut = await run(teacherStage({ baseURL: a.url, model: MODEL, concurrency: 3 }, hooks), context(join(tmp, "single"), []));
    expect(fleetOut).toHaveLength(24);
    expect(fleetOut).toEqual(singleOut);
    expect(await cacheFiles(join(tmp, "fleet", "teacher"))).toEqual(await cacheFiles(join(tmp, "single", "teacher")));
    expect(logs).toHaveLength(3);
    expect(logs[0]).toMatch(new RegExp(`^teacher: ${dead.url} \\[down\\]: 0 requests, 0 ok, 0 failed, mean latency -, 1 health checks$`));
    expect(logs[1]).toMatch(new RegExp(`^teacher: ${a.url} \\[up\\]: \\d+ requests, \\d+ ok, 0 failed, mean latency \\d+ ms`));
    expect(logs[2]).toMatch(/\[(up|down)\]: \d+ requests, \d+ ok, [1-9]\d* failed, .*; last failure: HTTP 503/);
  });
});
