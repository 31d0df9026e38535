import { canonicalJson, type Message, type OpenAIChatClient } from "@infialign/data";
import type { DecodeModel, GenerateFn, ModelTokenizer } from "@infialign/model";

/** One sampled response of the SFT model. */
export interface SampledResponse {
  text: string;
  /** "stop" (ended on its own), "length" (hit the token limit: truncated), or what the server said. */
  finishReason: string | null;
}

export interface SampleRequest {
  /** The conversation up to the assistant turn to sample. */
  messages: readonly Message[];
  /**
   * Sample indices to produce (0 … k−1). Sample i is drawn with seed `seed + i`, so each one can be persisted, resumed
   * and re-drawn on its own.
   */
  indices: readonly number[];
  signal?: AbortSignal;
  /** Called as each sample arrives, before the whole request resolves (to persist it at once). */
  onSample?: (index: number, response: SampledResponse) => void | Promise<void>;
}

/** Where responses of the SFT model come from: a local `@infialign/model` or any OpenAI-compatible server. */
export interface ResponseSampler {
  /** Names the model and sampling settings; part of the persistence key of every sample. */
  readonly id: string;
  /** Responses in the order of `request.indices`. */
  sample(request: SampleRequest): Promise<SampledResponse[]>;
}

/** Sampling settings shared by both samplers. Defaults: DeepSeek-R1's recommended evaluation settings (README, "Usage Recommendations"). */
export interface SamplingSettings {
  /** @default 0.6 */
  temperature?: number;
  /** @default 0.95 */
  topP?: number;
  /** Completion budget in tokens; a response that reaches it is truncated (cleaned away as rejected). @default 4096 */
  maxTokens?: number;
  /** Seed of sample 0; sample i uses seed + i. @default 0 */
  seed?: number;
}

const DEFAULT_SAMPLING = { temperature: 0.6, topP: 0.95, maxTokens: 4096, seed: 0 } as const;

function resolveSampling(s: SamplingSettings): Required<SamplingSettings> {
  const r = { ...DEFAULT_SAMPLING, ...Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) } as Required<SamplingSettings>;
  const problems: string[] = [];
  if (!(r.temperature >= 0)) problems.push(`temperature must be >= 0, got ${r.temperature}`);
  if (!(r.topP > 0 && r.topP <= 1)) problems.push(`topP must be in (0, 1], got ${r.topP}`);
  if (!Number.isInteger(r.maxTokens) || r.maxTokens < 1) problems.push(`maxTokens must be a positive integer, got ${r.maxTokens}`);
  if (!Number.isInteger(r.seed)) problems.push(`seed must be an integer, got ${r.seed}`);
  if (problems.length > 0) throw new RangeError(`[infialign/train-dpo] sampler: ${problems.join("; ")}`);
  return r;
}

export interface OpenAISamplerOptions extends SamplingSettings {
  /** Client of the server hosting the SFT checkpoint (e.g. vLLM); its concurrency and retries apply. */
  client: OpenAIChatClient;
}

/**
 * Samples from an OpenAI-compatible endpoint: one request per sample (`n` = 1, seed + i), so samples persist one by
 * one and servers that ignore `n` behave the same. Reasoning split out by the server (`reasoning_content`) is put
 * back in `<think>` tags, as the teacher stage of `@infialign/data` does.
 */
export function openAISampler(options: OpenAISamplerOptions): ResponseSampler {
  const s = resolveSampling(options);
  const { client } = options;
  return {
    id: `openai:${client.model}:${canonicalJson({ temperature: s.temperature, top_p: s.topP, max_tokens: s.maxTokens, seed: s.seed })}`,
    async sample({ messages, indices, signal, onSample }) {
      return Promise.all(
        indices.map(async (i) => {
          const reply = await client.chat({ messages: [...messages], temperature: s.temperature, top_p: s.topP, max_tokens: s.maxTokens, seed: s.seed + i }, { signal });
          const choice = reply.choices[0];
          if (!choice) throw new Error(`[infialign/train-dpo] sampler: server returned no choices for sample ${i} (model "${client.model}")`);
          const text = choice.reasoning ? `<think>\n${choice.reasoning.trim()}\n</think>\n\n${choice.content.trim()}` : choice.content;
          const response = { text, finishReason: choice.finishReason };
          await onSample?.(i, response);
          return response;
        }),
      );
    },
  };
}

export interface LocalSamplerOptions extends SamplingSettings {
  /** Generation function of `@infialign/model` (tfjs or onnxruntime engine). */
  generate: GenerateFn;
  model: DecodeModel;
  tokenizer: ModelTokenizer;
  /** Identifies the weights (checkpoint path + step, or a hash); part of the persistence key. */
  modelId: string;
  /** Rows decoded together. @default 16 */
  maxBatchSize?: number;
}

/**
 * Samples from a local model: the chat template is applied by the tokenizer, and the requested samples of a prompt
 * are decoded together as one batch, each with its own seed (equal seeds give equal samples whatever the batch).
 */
export function localSampler(options: LocalSamplerOptions): ResponseSampler {
  const s = resolveSampling(options);
  const { generate, model, tokenizer, modelId, maxBatchSize = 16 } = options;
  return {
    id: `local:${modelId}:${tokenizer.name}:${canonicalJson({ temperature: s.temperature, top_p: s.topP, max_tokens: s.maxTokens, seed: s.seed })}`,
    async sample({ messages, indices, signal, onSample }) {
      const promptIds = tokenizer.encodeChat(messages, { addGenerationPrompt: true });
      const requests = indices.map((i) => ({ promptIds, n: 1, seed: s.seed + i, temperature: s.temperature, topP: s.topP, maxNewTokens: s.maxTokens }));
      const results = await generate(model, tokenizer, requests, { maxBatchSize, signal });
      const out: SampledResponse[] = [];
      for (let j = 0; j < indices.length; j++) {
        const g = results[j]?.[0];
        if (!g) throw new Error(`[infialign/train-dpo] sampler: generate returned no sample for request ${j} (model "${modelId}")`);
        const response = { text: g.text, finishReason: g.finishReason };
        await onSample?.(indices[j]!, response);
        out.push(response);
      }
      return out;
    },
  };
}
