import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TransformersEmbedder } from "../src/embed/index.js";

// The optional peer is not installed here: a stand-in with the same surface checks how the
// embedder drives it (offline env, dtype, pooling, batching, row layout).
const calls: { model?: string; options?: unknown; batches: string[][] } = { batches: [] };
const env = { allowRemoteModels: true, allowLocalModels: false, localModelPath: "" };
vi.mock("@huggingface/transformers", () => ({
  env,
  pipeline: async (_task: string, model: string, options: unknown) => {
    calls.model = model;
    calls.options = options;
    return async (texts: string[]) => {
      calls.batches.push(texts);
      // 3-dim vectors: (length, 1, 0), unnormalized, to check the embedder normalizes.
      return { data: Float32Array.from(texts.flatMap((t) => [t.length, 1, 0])), dims: [texts.length, 3] };
    };
  },
}));

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "onnx-"));
  const model = join(root, "bge-small");
  await mkdir(join(model, "onnx"), { recursive: true });
  await writeFile(join(model, "config.json"), '{"hidden_size": 384}');
  await writeFile(join(model, "tokenizer.json"), "{}");
  await writeFile(join(model, "onnx", "model_quantized.onnx"), "");
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("TransformersEmbedder (stand-in module)", () => {
  it("loads offline from the folder, probes dim, batches, and returns unit rows", async () => {
    const e = await TransformersEmbedder.load(join(root, "bge-small"), { dtype: "q8", batchSize: 2, pooling: "cls" });
    expect(env).toMatchObject({ allowRemoteModels: false, allowLocalModels: true, localModelPath: `${root}/` });
    expect(calls.model).toBe("bge-small");
    expect(calls.options).toMatchObject({ dtype: "q8", local_files_only: true });
    expect(e.dim).toBe(3);
    expect(e.id).toBe("onnx:bge-small:d3:cls:q8");
    calls.batches.length = 0;
    const v = await e.embed(["abc", "", "abcd", "x"]);
    expect(calls.batches).toEqual([["abc", "abcd"], ["x"]]);
    expect(Array.from(v.subarray(0, 3))).toEqual([3 / Math.hypot(3, 1), 1 / Math.hypot(3, 1), 0].map(Math.fround));
    expect(Array.from(v.subarray(3, 6))).toEqual([0, 0, 0]);
    expect(v[9]).toBeCloseTo(1 / Math.SQRT2, 6);
  });
});
