// Without onnxruntime-node (an optional peer) the engine fails with the install hint, not a bare module error.
import { describe, expect, it, vi } from "vitest";
import { parseQwen2Config } from "../src/config.js";
import { ModelError } from "../src/errors.js";
import { OnnxQwen2Model } from "../src/onnx/engine.js";

vi.mock("onnxruntime-node", () => {
  throw new Error("Cannot find package 'onnxruntime-node'");
});

describe("OnnxQwen2Model without onnxruntime-node", () => {
  it("throws ModelError saying to install onnxruntime-node", async () => {
    const config = parseQwen2Config({ vocab_size: 8, hidden_size: 4, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2 });
    const attempt = OnnxQwen2Model.create(config, new Map());
    await expect(attempt).rejects.toThrow(ModelError);
    await expect(OnnxQwen2Model.create(config, new Map())).rejects.toThrow(/install onnxruntime-node to use the onnx engine/);
  });
});
