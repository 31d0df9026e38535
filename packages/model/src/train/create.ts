// Picks the training engine: onnxruntime where onnxruntime-node loads (the fast path), else the tfjs reference.
import type { Qwen2Model } from "../qwen2/model.js";
import { TfjsTrainingEngine, type TrainingEngine, type TrainingEngineName } from "./engine.js";
import { OnnxTrainingEngine } from "./onnx.js";

export interface TrainingEngineOptions {
  /** `"auto"`: onnxruntime when onnxruntime-node can be loaded, else tfjs. @default "auto" */
  engine?: "auto" | TrainingEngineName;
  /** onnxruntime intra-op threads. @default os.availableParallelism() */
  threads?: number;
  /** See OnnxTrainingEngineOptions.maxLogitsBytes. @default 256 MiB */
  maxLogitsBytes?: number;
}

export interface CreatedTrainingEngine {
  engine: TrainingEngine;
  /** Why `"auto"` fell back to tfjs, when it did. */
  fallback?: string;
}

/** The training engine for `model` (see {@link TrainingEngineOptions}); `"onnxruntime"` throws when it cannot load. */
export async function createTrainingEngine(model: Qwen2Model, options: TrainingEngineOptions = {}): Promise<CreatedTrainingEngine> {
  const wanted = options.engine ?? "auto";
  if (wanted === "tfjs") return { engine: new TfjsTrainingEngine(model) };
  try {
    const { threads, maxLogitsBytes } = options;
    return { engine: await OnnxTrainingEngine.create(model, { ...(threads === undefined ? {} : { threads }), ...(maxLogitsBytes === undefined ? {} : { maxLogitsBytes }) }) };
  } catch (error) {
    if (wanted === "onnxruntime") throw error;
    return { engine: new TfjsTrainingEngine(model), fallback: error instanceof Error ? error.message : String(error) };
  }
}
