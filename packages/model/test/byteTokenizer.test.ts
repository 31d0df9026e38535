import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ByteTokenizer, DEFAULT_BYTE_SPECIAL_TOKENS } from "../src/index.js";

const tok = new ByteTokenizer();

describe("ByteTokenizer", () => {
  it("maps text to its UTF-8 bytes and special tokens to ids from 256", () => {
    expect(tok.vocabSize).toBe(256 + DEFAULT_BYTE_SPECIAL_TOKENS.length);
    expect(tok.encode("Aé")).toEqual([0x41, 0xc3, 0xa9]);
    expect(tok.encode("<|im_start|>hi<|im_end|>")).toEqual([257, 104, 105, 258]);
    expect(tok.encode("<|im_end|>", { allowSpecial: false })).toEqual([...new TextEncoder().encode("<|im_end|>")]);
    expect(tok.eosTokenId).toBe(258);
    expect(tok.padTokenId).toBe(259);
    expect(tok.eosTokenIds).toEqual([258, 256]);
    // A leading byte-order mark is text like any other (TextDecoder strips it unless told not to).
    expect(tok.decode(tok.encode("\ufeffab"))).toBe("\ufeffab");
  });

  it("round-trips every string exactly, special tokens included", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: "binary" }), fc.constantFrom(...DEFAULT_BYTE_SPECIAL_TOKENS))), (parts) => {
        const text = parts.join("");
        // Lone surrogates are not valid Unicode text and cannot survive UTF-8; compare against their well-formed form.
        expect(tok.decode(tok.encode(text))).toBe((text as string & { toWellFormed(): string }).toWellFormed());
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it("streams multi-byte characters whole and can skip special tokens", () => {
    const ids = tok.encode("a😀<|im_end|>");
    const stream = tok.createStreamDecoder();
    const pieces = ids.map((id) => stream.push(id));
    expect(pieces).toEqual(["a", "", "", "", "😀", "<|im_end|>"]);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("a😀");
    expect(tok.decode([0xf0, 0x9f])).toBe("\ufffd");
    expect(() => tok.decode([tok.vocabSize])).toThrow(/outside the vocabulary/);
  });

  it("renders and encodes ChatML conversations", () => {
    const messages = [
      { role: "user", content: "2+2?" },
      { role: "assistant", content: "4" },
    ];
    const text = tok.chatTemplate.render({ messages, add_generation_prompt: false });
    expect(text).toBe("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n");
    const prompt = tok.encodeChat(messages.slice(0, 1), { addGenerationPrompt: true });
    expect(tok.decode(prompt)).toBe("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
    expect(prompt.filter((id) => id >= 256)).toEqual([257, 258, 257]);
  });

  it("rejects bad special-token settings with the fix", () => {
    expect(() => new ByteTokenizer({ specialTokens: ["<a>", "<a>"] })).toThrow(/repeated/);
    expect(() => new ByteTokenizer({ specialTokens: ["<a>"], eosToken: "<b>" })).toThrow(/eosToken "<b>" is not among the special tokens/);
    const custom = new ByteTokenizer({ specialTokens: ["<s>", "</s>", "<pad>"], eosToken: "</s>", padToken: "<pad>" });
    expect(custom.encode("</s>")).toEqual([257]);
  });
});
