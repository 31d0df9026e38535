// Over-long prompts are refused before they are tokenised whole: a 3 MB prompt used to be tokenised completely (seconds
// of blocked event loop, hundreds of MB) only to be rejected for its length.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { GenerateFn, GenerationRequest } from "../src/engine.js";
import { generate } from "../src/generate/generate.js";
import { CHUNK_BOUNDARY_SLACK, COUNT_CHUNK_CHARS, encodeWithinBudget } from "../src/serve/promptBudget.js";
import { startServer } from "../src/serve/server.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";
import { CountingModel, CountingTokenizer, postJson } from "./serveHelpers.js";

/** A byte tokenizer that records how many characters it was asked to encode, with or without a bytes-per-token bound. */
class MeteredTokenizer extends ByteTokenizer {
  encodedChars = 0;
  constructor(readonly bounded: boolean) {
    super();
  }
  /** Unbounded: a token may stand for any number of bytes, so the length alone proves nothing. */
  override get maxBytesPerToken(): number {
    return this.bounded ? super.maxBytesPerToken : Number.POSITIVE_INFINITY;
  }
  override encode(text: string, options?: { allowSpecial?: boolean }): number[] {
    this.encodedChars += text.length;
    return super.encode(text, options);
  }
}

/** Lines of letters, digits, multi-byte characters and special tokens: what chunk boundaries must not miscount. */
const longText = (minChars: number) =>
  fc
    .array(fc.constantFrom("hello world\n", "é漢字🙂 ", "<|im_end|>", "\n\n", "  indented\n", "x".repeat(300), "<|im_", "start|>"), { minLength: 1, maxLength: 40 })
    .map((parts) => {
      let text = "";
      for (let i = 0; text.length < minChars; i++) text += parts[i % parts.length];
      return text;
    });

describe("encodeWithinBudget", () => {
  it("returns the exact ids, or a lower bound above the budget that never exceeds the true count (property)", async () => {
    const tokenizer = new MeteredTokenizer(false);
    await fc.assert(
      fc.asyncProperty(longText(COUNT_CHUNK_CHARS + 1), fc.integer({ min: 1, max: 8 }), fc.double({ min: 0.2, max: 1.5, noNaN: true }), async (base, copies, ratio) => {
        const text = base.repeat(copies);
        const count = tokenizer.encode(text).length;
        const budget = Math.max(1, Math.floor(count * ratio));
        const fit = await encodeWithinBudget(tokenizer, text, budget);
        if ("ids" in fit) {
          expect(fit.ids).toEqual(tokenizer.encode(text));
          expect(count).toBeLessThanOrEqual(budget + CHUNK_BOUNDARY_SLACK * Math.ceil(text.length / COUNT_CHUNK_CHARS));
        } else {
          expect(fit.atLeast).toBeGreaterThan(budget);
          expect(fit.atLeast).toBeLessThanOrEqual(count);
        }
      }),
      { numRuns: 40, seed: 5 },
    );
  });

  it("rejects by length alone when the tokenizer bounds the bytes per token, encoding nothing", async () => {
    const tokenizer = new MeteredTokenizer(true);
    // 13 = "<|endoftext|>", the longest special token: 1300 bytes are at least 100 tokens.
    expect(tokenizer.maxBytesPerToken).toBe(13);
    expect(await encodeWithinBudget(tokenizer, "a".repeat(1300), 99)).toEqual({ atLeast: 100 });
    expect(tokenizer.encodedChars).toBe(0);
    expect(await encodeWithinBudget(tokenizer, "a".repeat(1300), 100)).toEqual({ ids: Array(1300).fill(97) });
  });

  it("without that bound, stops tokenising a long text once its chunks pass the budget", async () => {
    const tokenizer = new MeteredTokenizer(false);
    const text = "some words on a line\n".repeat(150_000); // 3.1 MB
    const fit = await encodeWithinBudget(tokenizer, text, 1000);
    expect("atLeast" in fit && fit.atLeast > 1000).toBe(true);
    // One chunk (plus the rest of its line) was enough, not 3 MB.
    expect(tokenizer.encodedChars).toBeLessThan(2 * COUNT_CHUNK_CHARS);
  });
});

describe("infialign-serve refuses over-long prompts cheaply", () => {
  const serve = async (tokenizer: ByteTokenizer, maxPositions: number, generateFn?: GenerateFn) => {
    const model = new CountingModel(tokenizer.vocabSize, maxPositions, tokenizer.eosTokenId);
    return startServer({ model, tokenizer, modelId: "m", port: 0, ...(generateFn ? { generateFn } : {}) });
  };

  it("a 3 MB prompt gets 400 context_length_exceeded without being tokenised (completions and chat)", async () => {
    const tokenizer = new CountingTokenizer();
    const server = await serve(tokenizer, 128);
    try {
      const prompt = "x".repeat(3_000_000);
      const r = await postJson(`${server.url}/v1/completions`, { model: "m", prompt });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ param: "prompt", code: "context_length_exceeded" });
      expect(r.json.error.message).toContain("you requested at least 230786 tokens (at least 230770 in the prompt, 16 in the completion)");
      const chat = await postJson(`${server.url}/v1/chat/completions`, { model: "m", messages: [{ role: "user", content: prompt }] });
      expect(chat.status).toBe(400);
      expect(chat.json.error).toMatchObject({ param: "messages", code: "context_length_exceeded" });
      const several = await postJson(`${server.url}/v1/completions`, { model: "m", prompt: ["a", prompt] });
      expect(several.json.error.message).toContain("in the prompt.1,");
      expect(tokenizer.encodes).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("with a tokenizer that gives no bytes-per-token bound, tokenises about one chunk, not the whole prompt", async () => {
    const tokenizer = new MeteredTokenizer(false);
    const server = await serve(tokenizer, 128);
    try {
      const prompt = "a line of text\n".repeat(200_000);
      const r = await postJson(`${server.url}/v1/chat/completions`, { model: "m", messages: [{ role: "user", content: prompt }], max_tokens: 8 });
      expect(r.status).toBe(400);
      expect(r.json.error.code).toBe("context_length_exceeded");
      expect(tokenizer.encodedChars).toBeLessThan(2 * COUNT_CHUNK_CHARS);
    } finally {
      await server.close();
    }
  });

  it("a long prompt that fits is tokenised exactly as before", async () => {
    const tokenizer = new MeteredTokenizer(false);
    const calls: GenerationRequest[] = [];
    const server = await serve(tokenizer, 100_000, (m, t, requests, options) => {
      calls.push(...requests);
      return generate(m, t, requests, options);
    });
    try {
      const prompt = "é漢字🙂 <|im_end|> words\n".repeat(2000);
      const r = await postJson(`${server.url}/v1/completions`, { model: "m", prompt, max_tokens: 1, temperature: 0 });
      expect(r.status).toBe(200);
      expect(calls[0]?.promptIds).toEqual(new ByteTokenizer().encode(prompt));
      expect(r.json.usage.prompt_tokens).toBe(calls[0]?.promptIds.length);
    } finally {
      await server.close();
    }
  });
});
