import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { GeneratedSample } from "../src/engine.js";
import { generate } from "../src/generate/generate.js";
import { TextStreamer } from "../src/serve/textStreamer.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";
import { scriptedModel } from "./serveHelpers.js";

describe("TextStreamer (SSE text of one sample)", () => {
  const tokenizer = new ByteTokenizer();
  // Bytes of "a", "b", "é" (2 bytes) and "€" (3 bytes), plus an EOS id: streams of them cut characters, form stop
  // strings across tokens and hit invalid UTF-8.
  const pieces = [[0x61], [0x62], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xc3], [tokenizer.eosTokenId]];

  it("streams only prefixes of the final completion, and finish() completes it exactly", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 20 }),
        fc.array(fc.stringMatching(/^[abé€]{1,3}$/), { maxLength: 3 }),
        async (chunks, stop) => {
          const script = chunks.flat();
          const prompt = [0x61];
          const model = scriptedModel(script, tokenizer.vocabSize, prompt.length);
          const streamer = new TextStreamer(tokenizer, stop, tokenizer.eosTokenIds);
          const sentSoFar: string[] = [];
          const result = await generate(model, tokenizer, [{ promptIds: prompt, temperature: 0, maxNewTokens: script.length, stop }], {
            onToken: (_r, _s, id) => {
              streamer.push(id);
              sentSoFar.push(streamer.sent);
            },
          });
          const sample = result[0]?.[0] as GeneratedSample;
          for (const sent of sentSoFar) expect(sample.text.startsWith(sent)).toBe(true);
          const rest = streamer.finish(sample.text);
          expect(streamer.sent).toBe(sample.text);
          expect(sentSoFar.at(-1) ?? "").toBe(sample.text.slice(0, sample.text.length - rest.length));
          for (const s of stop) expect(streamer.sent.includes(s)).toBe(false);
        },
      ),
      { numRuns: 200, seed: 5 },
    );
  });

  it("holds back only a tail that can still grow into a stop string", () => {
    const streamer = new TextStreamer(tokenizer, ["xyz"], []);
    const sent = [..."abxyxz"].map((c) => streamer.push(c.charCodeAt(0)));
    expect(sent).toEqual(["a", "b", "", "", "xy", "xz"]);
    expect(streamer.finish("abxyxz")).toBe("");
  });
});
