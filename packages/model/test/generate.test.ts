// generate() against a deterministic fake DecodeModel that checks the step contract (padding, positions, key mask,
// cache ownership) on every call: cache ≡ recompute, batch ≡ one at a time, stop tokens and strings, n samples, limits.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { GeneratedSample, GenerationRequest } from "../src/engine.js";
import { ModelError } from "../src/errors.js";
import { IncrementalDetokenizer } from "../src/generate/detokenizer.js";
import { generate } from "../src/generate/generate.js";
import { logSoftmaxStats } from "../src/generate/sampling.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";
import { FakeModel, hashLogits, scriptedLogits } from "./generateFakeModel.js";

const tok = new ByteTokenizer();
const V = tok.vocabSize;
const IM_START = 257;
const enc = (s: string) => [...new TextEncoder().encode(s)];
/** Sample j of request i. */
const at = (out: GeneratedSample[][], i = 0, j = 0): GeneratedSample => out[i]![j]!;

/** Hash logits that never pick a stop token, so runs last exactly maxNewTokens. */
function noEos(scale = 4) {
  const base = hashLogits(V, scale);
  return (h: readonly number[]) => {
    const l = Float32Array.from(base(h));
    for (const id of tok.eosTokenIds) l[id] = -30;
    return l;
  };
}

const REQUESTS: GenerationRequest[] = [
  { promptIds: enc("a"), maxNewTokens: 9, seed: 1, n: 2 },
  { promptIds: enc("hello there"), maxNewTokens: 5, seed: 2, temperature: 0.8, topK: 20 },
  { promptIds: enc("xyz!"), maxNewTokens: 12, seed: 3, topP: 0.7, n: 3, topLogprobs: 2 },
  { promptIds: enc("q"), maxNewTokens: 7, temperature: 0 },
];

describe("generate", () => {
  it("gives the same samples with the KV cache as with a full recompute every step, and frees every cache", async () => {
    const m1 = new FakeModel(V, 64, noEos());
    const m2 = new FakeModel(V, 64, noEos());
    const cached = await generate(m1, tok, REQUESTS, { useCache: true });
    const recomputed = await generate(m2, tok, REQUESTS, { useCache: false });
    expect(cached).toEqual(recomputed);
    expect(cached.map((r) => r.length)).toEqual([2, 1, 3, 1]);
    expect(cached.flat().map((s) => s.tokenIds.length)).toEqual([9, 9, 5, 12, 12, 12, 7]);
    expect(m1.live).toBe(0);
    expect(m2.live).toBe(0);
    // With the cache every decode step feeds one token; without, the whole sequence.
    expect(m1.steps.slice(1).every((s) => s.newTokens === 1)).toBe(true);
    expect(m2.steps.at(-1)!.newTokens).toBe(4 + 11);
  });

  it("batch, one request at a time and small maxBatchSize waves all give the same samples for the same seeds", async () => {
    const together = await generate(new FakeModel(V, 64, noEos()), tok, REQUESTS);
    const alone = [];
    for (const r of REQUESTS) alone.push(...(await generate(new FakeModel(V, 64, noEos()), tok, [r])));
    const waves = await generate(new FakeModel(V, 64, noEos()), tok, REQUESTS, { maxBatchSize: 2 });
    expect(alone).toEqual(together);
    expect(waves).toEqual(together);
  });

  it("shrinks the batch as rows finish and never exceeds maxBatchSize", async () => {
    const model = new FakeModel(V, 64, noEos());
    await generate(model, tok, REQUESTS, { maxBatchSize: 3 });
    expect(Math.max(...model.steps.map((s) => s.batch))).toBeLessThanOrEqual(3);
    const batches = model.steps.map((s) => s.batch);
    // First wave: rows of requests 0 (×2) and 1 → the 5-token row drops out after step 5.
    expect(batches.slice(0, 10)).toEqual([2, 3, 3, 3, 3, 2, 2, 2, 2, 1]);
  });

  it("reports logprobs equal to the float64 log-softmax of the model's raw logits, and top alternatives", async () => {
    const fn = noEos();
    const s = at(await generate(new FakeModel(V, 64, fn), tok, [{ promptIds: enc("hi"), maxNewTokens: 6, temperature: 0.5, topK: 5, topLogprobs: 3, seed: 9 }]));
    const history = enc("hi");
    s.tokenIds.forEach((id, j) => {
      const logits = fn(history);
      const { max, logSum } = logSoftmaxStats(logits);
      expect(s.logprobs[j]).toBe(logits[id]! - max - logSum);
      const top = s.topLogprobs![j]!;
      expect(top).toHaveLength(3);
      const sorted = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, 3);
      expect(top.map((t) => t.tokenId)).toEqual(sorted);
      expect(top[0]!.logprob).toBe(logits[sorted[0]!]! - max - logSum);
      history.push(id);
    });
  });

  it("n samples: distinct seeds per sample, sample j independent of n", async () => {
    const m = () => new FakeModel(V, 64, noEos(2));
    const [four] = await generate(m(), tok, [{ promptIds: enc("p"), n: 4, maxNewTokens: 10, seed: 5 }]);
    const [two] = await generate(m(), tok, [{ promptIds: enc("p"), n: 2, maxNewTokens: 10, seed: 5 }]);
    expect(two).toEqual(four!.slice(0, 2));
    expect(new Set(four!.map((s) => s.text)).size).toBe(4);
    const [other] = await generate(m(), tok, [{ promptIds: enc("p"), n: 1, maxNewTokens: 10, seed: 6 }]);
    expect(other![0]!.tokenIds).not.toEqual(four![0]!.tokenIds);
  });

  it("prefills each prompt once and repeats its cache rows for the samples", async () => {
    const model = new FakeModel(V, 64, noEos());
    await generate(model, tok, [{ promptIds: enc("abc"), n: 5, maxNewTokens: 2 }]);
    expect(model.steps[0]!.batch).toBe(1);
    expect(model.steps[1]!.batch).toBe(5);
  });

  it("stops on a stop token: kept in tokenIds/logprobs, not in the text; the default stop ids are the tokenizer's EOS", async () => {
    const script = [...enc("done"), tok.eosTokenId, ...enc("more")];
    const model = new FakeModel(V, 64, scriptedLogits(V, IM_START, script, 65));
    const out = await generate(model, tok, [
      { promptIds: [IM_START], temperature: 0, maxNewTokens: 20 },
      { promptIds: [IM_START], temperature: 0, maxNewTokens: 20, stopTokenIds: [enc("o")[0]!] },
    ]);
    const [a, b] = [at(out, 0), at(out, 1)];
    expect(a).toMatchObject({ text: "done", finishReason: "stop", tokenIds: script.slice(0, 5) });
    expect(a.logprobs).toHaveLength(5);
    expect(b).toMatchObject({ text: "d", finishReason: "stop", tokenIds: enc("do") });
  });

  it("cuts the text before the first stop string, found across token boundaries and multi-byte characters", async () => {
    const script = enc("The answer: 中文 42. END and more");
    const model = new FakeModel(V, 64, scriptedLogits(V, IM_START, script, 65));
    const run = async (stop: string[]) => at(await generate(model, tok, [{ promptIds: [IM_START], temperature: 0, maxNewTokens: 40, stop }]));
    const s1 = await run(["42. E", "zzz"]);
    expect(s1.text).toBe("The answer: 中文 ");
    expect(s1.finishReason).toBe("stop");
    // Every token up to the one that completed the stop string is returned.
    expect(tok.decode(s1.tokenIds)).toBe("The answer: 中文 42. E");
    const s2 = await run(["文", "answer"]);
    expect(s2.text).toBe("The ");
    const s3 = await run(["文 4"]);
    expect(s3.text).toBe("The answer: 中");
    const s4 = await run(["not there"]);
    expect(s4).toMatchObject({ text: "The answer: 中文 42. END and more" + "A".repeat(40 - script.length), finishReason: "length" });
  });

  it("stop strings: the text is cut at the first match, at the first token whose text completes one (property)", async () => {
    const alphabet = ["a", "b", "ab", "é", "中", " "];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 12 }), fc.array(fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }), async (parts, stopParts) => {
        const script = enc(parts.join(""));
        const stop = stopParts.map((p) => p.join(""));
        const model = new FakeModel(V, 64, scriptedLogits(V, IM_START, script, tok.eosTokenId));
        const s = at(await generate(model, tok, [{ promptIds: [IM_START], temperature: 0, maxNewTokens: 60, stop }]));
        // Reference: decode growing prefixes; the first prefix whose (complete-character) text holds a stop string.
        let want = { text: tok.decode(script), finishReason: "stop", tokens: script.length + 1 };
        for (let t = 1; t <= script.length; t++) {
          const text = tok.decode(script.slice(0, t)).replace(/\uFFFD+$/, "");
          const hits = stop.map((x) => text.indexOf(x)).filter((i) => i >= 0);
          if (hits.length > 0) {
            want = { text: text.slice(0, Math.min(...hits)), finishReason: "stop", tokens: t };
            break;
          }
        }
        expect({ text: s.text, finishReason: s.finishReason, tokens: s.tokenIds.length }).toEqual(want);
      }),
      { numRuns: 150, seed: 7 },
    );
  });

  it("decodes nothing for sampled ids the tokenizer does not know (a model vocabulary padded past the tokenizer's)", async () => {
    const script = [...enc("ok"), V + 2, ...enc("!")];
    const model = new FakeModel(V + 4, 64, scriptedLogits(V + 4, IM_START, script, tok.eosTokenId));
    const s = at(await generate(model, tok, [{ promptIds: [IM_START], temperature: 0, maxNewTokens: 10 }]));
    expect(s).toMatchObject({ text: "ok!", tokenIds: [...script, tok.eosTokenId], finishReason: "stop" });
  });

  it("ends with finishReason length at maxNewTokens and at the model's context limit", async () => {
    const model = new FakeModel(V, 10, noEos());
    const out = await generate(model, tok, [
      { promptIds: enc("abcdef"), maxNewTokens: 100 },
      { promptIds: enc("ab"), maxNewTokens: 3 },
      { promptIds: enc("ab"), maxNewTokens: 0 },
    ]);
    expect(out.map(([s]) => [s!.tokenIds.length, s!.finishReason])).toEqual([
      [4, "length"],
      [3, "length"],
      [0, "length"],
    ]);
    expect(out[2]![0]!.text).toBe("");
  });

  it("calls onToken for every sampled token in order and stops on abort", async () => {
    const seen: [number, number, number][] = [];
    const controller = new AbortController();
    const out = await generate(new FakeModel(V, 64, noEos()), tok, [{ promptIds: enc("a"), n: 2, maxNewTokens: 50 }], {
      onToken: (r, s, id) => {
        seen.push([r, s, id]);
        if (seen.length === 6) controller.abort();
      },
      signal: controller.signal,
    });
    expect(seen).toHaveLength(6);
    expect(out[0]!.map((s) => s.tokenIds)).toEqual([0, 1].map((j) => seen.filter((x) => x[1] === j).map((x) => x[2])));
    expect(out[0]!.every((s) => s.finishReason === "length" && s.tokenIds.length === 3)).toBe(true);
  });

  it("rejects invalid requests with a ModelError naming the request and every bad field", async () => {
    const model = new FakeModel(V, 16, noEos());
    const call = (r: GenerationRequest) => generate(model, tok, [{ promptIds: [1] }, r]);
    await expect(call({ promptIds: [1], topP: 0, n: 0, temperature: -1 })).rejects.toThrow(/request 1 is invalid — .*temperature.*topP.*n:/);
    await expect(call({ promptIds: [] })).rejects.toThrow(/request 1 is invalid — promptIds: the prompt needs at least one token/);
    await expect(call({ promptIds: [V] })).rejects.toThrow(ModelError);
    await expect(call({ promptIds: new Array(16).fill(1) })).rejects.toThrow(/request 1: promptIds has 16 tokens; the model accepts at most 16/);
    await expect(call({ promptIds: [1], stop: [""] })).rejects.toThrow(/stop\.0: stop strings must be non-empty/);
    await expect(generate(model, tok, [{ promptIds: [1] }], { maxBatchSize: 0 })).rejects.toThrow(/maxBatchSize/);
  });
});

describe("IncrementalDetokenizer", () => {
  it("emits whole characters only, and the pieces join to the full decode", () => {
    const ids = tok.encode("aé中😀<|im_start|>b");
    const d = new IncrementalDetokenizer(tok);
    const pieces = ids.map((id) => d.push(id));
    expect(pieces.some((p) => p.includes("\uFFFD"))).toBe(false);
    expect(pieces.join("") + d.flush()).toBe("aé中😀b");
    expect(pieces.filter((p) => p === "").length).toBe(1 + 2 + 3 + 1);
  });

  it("flushes an incomplete character as U+FFFD and skips ids outside the tokenizer's vocabulary", () => {
    const d = new IncrementalDetokenizer(tok);
    expect(d.push(0x61)).toBe("a");
    expect(d.push(V + 5)).toBe("");
    expect(d.push(0xe4)).toBe("");
    expect(d.flush()).toBe("\uFFFD");
    expect(d.text).toBe("a\uFFFD");
  });
});
