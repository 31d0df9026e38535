import type { EvalItem, Protocol } from "../types.js";

/** One completion as a runner returns it. */
export interface RunnerCompletion {
  text: string;
  /** `"stop"`, `"length"` (hit `maxTokens`), … as the backend says. */
  finishReason: string;
  completionTokens?: number;
  /** Log-prob of each generated token, when the backend returned them. */
  logprobs?: number[];
}

/** Produces completions for items; an OpenAI-compatible endpoint or the in-process model. */
export interface EvalRunner {
  /** Names the model in results (`EvalRunResult.model`) unless the run overrides it. */
  readonly id: string;
  /**
   * Sample `sampleIndex` of `item` under `protocol`. Must be reproducible: the same item, index and protocol
   * give the same sampling seed (`protocol.seed + sampleIndex`), so a resumed run draws what the first would have.
   */
  complete(item: EvalItem, sampleIndex: number, protocol: Protocol, options?: { signal?: AbortSignal }): Promise<RunnerCompletion>;
  /** Releases connections or model resources. */
  close?(): Promise<void>;
}
