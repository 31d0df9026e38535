import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type AdaptContext, gsm8kAdapter, mathAdapter, OpenAIChatClient, type Sample } from "@infialign/data";
import { type OpenAIServer, startOpenAIServer } from "@infialign/test-utils";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  DOMAIN_TAXONOMY,
  DOMAINS,
  type Domain,
  isDomain,
  KeywordLabeler,
  KnnLabeler,
  LlmLabeler,
  labelDomains,
  labelFromMetadata,
  parseDomainReply,
  summarizeDomainLabels,
} from "../src/domain/index.js";
import { HashingEmbedder } from "../src/embed/index.js";

const FIXTURE = join(import.meta.dirname, "fixtures/domain/labeled.jsonl");
const labeled = readFileSync(FIXTURE, "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l) as { domain: Domain; prompt: string });

function sample(prompt: string, extra: Partial<Sample> = {}): Sample {
  return { id: "0".repeat(32), source: "test", prompt, meta: {}, lineage: [], ...extra };
}

const ctx: AdaptContext = { source: "pool", loc: { file: "pool.jsonl", line: 1 }, requireAnswer: true };
function adapted(adapter: typeof mathAdapter, record: Record<string, unknown>): Sample {
  const result = adapter.adapt(record, ctx);
  if (!result.ok) throw new Error("fixture record did not adapt");
  return { id: "0".repeat(32), lineage: [], meta: {}, ...result.sample } as Sample;
}

describe("taxonomy", () => {
  it("has the documented ids, each described", () => {
    expect(DOMAINS).toEqual([
      "math/algebra",
      "math/geometry",
      "math/number_theory",
      "math/combinatorics_probability",
      "math/calculus_analysis",
      "math/precalculus",
      "math/arithmetic_word_problems",
      "code",
      "science/physics",
      "science/chemistry",
      "science/biology",
      "other",
    ]);
    for (const d of DOMAIN_TAXONOMY) expect(d.description.length).toBeGreaterThan(10);
    expect(isDomain("math/algebra")).toBe(true);
    expect(isDomain("algebra")).toBe(false);
  });
});

describe("labelFromMetadata", () => {
  it("maps what the MATH and GSM8K adapters produce", () => {
    const math = (type: string) => adapted(mathAdapter, { problem: "p", solution: "so $\\boxed{1}$", level: "Level 2", type });
    expect(labelFromMetadata(math("Intermediate Algebra"))).toBe("math/algebra");
    expect(labelFromMetadata(math("Prealgebra"))).toBe("math/algebra");
    expect(labelFromMetadata(math("Counting & Probability"))).toBe("math/combinatorics_probability");
    expect(labelFromMetadata(math("Number Theory"))).toBe("math/number_theory");
    expect(labelFromMetadata(math("Geometry"))).toBe("math/geometry");
    expect(labelFromMetadata(math("Precalculus"))).toBe("math/precalculus");
    const gsm = adapted(gsm8kAdapter, { question: "q", answer: "a\n#### 3" });
    expect(labelFromMetadata(gsm)).toBe("math/arithmetic_word_problems");
    expect(labelFromMetadata(sample("q", { source: "gsm8k" }))).toBe("math/arithmetic_word_problems");
  });

  it("keeps a taxonomy id, reads meta.type/subject, and abstains on unknown subjects", () => {
    expect(labelFromMetadata(sample("x", { domain: "science/physics" }))).toBe("science/physics");
    expect(labelFromMetadata(sample("x", { meta: { subject: "Counting & Probability" } }))).toBe("math/combinatorics_probability");
    expect(labelFromMetadata(sample("x", { meta: { type: "Geometry" } }))).toBe("math/geometry");
    expect(labelFromMetadata(sample("x", { domain: "poetry" }))).toBeUndefined();
  });
});

describe("KeywordLabeler", () => {
  it("labels the hand-written fixture (35 prompts, every domain)", () => {
    const kl = new KeywordLabeler();
    const wrong = labeled.filter((r) => (kl.label(r.prompt)?.domain ?? "other") !== r.domain);
    expect(wrong.map((r) => `${r.domain}: ${r.prompt}`)).toEqual([]);
  });

  it("abstains when the winner is weak or close", () => {
    const kl = new KeywordLabeler();
    expect(kl.label("Hello there.")).toBeUndefined();
    // One geometry cue against one probability cue of the same weight.
    expect(new KeywordLabeler({ minScore: 0.5 }).label("a circle and a coin")).toBeUndefined();
    expect(kl.label("a circle and a coin and a triangle inscribed in a polygon")?.domain).toBe("math/geometry");
  });

  it("treats Asymptote figures as geometry hints, not code", () => {
    const prompt = "Find the area of the shaded region. [asy] import graph; draw(circle((0,0),1)); return; [/asy]";
    expect(new KeywordLabeler().label(prompt)?.domain).toBe("math/geometry");
  });

  it("counts response matches at the response weight", () => {
    const kl = new KeywordLabeler({ responseWeight: 0.5 });
    const s = kl.scores("Compute this.", "The probability is 1/2.");
    expect(s.get("math/combinatorics_probability")).toBe(1);
  });

  it("requires global rules", () => {
    expect(() => new KeywordLabeler({ rules: [{ domain: "code", pattern: /def/, weight: 1 }] })).toThrow(/needs the "g" flag/);
  });
});

describe("parseDomainReply", () => {
  it("accepts an id alone, quoted or with a final period", () => {
    expect(parseDomainReply("math/geometry")).toBe("math/geometry");
    expect(parseDomainReply("  `code`\n")).toBe("code");
    expect(parseDomainReply('"science/biology".')).toBe("science/biology");
    expect(parseDomainReply("The domain is math/geometry")).toBeUndefined();
    expect(parseDomainReply("math/geometry, math/algebra")).toBeUndefined();
    expect(parseDomainReply("Math/Geometry")).toBeUndefined();
  });

  it("returns only taxonomy ids, whatever the reply", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom(...DOMAINS).map((d) => `'${d}'`)), (reply) => {
        const got = parseDomainReply(reply);
        expect(got === undefined || isDomain(got)).toBe(true);
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});

const servers: OpenAIServer[] = [];
const clients: OpenAIChatClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function llmSetup(opts: Parameters<typeof startOpenAIServer>[0]) {
  const server = await startOpenAIServer(opts);
  servers.push(server);
  const client = new OpenAIChatClient({ baseURL: server.url, model: "test-model", sleep: async () => {}, maxRetries: 3 });
  clients.push(client);
  return { server, labeler: new LlmLabeler(client) };
}

describe("LlmLabeler", () => {
  it("asks for one id, parses it strictly and memoizes per prompt", async () => {
    const { server, labeler } = await llmSetup({ handler: (req) => (req.messages.at(-1)?.content.includes("poem") ? "Sure! It is other." : "science/chemistry") });
    expect(await labeler.label("How many moles?")).toEqual({ domain: "science/chemistry", source: "llm" });
    expect(await labeler.label("How many moles?")).toEqual({ domain: "science/chemistry", source: "llm" });
    expect(await labeler.label("Write a poem")).toBeUndefined();
    expect(server.requests).toHaveLength(2);
    const body = server.requests[0]?.body as { messages: { content: string }[]; temperature: number };
    expect(body.temperature).toBe(0);
    for (const id of DOMAINS) expect(body.messages[0]?.content).toContain(id);
    expect(labeler.stats).toEqual({ requests: 2, parsed: 1, invalid: 1, failed: 0 });
  });

  it("rides out 429/500/hang through the chat client's retries", async () => {
    const server = await startOpenAIServer({ faults: ["429", "500"], handler: () => "code" });
    servers.push(server);
    const client = new OpenAIChatClient({ baseURL: server.url, model: "test-model", sleep: async () => {}, timeoutMs: 1000 });
    clients.push(client);
    expect((await new LlmLabeler(client).label("Write a sort in Rust"))?.domain).toBe("code");
    const hung = await startOpenAIServer({ faultFor: (_req, attempt) => (attempt === 1 ? "hang" : undefined), handler: () => "code" });
    servers.push(hung);
    const hungClient = new OpenAIChatClient({ baseURL: hung.url, model: "test-model", sleep: async () => {}, timeoutMs: 1000 });
    clients.push(hungClient);
    expect((await new LlmLabeler(hungClient).label("Write a sort in Rust"))?.domain).toBe("code");
  });

  it("abstains when the request fails for good", async () => {
    const { labeler } = await llmSetup({ faults: ["400"] });
    expect(await labeler.label("anything")).toBeUndefined();
    expect(labeler.stats.failed).toBe(1);
  });
});

describe("KnnLabeler", () => {
  it("votes among the k nearest seed texts", async () => {
    const embedder = new HashingEmbedder({ dim: 128 });
    const knn = await KnnLabeler.build(labeled.map((r) => ({ text: r.prompt, domain: r.domain })), embedder, { k: 1 });
    const got = await knn.label(["Two fair dice are rolled. What is the probability that the sum is 9?", "Find the greatest common divisor of 84 and 198."]);
    expect(got.map((g) => g.domain)).toEqual(["math/combinatorics_probability", "math/number_theory"]);
    expect(got[0]).toMatchObject({ score: 1, source: "knn" });
    expect(await knn.label([])).toEqual([]);
  });

  it("validates its seed set", async () => {
    const e = new HashingEmbedder({ dim: 8 });
    await expect(KnnLabeler.build([], e)).rejects.toThrow(/seed set is empty/);
    await expect(KnnLabeler.build([{ text: "x", domain: "poetry" as Domain }], e)).rejects.toThrow(/not a taxonomy id/);
  });
});

describe("labelDomains", () => {
  it("tries metadata, keywords, LLM, kNN, then the default, and says which answered", async () => {
    const server = await startOpenAIServer({ handler: (req) => (req.messages.at(-1)?.content.includes("sonnet") ? "other" : "not an id") });
    servers.push(server);
    const client = new OpenAIChatClient({ baseURL: server.url, model: "test-model" });
    clients.push(client);
    const knn = await KnnLabeler.build([{ text: "the mitochondria organelle", domain: "science/biology" }], new HashingEmbedder({ dim: 64 }), { k: 1 });
    const samples = [
      sample("whatever", { domain: "geometry" }),
      sample("What is the remainder when 100 is divided by 7?"),
      sample("Write a sonnet"),
      sample("Tell me about mitochondria organelles"),
    ];
    const labels = await labelDomains(samples, { llm: new LlmLabeler(client), knn });
    expect(labels).toEqual([
      { domain: "math/geometry", source: "metadata" },
      { domain: "math/number_theory", source: "keywords" },
      { domain: "other", source: "llm" },
      { domain: "science/biology", source: "knn" },
    ]);
    expect(await labelDomains([sample("Tell me a joke")])).toEqual([{ domain: "other", source: "default" }]);
    expect(summarizeDomainLabels(labels)).toEqual({
      byDomain: { "math/geometry": 1, "math/number_theory": 1, other: 1, "science/biology": 1 },
      bySource: { metadata: 1, keywords: 1, llm: 1, knn: 1 },
    });
  });

  it("builds a kNN labeler from the batch's confident labels when given an embedder", async () => {
    const samples = [
      sample("p", { meta: { type: "Counting & Probability" } }),
      sample("A bag holds red and blue marbles; we pick two"),
      sample("q", { meta: { type: "Geometry" } }),
    ];
    samples[0] = { ...samples[0], prompt: "A bag holds red and blue marbles; we pick three" } as Sample;
    samples[2] = { ...samples[2], prompt: "An octagon is drawn on the board" } as Sample;
    const labels = await labelDomains(samples, { embedder: new HashingEmbedder({ dim: 64 }), k: 1, keywords: false });
    expect(labels[1]).toEqual({ domain: "math/combinatorics_probability", source: "knn" });
  });
});
