import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type DecodeModel, type KvCache, type StepInput, type StepOutput, ByteTokenizer } from "@infialign/model";
import { describe, expect, it } from "vitest";
import { endpointRunner } from "../src/run/endpointRunner.js";
import { localRunner } from "../src/run/localRunner.js";
import type { EvalItem } from "../src/types.js";
import { protocol } from "./runHelpers.js";

const item: EvalItem = { benchmark: "toy", id: "a", messages: [{ role: "user", content: "What is 1 + 1?" }], kind: "math", gold: "2", meta: {} };

describe("endpointRunner", () => {
  it("asks for log-probs and returns them with the reasoning kept in the text", async () => {
    const bodies: Record<string, unknown>[] = [];
    const server = createServer((req, res) => {
      let data = "";
      req.on("data", (d) => (data += d));
      req.on("end", () => {
        bodies.push(JSON.parse(data) as Record<string, unknown>);
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            choices: [
              {
                message: { content: "\\boxed{2}", reasoning_content: "1+1=2" },
                finish_reason: "stop",
                logprobs: { content: [{ token: "\\", logprob: -0.5 }, { token: "boxed", logprob: -0.25 }] },
              },
            ],
            usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    try {
      const runner = endpointRunner({ baseUrl: url, model: "m", logprobs: true, sleep: async () => {} });
      const c = await runner.complete(item, 2, protocol(4, 10));
      expect(c).toEqual({ text: "<think>1+1=2</think>\\boxed{2}", finishReason: "stop", completionTokens: 2, logprobs: [-0.5, -0.25] });
      expect(bodies[0]).toMatchObject({ model: "m", logprobs: true, seed: 12, temperature: 0.6, top_p: 0.95, max_tokens: 256 });
      await runner.close?.();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

/** Keeps each row's real tokens; the logits spell SCRIPT after the generation prompt, then the end-of-turn token. */
class ScriptModel implements DecodeModel {
  readonly vocabSize: number;
  readonly maxPositions = 512;
  batches: number[] = [];
  constructor(
    private readonly tok: ByteTokenizer,
    private readonly script: number[],
  ) {
    this.vocabSize = tok.vocabSize;
  }
  async step(input: StepInput): Promise<StepOutput> {
    const past = (input.cache as unknown as { rows: number[][] } | undefined)?.rows;
    const cacheLength = past?.[0]?.length ?? 0;
    if (!input.cache) this.batches.push(input.batch);
    const rows: number[][] = [];
    const logits = new Float32Array(input.batch * this.vocabSize);
    for (let b = 0; b < input.batch; b++) {
      const row = [...(past?.[b] ?? [])];
      for (let t = 0; t < input.newTokens; t++) {
        if (input.keyMask[b * (cacheLength + input.newTokens) + cacheLength + t] === 1) row.push(input.ids[b * input.newTokens + t]!);
      }
      rows.push(row);
      const start = row.lastIndexOf(257) + "assistant\n".length + 1;
      const next = this.script[row.length - start] ?? this.tok.eosTokenIds[0]!;
      logits[b * this.vocabSize + next] = 30;
    }
    const cache = { rows, length: cacheLength + input.newTokens, batch: input.batch, dispose() {} };
    return { logits, cache: cache as KvCache };
  }
  selectRows(cache: KvCache, rows: readonly number[]): KvCache {
    const c = cache as unknown as { rows: number[][]; length: number };
    return { rows: rows.map((r) => [...c.rows[r]!]), length: c.length, batch: rows.length, dispose() {} } as unknown as KvCache;
  }
}

describe("localRunner", () => {
  it("decodes concurrent calls as one batch with the model's log-probs", async () => {
    const tok = new ByteTokenizer();
    const script = [...new TextEncoder().encode("\\boxed{2}")];
    const model = new ScriptModel(tok, script);
    const runner = localRunner({ model, tokenizer: tok, id: "script" });
    const out = await Promise.all([0, 1, 2].map((i) => runner.complete(item, i, protocol(3))));
    expect(model.batches).toEqual([3]);
    for (const c of out) {
      expect(c.text).toBe("\\boxed{2}");
      expect(c.finishReason).toBe("stop");
      // The end-of-turn token is generated (and scored) too, as vLLM counts it.
      expect(c.logprobs).toHaveLength(script.length + 1);
      expect(c.completionTokens).toBe(script.length + 1);
      // One logit at 30 and the rest at 0: log p = 30 − log(e^30 + V − 1).
      expect(c.logprobs![0]).toBeCloseTo(30 - Math.log(Math.exp(30) + tok.vocabSize - 1), 5);
    }
    expect(runner.id).toBe("script");
  });
});
