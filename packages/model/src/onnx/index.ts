// Public API of the onnxruntime inference engine (for an `@infialign/model/onnx` subpath or re-export from src/index.ts).
// onnxruntime-node is an optional peer, imported only when OnnxQwen2Model.create runs.
export type { OnnxQwen2ModelOptions } from "./engine.js";
export { OnnxQwen2Model } from "./engine.js";
export { buildQwen2Onnx, QWEN2_ONNX_NAMES, QWEN2_ONNX_OPSET } from "./graph.js";
