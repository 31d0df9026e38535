import type { HostTensor, NamedTensors } from "@infialign/model";
import * as tf from "@tensorflow/tfjs-core";
import { TrainingError } from "./errors.js";

/** Trainable parameters by Hugging Face name, as `Qwen2Model` holds them. */
export type NamedVariables = Map<string, tf.Variable>;

/** Copies variables to host float32 tensors (for checkpoints); the copies do not alias tfjs memory. */
export function toHostTensors(tensors: Map<string, tf.Tensor>): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [name, tensor] of tensors) {
    out.set(name, { shape: [...tensor.shape], data: Float32Array.from(tensor.dataSync() as Float32Array) });
  }
  return out;
}

/**
 * Assigns host tensors to the variables of the same name. Every variable must be present with the same shape; extra
 * host tensors are an error too, so a checkpoint of another model is never half-loaded.
 * @param source file or directory named in errors
 */
export function assignHostTensors(variables: NamedVariables, tensors: NamedTensors, source: string): void {
  const problems: string[] = [];
  for (const [name, variable] of variables) {
    const host = tensors.get(name);
    if (host === undefined) problems.push(`"${name}" is missing (expected shape [${variable.shape.join(", ")}])`);
    else if (!sameShape(host, variable.shape)) {
      problems.push(`"${name}" has shape [${host.shape.join(", ")}], expected [${variable.shape.join(", ")}]`);
    }
  }
  for (const name of tensors.keys()) if (!variables.has(name)) problems.push(`"${name}" is not a parameter of the model`);
  if (problems.length > 0) {
    throw new TrainingError("checkpoint", `${source}: weights do not match the model: ${problems.join("; ")}.`);
  }
  for (const [name, variable] of variables) {
    const host = tensors.get(name)!;
    tf.tidy(() => variable.assign(tf.tensor(host.data, host.shape, "float32")));
  }
}

function sameShape(host: HostTensor, shape: readonly number[]): boolean {
  return host.shape.length === shape.length && host.shape.every((d, i) => d === shape[i]);
}
