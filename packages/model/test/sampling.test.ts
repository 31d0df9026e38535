// TokenSampler: exact top-k / top-p support against a plain full-sort reference, greedy ties, seeded draws that follow
// the distribution (chi-square), log-probs from the raw distribution.
import { createRng } from "@infialign/kernels";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { argmax, logSoftmaxStats, type SamplerOptions, sampleSeed, TokenSampler, topKIndices } from "../src/generate/sampling.js";

/** transformers' warpers written plainly: temperature, top-k (ties kept), top-p over a full sort; float64. */
function referenceDistribution(logits: ArrayLike<number>, o: Required<Omit<SamplerOptions, "topLogprobs">>): Map<number, number> {
  const ids = Array.from({ length: logits.length }, (_, i) => i);
  if (o.temperature === 0) return new Map([[argmax(logits), 1]]);
  let keep = ids;
  if (o.topK > 0 && o.topK < ids.length) {
    const kth = [...ids].sort((a, b) => logits[b]! - logits[a]!)[o.topK - 1]!;
    keep = ids.filter((i) => logits[i]! >= logits[kth]!);
  }
  const z = keep.map((i) => logits[i]! / o.temperature);
  const m = z.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  const w = z.map((x) => Math.exp(x - m));
  let total = w.reduce((a, b) => a + b, 0);
  let probs = new Map(keep.map((id, j) => [id, w[j]! / total]));
  if (o.topP < 1) {
    const sorted = [...probs.keys()].sort((a, b) => probs.get(b)! - probs.get(a)! || a - b);
    const kept: number[] = [];
    let cum = 0;
    for (const id of sorted) {
      if (kept.length > 0 && cum >= o.topP) break;
      kept.push(id);
      cum += probs.get(id)!;
    }
    total = kept.reduce((a, id) => a + probs.get(id)!, 0);
    probs = new Map(kept.map((id) => [id, probs.get(id)! / total]));
  }
  return new Map([...probs].filter(([, p]) => p > 0));
}

function expectSameDistribution(logits: ArrayLike<number>, o: Required<Omit<SamplerOptions, "topLogprobs">>): void {
  const got = new TokenSampler(o).distribution(logits);
  const want = referenceDistribution(logits, o);
  expect([...got.tokenIds].sort((a, b) => a - b)).toEqual([...want.keys()].sort((a, b) => a - b));
  got.tokenIds.forEach((id, j) => {
    expect(got.probs[j]).toBeCloseTo(want.get(id)!, 12);
  });
}

function gaussianLogits(n: number, seed: number, scale = 3): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.nextGaussian() * scale);
}

describe("TokenSampler", () => {
  it("greedy picks the argmax, the lowest id among ties, without consuming randomness", () => {
    const s = new TokenSampler({ temperature: 0 }, 1);
    expect(s.sample(Float32Array.of(1, 5, 2, 5, 5)).tokenId).toBe(1);
    expect(s.sample(Float32Array.of(-Infinity, -3, -3)).tokenId).toBe(1);
    expect(s.distribution([0, 2, 2])).toEqual({ tokenIds: [1], probs: Float64Array.of(1) });
  });

  it("keeps exactly the top-k (with ties at the k-th value) and the nucleus (mass before a token < top_p)", () => {
    const logits = Float32Array.from([Math.log(0.5), Math.log(0.2), Math.log(0.15), Math.log(0.1), Math.log(0.05)]);
    const ids = (o: SamplerOptions) => new TokenSampler(o).distribution(logits).tokenIds;
    expect(ids({ topP: 0.5 })).toEqual([0]);
    expect(ids({ topP: 0.51 })).toEqual([0, 1]);
    expect(ids({ topP: 0.7 })).toEqual([0, 1]);
    expect(ids({ topP: 0.71 })).toEqual([0, 1, 2]);
    expect(ids({ topP: 0.01 })).toEqual([0]);
    // Exact boundary: four tokens of 0.25; the mass before the third is 0.5, not < 0.5 (HF keeps 2 as well).
    expect(new TokenSampler({ topP: 0.5 }).distribution([0, 0, 0, 0]).tokenIds).toEqual([0, 1]);
    expect(new TokenSampler({ topP: 0.3 }).distribution([0, 1, 0, 1]).tokenIds).toEqual([1]);
    expect(ids({ topK: 2 }).sort()).toEqual([0, 1]);
    expect(ids({ topK: 3, topP: 0.6 })).toEqual([0, 1]);
    expect(new TokenSampler({ topK: 2 }).distribution([1, 3, 2, 3, 2]).tokenIds).toEqual([1, 3]);
    expect(new TokenSampler({ topK: 2 }).distribution([1, 3, 2, 2, 1]).tokenIds).toEqual([1, 2, 3]);
    const p = new TokenSampler({ topK: 3, topP: 0.6 }).distribution(logits).probs;
    expect(p[0]).toBeCloseTo(0.5 / 0.7, 6);
  });

  it("matches the full-sort reference on random logits with ties (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -8, max: 8 }), { minLength: 1, maxLength: 40 }),
        fc.constantFrom(0, 0.3, 1, 2.5),
        fc.integer({ min: 0, max: 45 }),
        fc.constantFrom(1, 0.95, 0.6, 0.2, 1e-3),
        (raw, temperature, topK, topP) => {
          expectSameDistribution(Float32Array.from(raw, (x) => x / 2), { temperature, topK, topP });
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  it("finds the exact nucleus over a 151,936-token vocabulary without sorting it all", () => {
    const logits = gaussianLogits(151_936, 7, 2);
    expectSameDistribution(logits, { temperature: 1.3, topK: 0, topP: 0.9 });
    expectSameDistribution(logits.subarray(0, 20_000), { temperature: 0.7, topK: 50, topP: 0.8 });
  });

  it("draws follow the distribution (chi-square over 20,000 seeded draws) and never leave the support", () => {
    const logits = Float32Array.of(2, 1.5, 1.4, 0.3, -0.5, 0.1, 1.9, -3);
    for (const o of [
      { temperature: 1, topK: 0, topP: 1 },
      { temperature: 0.7, topK: 5, topP: 0.9 },
      { temperature: 1.5, topK: 0, topP: 0.8 },
    ]) {
      const want = referenceDistribution(logits, o);
      const s = new TokenSampler(o, 11);
      const counts = new Map<number, number>();
      const draws = 20_000;
      for (let i = 0; i < draws; i++) {
        const id = s.sample(logits).tokenId;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      for (const id of counts.keys()) expect(want.has(id)).toBe(true);
      let chi2 = 0;
      for (const [id, p] of want) chi2 += ((counts.get(id) ?? 0) - draws * p) ** 2 / (draws * p);
      // 99.9th percentile of chi-square with ≤ 7 degrees of freedom is 24.3.
      expect(chi2).toBeLessThan(24.3);
    }
  });

  it("reports the raw log-softmax log-prob whatever the temperature and truncation, and top alternatives", () => {
    const logits = gaussianLogits(1000, 3);
    const { max, logSum } = logSoftmaxStats(logits);
    const s = new TokenSampler({ temperature: 0.3, topK: 4, topLogprobs: 5 }, 1).sample(logits);
    expect(s.logprob).toBe(logits[s.tokenId]! - max - logSum);
    const top = topKIndices(logits, 5);
    expect(s.topLogprobs!.map((t) => t.tokenId)).toEqual(top);
    expect(top).toEqual([...logits.keys()].sort((a, b) => logits[b]! - logits[a]!).slice(0, 5));
    expect(s.topLogprobs![0]!.logprob).toBeCloseTo(Math.log(Math.exp(logits[top[0]!]!) / logits.reduce((a, x) => a + Math.exp(x), 0)), 10);
  });

  it("same seed, same stream; sample indices and seeds give distinct streams", () => {
    const logits = gaussianLogits(50, 1, 0.5);
    const run = (seed: number) => Array.from({ length: 30 }, ((s) => () => s.sample(logits).tokenId)(new TokenSampler({}, seed)));
    expect(run(sampleSeed(4, 0))).toEqual(run(sampleSeed(4, 0)));
    expect(run(sampleSeed(4, 1))).not.toEqual(run(sampleSeed(4, 0)));
    expect(run(sampleSeed(5, 0))).not.toEqual(run(sampleSeed(4, 0)));
    expect(() => sampleSeed(-1, 0)).toThrow(RangeError);
  });
});
