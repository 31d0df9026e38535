import { type DecodeModel, type GenerationRequest, generate, type ModelTokenizer } from "@infialign/model";
import type { EvalItem, Protocol } from "../types.js";
import type { EvalRunner, RunnerCompletion } from "./runner.js";

export interface LocalRunnerOptions {
  model: DecodeModel;
  tokenizer: ModelTokenizer;
  /** Name in results. @default tokenizer.name */
  id?: string;
  /** Most completions decoded together; concurrent `complete` calls are gathered into batches of this size. @default 16 */
  maxBatchSize?: number;
}

interface Pending {
  request: GenerationRequest;
  resolve: (c: RunnerCompletion) => void;
  reject: (e: unknown) => void;
}

/**
 * Runs the in-process model through @infialign/model's `generate`. Calls arriving together (the evaluation's
 * concurrency) are decoded as one batch, one batch at a time since the model is single-threaded. Sample `i` uses
 * sampler seed `protocol.seed + i`, and `generate` makes a row's sample independent of its batch-mates, so a resumed
 * run reproduces the samples of an uninterrupted one.
 */
export function localRunner(options: LocalRunnerOptions): EvalRunner {
  const { model, tokenizer } = options;
  const maxBatchSize = options.maxBatchSize ?? 16;
  const queue: Pending[] = [];
  let running = false;

  async function drain(): Promise<void> {
    if (running) return;
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatchSize);
        try {
          const out = await generate(
            model,
            tokenizer,
            batch.map((p) => p.request),
            { maxBatchSize },
          );
          batch.forEach((p, i) => {
            const s = out[i]![0]!;
            p.resolve({ text: s.text, finishReason: s.finishReason, completionTokens: s.tokenIds.length, logprobs: s.logprobs });
          });
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      running = false;
    }
  }

  return {
    id: options.id ?? tokenizer.name,
    complete(item: EvalItem, sampleIndex: number, protocol: Protocol) {
      const promptIds = tokenizer.encodeChat(item.messages, { addGenerationPrompt: true });
      const request: GenerationRequest = {
        promptIds,
        temperature: protocol.temperature,
        topP: protocol.topP,
        seed: (protocol.seed + sampleIndex) >>> 0,
        maxNewTokens: Math.max(0, Math.min(protocol.maxTokens, model.maxPositions - promptIds.length)),
      };
      return new Promise<RunnerCompletion>((resolve, reject) => {
        queue.push({ request, resolve, reject });
        // Deferred so that calls made in the same tick join one batch.
        setImmediate(() => void drain());
      });
    },
  };
}
