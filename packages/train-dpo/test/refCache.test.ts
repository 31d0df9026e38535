import { appendFile, mkdtemp, readFile, rm, stat, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RefLogpCache, type RefScoreItem } from "../src/refCache.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "refcache-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Deterministic fake reference model: log-prob of token t at position p is −(t + 1)/(p + 10) − 0.1·#prompt. */
function fakeScorer(calls: RefScoreItem[][]) {
  return async (items: readonly RefScoreItem[]) => {
    calls.push([...items]);
    return items.map((it) => Float64Array.from(it.completionIds, (t, p) => -(t + 1) / (p + 10) - 0.1 * it.promptIds.length));
  };
}

const items: RefScoreItem[] = [
  { promptIds: [1, 2, 3], completionIds: [4, 5] },
  { promptIds: [1, 2, 3], completionIds: [6, 7, 8] },
  { promptIds: [9], completionIds: [10] },
];

describe("RefLogpCache", () => {
  it("scores misses once, in batches, and a reopened cache reuses them exactly", async () => {
    const calls: RefScoreItem[][] = [];
    const cache = await RefLogpCache.open({ dir, referenceModel: "ref@1", tokenizer: "byte", scorer: fakeScorer(calls), batchSize: 2 });
    const first = await cache.get(items);
    expect(calls.map((c) => c.length)).toEqual([2, 1]);
    // Hand-computed: item 0 = [−5/10 − 0.3, −6/11 − 0.3]
    expect(first[0]![0]).toBeCloseTo(-0.8, 12);
    expect(first[0]![1]).toBeCloseTo(-6 / 11 - 0.3, 12);
    expect(cache.stats).toMatchObject({ hits: 0, misses: 3 });
    await cache.close();

    const calls2: RefScoreItem[][] = [];
    const again = await RefLogpCache.open({ dir, referenceModel: "ref@1", tokenizer: "byte", scorer: fakeScorer(calls2) });
    expect(again.stats.loaded).toBe(3);
    const second = await again.get([items[2]!, items[0]!, items[1]!]);
    expect(calls2).toHaveLength(0);
    expect(second[1]).toEqual(first[0]);
    expect(second[2]).toEqual(first[1]);
    expect(await again.sums([items[0]!])).toEqual([first[0]![0]! + first[0]![1]!]);
    expect(again.stats.hits).toBe(4);
    await again.close();
    // 6 tokens × 8 bytes
    expect((await stat(join(dir, "logps.bin"))).size).toBe(48);
  });

  it("keys on reference model, tokenizer, prompt ids and completion ids", async () => {
    const calls: RefScoreItem[][] = [];
    const a = await RefLogpCache.open({ dir, referenceModel: "ref@1", tokenizer: "byte", scorer: fakeScorer(calls) });
    const b = await RefLogpCache.open({ dir: join(dir, "b"), referenceModel: "ref@2", tokenizer: "byte", scorer: fakeScorer(calls) });
    const c = await RefLogpCache.open({ dir: join(dir, "c"), referenceModel: "ref@1", tokenizer: "qwen", scorer: fakeScorer(calls) });
    const k = a.keyOf(items[0]!);
    expect(b.keyOf(items[0]!)).not.toBe(k);
    expect(c.keyOf(items[0]!)).not.toBe(k);
    // Moving the prompt/completion boundary changes the key.
    expect(a.keyOf({ promptIds: [1, 2], completionIds: [3, 4, 5] })).not.toBe(k);
    expect(a.keyOf({ promptIds: [1, 2, 3], completionIds: [4, 5] })).toBe(k);
    // Duplicates in one call are scored once.
    await a.get([items[0]!, items[0]!]);
    expect(calls.flat()).toHaveLength(1);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it("tolerates a torn tail: a half-written index line and orphan values are cut off, later appends stay aligned", async () => {
    const calls: RefScoreItem[][] = [];
    const cache = await RefLogpCache.open({ dir, referenceModel: "r", tokenizer: "t", scorer: fakeScorer(calls) });
    const first = await cache.get(items.slice(0, 2));
    await cache.close();
    // Simulate a crash mid-batch: values of a third entry written, its index line torn.
    await appendFile(join(dir, "logps.bin"), Buffer.alloc(24, 7));
    await appendFile(join(dir, "index.jsonl"), '{"key":"abc","offs');

    const reopened = await RefLogpCache.open({ dir, referenceModel: "r", tokenizer: "t", scorer: fakeScorer(calls) });
    expect(reopened.stats.loaded).toBe(2);
    expect(reopened.stats.tornBytes).toBe(24 + '{"key":"abc","offs'.length);
    const third = await reopened.get([items[2]!]);
    await reopened.close();

    const final = await RefLogpCache.open({ dir, referenceModel: "r", tokenizer: "t", scorer: fakeScorer([]) });
    expect(final.stats).toMatchObject({ loaded: 3, tornBytes: 0 });
    const all = await final.get(items);
    expect(all[0]).toEqual(first[0]);
    expect(all[1]).toEqual(first[1]);
    expect(all[2]).toEqual(third[0]);
    expect(final.stats.misses).toBe(0);
    await final.close();
    const lines = (await readFile(join(dir, "index.jsonl"), "utf8")).trim().split("\n");
    expect(lines).toHaveLength(3);
  });

  it("drops index entries whose values were lost (data file shorter than the index says)", async () => {
    const cache = await RefLogpCache.open({ dir, referenceModel: "r", tokenizer: "t", scorer: fakeScorer([]) });
    await cache.get(items);
    await cache.close();
    // Lose the last entry's single value: 6 tokens → 5 on disk.
    await truncate(join(dir, "logps.bin"), 40);
    const calls: RefScoreItem[][] = [];
    const reopened = await RefLogpCache.open({ dir, referenceModel: "r", tokenizer: "t", scorer: fakeScorer(calls) });
    expect(reopened.stats.loaded).toBe(2);
    await reopened.get(items);
    expect(calls.flat()).toEqual([items[2]]);
    await reopened.close();
  });

  it("rejects scorer output of the wrong shape or values", async () => {
    const wrongLength = await RefLogpCache.open({ dir, referenceModel: "r", tokenizer: "t", scorer: async (xs) => xs.map(() => new Float64Array(1)) });
    await expect(wrongLength.get([items[0]!])).rejects.toThrow(/returned 1 log-probs for item 0, which has 2 completion tokens/);
    await wrongLength.close();
    const positive = await RefLogpCache.open({ dir, referenceModel: "r", tokenizer: "t", scorer: async (xs) => xs.map(() => Float64Array.of(-1, 2.5)) });
    await expect(positive.get([items[0]!])).rejects.toThrow(/log-prob 2.5 for item 0 token 1/);
    await positive.close();
    expect((await stat(join(dir, "logps.bin"))).size).toBe(0);
  });
});
