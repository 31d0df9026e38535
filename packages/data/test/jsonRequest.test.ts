import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pLimit from "p-limit";
import { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF, jsonHeaders, postJsonWithRetry, RequestFailure, type RetryInfo } from "../src/index.js";

// Each test queues the responses the server gives, in order; an empty queue answers 200 {"ok": true}.
type Reply = (req: IncomingMessage, res: ServerResponse) => void;
const queue: Reply[] = [];
const bodies: string[] = [];
let endpoint = "";
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => {
    body += c;
  });
  req.on("end", () => {
    bodies.push(body);
    const reply = queue.shift() ?? ((_q, r) => r.end('{"ok": true}'));
    reply(req, res);
  });
});
const dispatcher = new Agent();

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/x`;
});
afterAll(async () => {
  await dispatcher.close();
  await new Promise((r) => server.close(r));
});

function call(overrides: { maxRetries?: number; timeoutMs?: number; parse?: (json: unknown) => unknown } = {}) {
  const retries: RetryInfo[] = [];
  const promise = postJsonWithRetry({
    endpoint,
    headers: jsonHeaders("k"),
    dispatcher,
    limit: pLimit(2),
    maxRetries: overrides.maxRetries ?? 3,
    timeoutMs: overrides.timeoutMs ?? 2_000,
    backoff: DEFAULT_BACKOFF,
    context: 'model "m"',
    toError: (message, failure) => Object.assign(new Error(message), { failure }),
    sleep: async () => {},
    random: () => 0.5,
    now: () => Date.parse("2026-01-01T00:00:00Z"),
    onRetry: (info) => retries.push(info),
    body: '{"q": 1}',
    parse: overrides.parse ?? ((json) => json),
  });
  return { promise, retries };
}

describe("postJsonWithRetry", () => {
  it("retries 503 and 429 (honouring Retry-After in seconds and as an HTTP date) and bad JSON, then returns the parsed body", async () => {
    queue.push(
      (_q, r) => r.writeHead(503, { "retry-after": "2" }).end('{"error": {"message": "busy"}}'),
      (_q, r) => r.writeHead(429, { "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" }).end(""),
      (_q, r) => r.end("{not json"),
      (_q, r) => r.end('{"answer": 42}'),
    );
    const { promise, retries } = call();
    await expect(promise).resolves.toEqual({ value: { answer: 42 }, attempts: 4 });
    expect(retries.map((r) => [r.status, r.delayMs])).toEqual([
      [503, 2000],
      [429, 3000],
      [200, 1000],
    ]);
    expect(retries[0]?.reason).toBe("HTTP 503: busy");
    expect(bodies.slice(-4)).toEqual(Array(4).fill('{"q": 1}'));
  });

  it("gives up at once on a non-retryable status, naming the endpoint, context and server message", async () => {
    queue.push((_q, r) => r.writeHead(400).end('{"error": {"message": "bad model"}}'));
    const { promise, retries } = call();
    await expect(promise).rejects.toThrow(`POST ${endpoint} (model "m") failed after 1 attempt: HTTP 400: bad model.`);
    expect(retries).toEqual([]);
  });

  it("stops after maxRetries and reports the attempts and last status", async () => {
    for (let i = 0; i < 3; i++) queue.push((_q, r) => r.writeHead(500).end("oops"));
    const { promise, retries } = call({ maxRetries: 2 });
    const error = (await promise.catch((e: unknown) => e)) as Error & { failure: { attempts: number; status: number } };
    expect(error.message).toMatch(/failed after 3 attempts: HTTP 500: oops\. Check that the server is up/);
    expect(error.failure).toMatchObject({ attempts: 3, status: 500 });
    expect(retries).toHaveLength(2);
  });

  it("times out a hanging attempt and retries it", async () => {
    queue.push(() => {}, (_q, r) => r.end('{"late": false}'));
    const { promise, retries } = call({ timeoutMs: 1000 });
    await expect(promise).resolves.toEqual({ value: { late: false }, attempts: 2 });
    expect(retries[0]?.reason).toMatch(/no complete response within 1000 ms/);
  });

  it("lets parse reject a 2xx body as retryable or final", async () => {
    queue.push((_q, r) => r.end('{"v": 1}'), (_q, r) => r.end('{"v": 2}'));
    const seen: unknown[] = [];
    const parse = (json: unknown) => {
      seen.push(json);
      return (json as { v: number }).v < 2 ? new RequestFailure(true, "v too small", 200) : json;
    };
    await expect(call({ parse }).promise).resolves.toEqual({ value: { v: 2 }, attempts: 2 });
    queue.push((_q, r) => r.end('{"v": 0}'));
    await expect(call({ parse: () => new RequestFailure(false, "wrong shape") }).promise).rejects.toThrow(/failed after 1 attempt: wrong shape\.$/);
  });
});
