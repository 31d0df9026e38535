// scoreCompletions against a direct float64 log-softmax of the fake model's logits and against generate()'s logprobs.
import { describe, expect, it } from "vitest";
import { generate } from "../src/generate/generate.js";
import { logSoftmaxStats } from "../src/generate/sampling.js";
import { scoreCompletions } from "../src/generate/score.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";
import { FakeModel, hashLogits } from "./generateFakeModel.js";

const tok = new ByteTokenizer();
const V = tok.vocabSize;
const enc = (s: string) => [...new TextEncoder().encode(s)];

function direct(fn: (h: readonly number[]) => ArrayLike<number>, prompt: readonly number[], completion: readonly number[]): number[] {
  const history = [...prompt];
  return completion.map((id) => {
    const logits = fn(history);
    const { max, logSum } = logSoftmaxStats(logits);
    history.push(id);
    return logits[id]! - max - logSum;
  });
}

describe("scoreCompletions", () => {
  const fn = hashLogits(V);
  const items = [
    { promptIds: enc("Question: 2+2?"), completionIds: enc(" 4") },
    { promptIds: enc("a"), completionIds: enc("bcdefghij") },
    { promptIds: enc("empty completion"), completionIds: [] },
    { promptIds: enc("xy"), completionIds: [tok.eosTokenId] },
  ];

  it("equals the log-softmax of the model's logits at the position before each completion token, at any batch size", async () => {
    const want = items.map((it) => direct(fn, it.promptIds, it.completionIds));
    for (const batchSize of [1, 2, 8]) {
      const model = new FakeModel(V, 64, fn);
      const got = await scoreCompletions(model, items, { batchSize });
      expect(got.map((a) => [...a])).toEqual(want);
      expect(model.live).toBe(0);
      expect(model.steps.every((s) => s.allLogits === true && s.batch <= batchSize)).toBe(true);
    }
  });

  it("agrees with the logprobs generate() reported for the tokens it sampled", async () => {
    const requests = [
      { promptIds: enc("once upon"), maxNewTokens: 12, seed: 3, n: 2 },
      { promptIds: enc("z"), maxNewTokens: 7, seed: 4, temperature: 0.6, topP: 0.8 },
    ];
    const samples = await generate(new FakeModel(V, 64, fn), tok, requests);
    const flat = samples.flatMap((s, i) => s.map((x) => ({ promptIds: requests[i]!.promptIds, completionIds: x.tokenIds, logprobs: x.logprobs })));
    const scores = await scoreCompletions(new FakeModel(V, 64, fn), flat, { batchSize: 2 });
    scores.forEach((s, i) => {
      expect([...s]).toEqual(flat[i]!.logprobs);
    });
  });

  it("rejects empty prompts, out-of-vocabulary ids and sequences past maxPositions", async () => {
    const model = new FakeModel(V, 8, fn);
    await expect(scoreCompletions(model, [{ promptIds: [], completionIds: [1] }])).rejects.toThrow(/item 0: promptIds is empty/);
    await expect(scoreCompletions(model, [{ promptIds: [1], completionIds: [V] }])).rejects.toThrow(/item 0: token id \d+ is not an integer/);
    await expect(scoreCompletions(model, [{ promptIds: [1, 2, 3, 4, 5], completionIds: [1, 2, 3, 4] }])).rejects.toThrow(/9 tokens; the model accepts at most 8/);
    await expect(scoreCompletions(model, [], { batchSize: 0 })).rejects.toThrow(/batchSize/);
  });
});
