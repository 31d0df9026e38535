import { describe, expect, it } from "vitest";
import type { BenchmarkItem } from "../src/benchmarks/loadBenchmark.js";
import { EmbeddingIndex, type TextEmbedder } from "../src/embedding/index.js";
import { HashingEmbedder } from "./fixtures/hashingEmbedder.js";

const items: BenchmarkItem[] = [
  { benchmark: "b", id: "1", text: "A farmer has 17 sheep and 23 goats and sells 9 goats at the market" },
  { benchmark: "b", id: "2", text: "Jenny reads 12 pages of her book every day for 5 days" },
  { benchmark: "c", id: "3", text: "A train travels 60 miles per hour for 3 hours" },
];

describe("EmbeddingIndex", () => {
  it("returns items above the cosine threshold, best first, and nothing for unrelated text", async () => {
    const emb = new HashingEmbedder();
    const index = await EmbeddingIndex.build(items, emb, { threshold: 0.8, batchSize: 2 });
    expect(index.itemCount).toBe(3);
    const [hit, miss, exact] = await index.checkBatch([
      "at the market a farmer sells 9 goats; he has 17 sheep and 23 goats",
      "What is the derivative of sin x?",
      items[2]!.text,
    ]);
    expect(hit!.matches.map((m) => m.id)).toEqual(["1"]);
    expect(hit!.matches[0]!.cosine).toBeGreaterThan(0.8);
    expect(miss!.matches).toEqual([]);
    expect(exact!.matches[0]).toMatchObject({ benchmark: "c", id: "3" });
    expect(exact!.matches[0]!.cosine).toBeCloseTo(1, 5);
    // batchSize 2: items in 2 calls, the 3 texts in 2 more.
    expect(emb.calls).toBe(4);
  });

  it("keeps at most topK matches and handles empty input", async () => {
    const twins = [0, 1, 2, 3].map((i) => ({ benchmark: "t", id: String(i), text: `same words here ${"x".repeat(i + 1)}` }));
    const index = await EmbeddingIndex.build(twins, new HashingEmbedder(), { threshold: 0.5, topK: 2 });
    expect((await index.checkBatch(["same words here"]))[0]!.matches).toHaveLength(2);
    expect(await index.checkBatch([])).toEqual([]);
  });

  it("rejects a bad config and an embedder returning the wrong shape", async () => {
    await expect(EmbeddingIndex.build(items, new HashingEmbedder(), { threshold: 2 })).rejects.toThrow(/embedding-index: invalid config \(threshold/);
    const bad: TextEmbedder = { id: "bad", dim: 4, embed: async (t) => new Float32Array(t.length * 3) };
    await expect(EmbeddingIndex.build(items, bad)).rejects.toThrow(/embedder "bad" returned 9 floats for 3 texts of dim 4/);
  });
});
