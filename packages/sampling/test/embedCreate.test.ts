import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAIServer } from "@infialign/test-utils";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CachedEmbedder, createEmbedder, HashingEmbedder, OpenAIEmbedder, TransformersEmbedder } from "../src/embed/index.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "create-embedder-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("createEmbedder", () => {
  it("builds hashing embedders, fitted when given texts", async () => {
    const plain = await createEmbedder("hashing");
    expect(plain).toBeInstanceOf(HashingEmbedder);
    expect(plain.dim).toBe(256);
    const wide = (await createEmbedder("hashing:512", { fitTexts: ["a b", "b c"], hashing: { seed: 9 } })) as HashingEmbedder;
    expect(wide.dim).toBe(512);
    expect(wide.config.seed).toBe(9);
    expect(wide.fittedDocuments).toBe(2);
  });

  it("builds an OpenAI embedder and wraps it in a cache when asked", async () => {
    const server = await startOpenAIServer();
    try {
      const e = await createEmbedder(`openai:${server.url}#my-model`, { cacheDir: dir, openai: { sleep: async () => {} } });
      expect(e).toBeInstanceOf(CachedEmbedder);
      expect((e as CachedEmbedder).inner).toBeInstanceOf(OpenAIEmbedder);
      expect(e.id).toBe("openai:my-model");
      const v = await e.embed(["hello"]);
      expect(v).toHaveLength(16);
      expect(server.requests[0]?.body).toMatchObject({ model: "my-model" });
      await (e as CachedEmbedder).close();
      await ((e as CachedEmbedder).inner as OpenAIEmbedder).close();
    } finally {
      await server.close();
    }
  });

  it("rejects malformed specs with the accepted forms", async () => {
    await expect(createEmbedder("hashing:abc")).rejects.toThrow(/\[infialign\/sampling\] embedder: bad dim "abc".*expected "hashing"/);
    await expect(createEmbedder("bert")).rejects.toThrow(/unknown embedder "bert"/);
    await expect(createEmbedder("openai:http://h/v1")).rejects.toThrow(/needs a base URL and a model/);
    await expect(createEmbedder("onnx:")).rejects.toThrow(/names no model folder/);
  });
});

describe("TransformersEmbedder", () => {
  it("names the files it expects when the model folder is missing or incomplete", async () => {
    await expect(TransformersEmbedder.load(join(dir, "absent"))).rejects.toThrow(/does not exist; expected config\.json, tokenizer\.json, onnx\/model\.onnx/);
    const partial = join(dir, "partial");
    await mkdir(partial, { recursive: true });
    await writeFile(join(partial, "config.json"), "{}");
    await expect(TransformersEmbedder.load(partial, { dtype: "q8" })).rejects.toThrow(/lacks tokenizer\.json, onnx\/model_quantized\.onnx/);
  });

  it("asks to install @huggingface/transformers when the folder is complete but the package is absent", async () => {
    const model = join(dir, "model");
    await mkdir(join(model, "onnx"), { recursive: true });
    await writeFile(join(model, "config.json"), '{"hidden_size": 8}');
    await writeFile(join(model, "tokenizer.json"), "{}");
    await writeFile(join(model, "onnx", "model.onnx"), "");
    // Absent whether or not this machine has the optional peer: importing it fails as an uninstalled package does.
    vi.doMock("@huggingface/transformers", () => {
      throw Object.assign(new Error("Cannot find package '@huggingface/transformers'"), { code: "ERR_MODULE_NOT_FOUND" });
    });
    try {
      await expect(createEmbedder(`onnx:${model}`)).rejects.toThrow("[infialign/sampling] embedder: install @huggingface/transformers to use the onnx embedder");
    } finally {
      vi.doUnmock("@huggingface/transformers");
    }
  });
});
