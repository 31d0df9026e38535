import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenAIChatClient } from "@infialign/data";
import { selectBackend } from "@infialign/kernels/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main, type ServeCliIo } from "../src/cli/serve.js";
import { parseQwen2Config } from "../src/config.js";
import { generate } from "../src/generate/generate.js";
import { Qwen2Model } from "../src/qwen2/model.js";
import { ByteTokenizer } from "../src/tokenizer/byteTokenizer.js";
import { saveCheckpoint } from "../src/weights/checkpoint.js";
import { gate, until } from "./serveHelpers.js";

function testIo() {
  const out: string[] = [];
  const err: string[] = [];
  const stop = gate();
  const io: ServeCliIo = { out: (l) => out.push(l), err: (l) => err.push(l), shutdown: () => stop.promise.then(() => "test over") };
  return { io, out, err, stop };
}

describe("infialign-serve CLI", () => {
  it("prints --help and exits 0", async () => {
    const { io, out } = testIo();
    expect(await main(["--help"], io)).toBe(0);
    expect(out.join("\n")).toContain("Usage: infialign-serve --model <checkpoint dir>");
  });

  it.each([
    [[], /--model <checkpoint dir> is required/],
    [["--model", "x", "--engine", "torch"], /--engine must be tfjs or onnx/],
    [["--model", "x", "--port", "70000"], /--port must be an integer from 0 to 65535/],
    [["--model", "x", "--max-batch-size", "0"], /--max-batch-size/],
    [["--model", "x", "--max-body-bytes", "1.5"], /--max-body-bytes must be an integer/],
    [["--model", "x", "--bogus"], /bogus/],
    [["--model", "x", "--engine", "onnx", "--backend", "wasm"], /--backend selects a tfjs backend/],
  ])("exits 2 with usage on bad arguments %j", async (argv, message) => {
    const { io, err } = testIo();
    expect(await main(argv, io)).toBe(2);
    expect(err.join("\n")).toMatch(message);
    expect(err.join("\n")).toContain("Usage:");
  });

  it("exits 1 naming the problem when the checkpoint cannot be loaded", async () => {
    const { io, err } = testIo();
    expect(await main(["--model", join(tmpdir(), "no-such-checkpoint-dir")], io)).toBe(1);
    expect(err.join("\n")).toMatch(/config\.json/);
  });
});

describe("infialign-serve end to end: a tiny random Qwen2 checkpoint with byte tokens", () => {
  const tokenizer = new ByteTokenizer();
  const config = parseQwen2Config({
    vocab_size: tokenizer.vocabSize,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    rope_theta: 10000,
    rms_norm_eps: 1e-6,
    initializer_range: 0.5,
    tie_word_embeddings: true,
  });
  let dir: string;
  let expected: string;
  const messages = [{ role: "user" as const, content: "hi" }];
  beforeAll(async () => {
    await selectBackend({ prefer: "cpu" });
    dir = await mkdtemp(join(tmpdir(), "infialign-serve-"));
    const model = Qwen2Model.init(config, { seed: 7 });
    await saveCheckpoint(dir, { config, weights: model.toWeights(), tokenizer });
    const samples = await generate(model, tokenizer, [{ promptIds: tokenizer.encodeChat(messages, { addGenerationPrompt: true }), temperature: 0, maxNewTokens: 8 }]);
    expected = samples[0]?.[0]?.text as string;
    model.dispose();
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([["tfjs"], ["onnx"]])("serves the checkpoint with the %s engine to OpenAIChatClient, then shuts down cleanly", async (engine) => {
    const { io, out, err, stop } = testIo();
    const argv = ["--model", dir, "--port", "0", "--served-model-name", "tiny", "--engine", engine, ...(engine === "tfjs" ? ["--backend", "cpu"] : ["--threads", "1"])];
    const exit = main(argv, io);
    await until(() => out.length > 0 || err.some((l) => l.startsWith("infialign-serve:")), "the URL line");
    const url = /at (http:\/\/\S+)$/.exec(out[0] ?? "")?.[1];
    expect(url, err.join("\n")).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const client = new OpenAIChatClient({ baseURL: url as string, model: "tiny", maxRetries: 0 });
    try {
      const reply = await client.chat({ messages, temperature: 0, max_tokens: 8 });
      const promptTokens = tokenizer.encodeChat(messages, { addGenerationPrompt: true }).length;
      expect(reply.usage).toMatchObject({ promptTokens, completionTokens: 8 });
      expect(reply.choices[0]?.finishReason).toBe("length");
      // Greedy decoding of the served checkpoint equals generate() on the model that wrote it (tfjs: same engine;
      // onnx: its logits match tfjs to 1e-4, far inside the gaps between the top logits of this seed).
      expect(reply.choices[0]?.content).toBe(expected);
    } finally {
      await client.close();
    }
    stop.open();
    expect(await exit).toBe(0);
    expect(err.join("\n")).toContain("test over, shutting down");
  });
});
