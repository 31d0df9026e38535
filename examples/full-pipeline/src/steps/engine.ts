// Loads a checkpoint for inference: onnxruntime when onnxruntime-node is installed (10-50× faster decoding on CPU,
// see @infialign/model's README), else the tfjs model the trainers use.
import { selectBackend } from "@infialign/kernels/tfjs";
import { type DecodeModel, loadCheckpoint, loadModelTokenizer, type ModelTokenizer, OnnxQwen2Model, Qwen2Model } from "@infialign/model";

export interface InferenceEngine {
  model: DecodeModel;
  tokenizer: ModelTokenizer;
  /** "onnx" or "tfjs". */
  engine: string;
  dispose(): void;
}

export interface LoadEngineOptions {
  /** Prefer onnxruntime when it is installed. @default true */
  onnx?: boolean;
  /** onnxruntime intra-op threads. @default 1 (faster than 2 on a shared 2-core machine, per the model bench) */
  threads?: number;
}

export async function loadEngine(dir: string, options: LoadEngineOptions = {}): Promise<InferenceEngine> {
  const [checkpoint, tokenizer] = await Promise.all([loadCheckpoint(dir), loadModelTokenizer(dir)]);
  if (options.onnx ?? true) {
    try {
      const model = await OnnxQwen2Model.create(checkpoint.config, checkpoint.weights, { threads: options.threads ?? 1 });
      return { model, tokenizer, engine: "onnx", dispose: () => model.dispose() };
    } catch (error) {
      // Only a missing onnxruntime-node falls back; anything else is a real failure.
      if (!/onnxruntime-node/.test((error as Error).message)) throw error;
    }
  }
  await selectBackend();
  const model = Qwen2Model.fromWeights(checkpoint.config, checkpoint.weights);
  return { model, tokenizer, engine: "tfjs", dispose: () => model.dispose() };
}
