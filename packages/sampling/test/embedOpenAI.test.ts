import { fakeEmbedding, type OpenAIServer, startOpenAIServer } from "@infialign/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { OpenAIEmbedder } from "../src/embed/index.js";

const servers: OpenAIServer[] = [];
const embedders: OpenAIEmbedder[] = [];
afterEach(async () => {
  await Promise.all(embedders.splice(0).map((e) => e.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(serverOpts: Parameters<typeof startOpenAIServer>[0] = {}, opts: Partial<ConstructorParameters<typeof OpenAIEmbedder>[0]> = {}) {
  const server = await startOpenAIServer(serverOpts);
  servers.push(server);
  const retries: number[] = [];
  const embedder = new OpenAIEmbedder({ baseURL: server.url, model: "embed-test", sleep: async () => {}, onRetry: (r) => retries.push(r.status ?? 0), ...opts });
  embedders.push(embedder);
  return { server, embedder, retries };
}

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

describe("OpenAIEmbedder", () => {
  it("batches, keeps input order by `index`, normalizes, and learns dim", async () => {
    const { server, embedder } = await setup({ reverseEmbeddings: true, embeddingDim: 8 }, { batchSize: 2 });
    expect(embedder.dim).toBe(0);
    const texts = ["alpha", "beta", "gamma", "delta", "epsilon"];
    const v = await embedder.embed(texts);
    expect(embedder.dim).toBe(8);
    expect(server.requests.filter((r) => r.path === "/v1/embeddings")).toHaveLength(3);
    texts.forEach((t, i) => {
      const expected = unit(fakeEmbedding(t, 8));
      Array.from(v.subarray(i * 8, (i + 1) * 8)).forEach((x, j) => {
        expect(x).toBeCloseTo(expected[j] as number, 5);
      });
    });
    expect(embedder.id).toBe("openai:embed-test");
  });

  it("sends no empty texts and gives them zero rows", async () => {
    const { server, embedder } = await setup({}, { dim: 16 });
    const v = await embedder.embed(["", "x", ""]);
    expect(server.requests[0]?.body).toMatchObject({ input: ["x"], model: "embed-test" });
    expect(Array.from(v.subarray(0, 16)).every((x) => x === 0)).toBe(true);
    expect(Array.from(v.subarray(32, 48)).every((x) => x === 0)).toBe(true);
    expect(await embedder.embed([])).toHaveLength(0);
  });

  it("retries 429, 500, bad JSON and dropped connections, then succeeds", async () => {
    const { server, embedder, retries } = await setup({ faults: ["429", "500", "bad_json", "reset"] });
    const v = await embedder.embed(["one", "two"]);
    expect(v).toHaveLength(32);
    expect(retries).toEqual([429, 500, 200, 0]);
    expect(server.requests).toHaveLength(5);
  });

  it("retries a hung request after timeoutMs", async () => {
    const { embedder, retries } = await setup({ embeddingFaultFor: (_req, attempt) => (attempt === 1 ? "hang" : undefined) }, { timeoutMs: 1000 });
    const v = await embedder.embed(["slow"]);
    expect(v).toHaveLength(16);
    expect(retries).toHaveLength(1);
  });

  it("honours Retry-After", async () => {
    const waits: number[] = [];
    const { embedder } = await setup({ faults: ["429"], retryAfter: "2" }, { sleep: async (ms) => void waits.push(ms) });
    await embedder.embed(["x"]);
    expect(waits).toEqual([2000]);
  });

  it("fails at once on a client error and after maxRetries on server errors", async () => {
    const bad = await setup({ faults: ["400"] });
    await expect(bad.embedder.embed(["x"])).rejects.toThrow(/\[infialign\/sampling\] openai-embedder: POST .*\/embeddings \(model "embed-test"\) failed after 1 attempt: HTTP 400/);
    const down = await setup({ embeddingFaultFor: () => "503" }, { maxRetries: 2 });
    await expect(down.embedder.embed(["x"])).rejects.toThrow(/failed after 3 attempts: HTTP 503.*raise maxRetries/);
  });

  it("rejects vectors of the wrong length", async () => {
    const { embedder } = await setup({ embeddingDim: 4 }, { dim: 8 });
    await expect(embedder.embed(["x"])).rejects.toThrow(/has 4 dimensions, expected 8 \(dim option\)/);
  });

  it("keeps at most `concurrency` requests in flight", async () => {
    const { server, embedder } = await setup({}, { batchSize: 1, concurrency: 2 });
    await embedder.embed(Array.from({ length: 10 }, (_, i) => `text ${i}`));
    expect(server.maxInFlight).toBeLessThanOrEqual(2);
  });

  it("validates its options", () => {
    expect(() => new OpenAIEmbedder({ baseURL: "http://x/v1", model: "", batchSize: 0 })).toThrow(/batchSize must be a positive integer.*model is required/);
  });
});
