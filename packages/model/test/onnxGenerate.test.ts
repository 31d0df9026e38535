// The onnxruntime engine behind generation and scoring: same tokens and log-probs as the tfjs model on the same weights.
import "@tensorflow/tfjs-backend-cpu";
import { selectBackend } from "@infialign/kernels/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseQwen2Config } from "../src/config.js";
import { generate } from "../src/generate/generate.js";
import { scoreCompletions } from "../src/generate/score.js";
import { OnnxQwen2Model } from "../src/onnx/engine.js";
import { Qwen2Model } from "../src/qwen2/model.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";

const tokenizer = new ByteTokenizer();
// Byte vocabulary (256 + 4 specials); initializer_range 0.3 so that random weights give peaked, seed-stable choices.
const config = parseQwen2Config({
  vocab_size: tokenizer.vocabSize,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
  initializer_range: 0.3,
  tie_word_embeddings: true,
});

let tfjs: Qwen2Model;
let ort: OnnxQwen2Model;
beforeAll(async () => {
  await selectBackend({ prefer: "cpu" });
  tfjs = Qwen2Model.init(config, { seed: 3 });
  ort = await OnnxQwen2Model.create(config, tfjs.toWeights(), { threads: 1 });
});
afterAll(async () => {
  tfjs.dispose();
  await ort.dispose();
});

const prompts = ["Hello", "2 + 2 =", "a much longer prompt, so the batch is left-padded"].map((p) => tokenizer.encode(p));

describe("OnnxQwen2Model in generate and scoreCompletions", () => {
  it("generates the same tokens and log-probs as the tfjs model (greedy and seeded sampling, batched)", async () => {
    const requests = [
      ...prompts.map((promptIds) => ({ promptIds, temperature: 0, maxNewTokens: 12 })),
      { promptIds: prompts[1] as number[], temperature: 1, seed: 5, n: 2, maxNewTokens: 12 },
    ];
    const [a, b] = [await generate(ort, tokenizer, requests), await generate(tfjs, tokenizer, requests)];
    expect(a.map((r) => r.map((s) => s.tokenIds))).toEqual(b.map((r) => r.map((s) => s.tokenIds)));
    expect(a.flat().some((s) => s.tokenIds.length > 0)).toBe(true);
    for (const [i, samples] of a.entries()) {
      for (const [j, s] of samples.entries()) {
        const other = b[i]?.[j]?.logprobs as number[];
        for (const [t, lp] of s.logprobs.entries()) expect(Math.abs(lp - (other[t] as number))).toBeLessThan(1e-4);
      }
    }
  });

  it("scores completions like the tfjs model to 1e-4", async () => {
    const items = prompts.map((promptIds, i) => ({ promptIds, completionIds: tokenizer.encode([" world", " 4", "!"][i] as string) }));
    const [a, b] = [await scoreCompletions(ort, items, { batchSize: 2 }), await scoreCompletions(tfjs, items, { batchSize: 2 })];
    for (const [i, scores] of a.entries()) {
      expect(scores.length).toBe(items[i]?.completionIds.length);
      for (const [t, lp] of scores.entries()) expect(Math.abs(lp - ((b[i] as Float64Array)[t] as number))).toBeLessThan(1e-4);
    }
  });
});
