import { type ChatRequest, DEFAULT_BACKOFF, type JsonRequestSettings, jsonHeaders, type Message, OpenAIChatClient, postJsonWithRetry, RequestFailure } from "@infialign/data";
import pLimit from "p-limit";
import { z } from "zod";
import type { EvalItem, Protocol } from "../types.js";
import type { EvalRunner, RunnerCompletion } from "./runner.js";

export interface EndpointRunnerOptions {
  /** Base URL of an OpenAI-compatible server, ending in `/v1` (vLLM, SGLang, Ollama, llama.cpp, infialign-serve). */
  baseUrl: string;
  /** Model name sent with every request. */
  model: string;
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string;
  /** Time allowed per HTTP attempt, in ms; long because a non-streamed 32k-token reply arrives only when done. @default 600_000 */
  timeoutMs?: number;
  /** Retries after the first attempt (429, 5xx, timeouts, dropped connections). @default 5 */
  maxRetries?: number;
  /**
   * Ask for per-token log-probs (`logprobs: true`) and store them with each sample, for KL in comparisons.
   * These requests go through undici's global agent, whose socket timeouts (300 s) then bound each attempt.
   * @default false
   */
  logprobs?: boolean;
  /** Most HTTP requests in flight; `runEvaluation`'s `concurrency` usually binds first. @default 64 */
  maxConnections?: number;
  /** Waits between retries (tests pass one that returns at once). @default timers/promises setTimeout */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const LogprobReplySchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullish(), reasoning_content: z.string().nullish(), reasoning: z.string().nullish() }),
        finish_reason: z.string().nullish(),
        logprobs: z.object({ content: z.array(z.object({ logprob: z.number() })).nullish() }).nullish(),
      }),
    )
    .min(1),
  usage: z.object({ completion_tokens: z.number() }).nullish(),
});

/** Keeps the chain of thought a server returns apart (`reasoning_content`) in the stored text, so logs show it. */
function joinReasoning(content: string, reasoning: string | null | undefined): string {
  return reasoning ? `<think>${reasoning}</think>${content}` : content;
}

/**
 * A runner for any OpenAI-compatible `POST /chat/completions` endpoint, through @infialign/data's client (retries,
 * backoff, timeouts). Sample `i` of an item is requested with `seed = protocol.seed + i`, so samples differ from each
 * other and a rerun asks for the same ones (servers that honour `seed`, such as vLLM, then return the same text).
 */
export function endpointRunner(options: EndpointRunnerOptions): EvalRunner {
  const { baseUrl, model, apiKey, logprobs = false } = options;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const maxRetries = options.maxRetries ?? 5;
  const concurrency = options.maxConnections ?? 64;
  const client = new OpenAIChatClient({ baseURL: baseUrl, model, apiKey, timeoutMs, maxRetries, concurrency, sleep: options.sleep });
  const request = (item: EvalItem, sampleIndex: number, protocol: Protocol): ChatRequest => ({
    messages: item.messages.map((m) => ({ role: m.role, content: m.content })) as Message[],
    temperature: protocol.temperature,
    top_p: protocol.topP,
    max_tokens: protocol.maxTokens,
    seed: protocol.seed + sampleIndex,
  });

  // The shared client drops `logprobs` from replies, so log-prob requests use the same retrying POST with their own parser.
  const http: JsonRequestSettings = {
    endpoint: client.endpoint,
    headers: jsonHeaders(apiKey),
    // undici's global agent (the client's own agent is private); see `logprobs` above for its timeouts.
    dispatcher: undefined as unknown as JsonRequestSettings["dispatcher"],
    limit: pLimit(concurrency),
    maxRetries,
    timeoutMs,
    backoff: DEFAULT_BACKOFF,
    context: `model "${model}"`,
    sleep: options.sleep,
    toError: (message, failure) => new Error(`[infialign/eval] endpoint-runner: ${message}`, { cause: failure.cause }),
  };

  async function withLogprobs(req: ChatRequest, signal?: AbortSignal): Promise<RunnerCompletion> {
    const parse = (json: unknown, status: number) => {
      const parsed = LogprobReplySchema.safeParse(json);
      if (!parsed.success) return new RequestFailure(true, `response is not a chat completion (${parsed.error.issues[0]?.message})`, status);
      const choice = parsed.data.choices[0]!;
      const lp = choice.logprobs?.content?.map((t) => t.logprob);
      return {
        text: joinReasoning(choice.message.content ?? "", choice.message.reasoning_content ?? choice.message.reasoning),
        finishReason: choice.finish_reason ?? "unknown",
        ...(parsed.data.usage ? { completionTokens: parsed.data.usage.completion_tokens } : {}),
        ...(lp ? { logprobs: lp } : {}),
      };
    };
    const body = JSON.stringify({ model, ...req, logprobs: true });
    return (await postJsonWithRetry({ ...http, body, parse, signal })).value;
  }

  return {
    id: model,
    async complete(item, sampleIndex, protocol, opts = {}) {
      const req = request(item, sampleIndex, protocol);
      if (logprobs) return withLogprobs(req, opts.signal);
      const reply = await client.chat(req, { signal: opts.signal });
      const choice = reply.choices[0]!;
      return {
        text: joinReasoning(choice.content, choice.reasoning),
        finishReason: choice.finishReason ?? "unknown",
        ...(reply.usage ? { completionTokens: reply.usage.completionTokens } : {}),
      };
    },
    close: () => client.close(),
  };
}
