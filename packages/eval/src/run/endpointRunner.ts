import { type ChatRequest, jsonHeaders, type Message, OpenAIChatClient, RequestFailure } from "@infialign/data";
import { z } from "zod";
import type { EvalItem, Protocol } from "../types.js";
import type { EvalRunner, RunnerCompletion } from "./runner.js";

export interface EndpointRunnerOptions {
  /**
   * Base URL of an OpenAI-compatible server, ending in `/v1` (vLLM, SGLang, Ollama, llama.cpp, infialign-serve), or
   * the base URLs of several servers of the same model: a fleet, through @infialign/data's client (least-loaded
   * routing, health checks, failover on connection errors and 5xx). Samples do not depend on which server answered.
   */
  baseUrl: string | readonly string[];
  /** Model name sent with every request. */
  model: string;
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string;
  /** Time allowed per HTTP attempt, in ms; long because a non-streamed 32k-token reply arrives only when done. @default 600_000 */
  timeoutMs?: number;
  /** Retries after the first attempt (429, 5xx, timeouts, dropped connections). @default 5 */
  maxRetries?: number;
  /** Ask for per-token log-probs (`logprobs: true`) and store them with each sample, for KL in comparisons. @default false */
  logprobs?: boolean;
  /** Most HTTP requests in flight, per server; `runEvaluation`'s `concurrency` usually binds first. @default 64 */
  maxConnections?: number;
  /** Waits between retries (tests pass one that returns at once). @default timers/promises setTimeout */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Tokens the served model attends to, prompt and completion together. When unset it is read once from
   * `GET <baseUrl>/models` (the first server of a fleet to answer): the entry of `model` (else the only entry), field
   * `max_model_len` (vLLM, infialign-serve).
   * When known, each request's `max_tokens` is clamped so the prompt fits too (see `endpointRunner`); when unknown,
   * `max_tokens` is sent as the protocol says.
   */
  contextLength?: number;
  /** Told once when `max_tokens` is clamped, or when the context length cannot be read. @default writes to stderr */
  warn?: (message: string) => void;
}

const LABEL = "[infialign/eval] endpoint-runner";

/** Fixed prompt overhead of a chat template (system header, generation prompt), in tokens, for the estimate. */
const TEMPLATE_TOKENS = 64;
/** Role markers around one message, in tokens, for the estimate. */
const MESSAGE_TOKENS = 8;

/**
 * An upper estimate of a chat prompt's tokens without its tokenizer: UTF-8 bytes of every message (a byte-level BPE or
 * SentencePiece token spans at least one byte) plus 8 tokens per message and 64 for the template.
 */
export function estimatePromptTokens(messages: readonly { content: string }[]): number {
  let bytes = 0;
  for (const m of messages) bytes += Buffer.byteLength(m.content, "utf8");
  return bytes + MESSAGE_TOKENS * messages.length + TEMPLATE_TOKENS;
}

const ModelsSchema = z.object({ data: z.array(z.object({ id: z.string(), max_model_len: z.number().int().positive().nullish() }).passthrough()) });

const UsageReplySchema = z.object({ choices: z.array(z.unknown()), usage: z.object({ prompt_tokens: z.number().int().nonnegative() }).nullish() });

/** Whether a choice carries a reply: text in `content`, or reasoning sent apart (a reply cut off while thinking). */
function hasReply(message: { content?: string | null; reasoning_content?: string | null; reasoning?: string | null }): boolean {
  return typeof message.content === "string" || !!(message.reasoning_content ?? message.reasoning);
}

const LogprobReplySchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullish(), reasoning_content: z.string().nullish(), reasoning: z.string().nullish() }).refine(hasReply, { message: "content is null and there is no reasoning" }),
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
 *
 * A reply without content (`content: null` and no reasoning) is malformed: retried like a failed request, then
 * reported, never returned as an empty completion.
 *
 * Context clamp: when the context length C is known (`contextLength`, else `/models`), an item whose
 * `estimatePromptTokens` P̂ and `protocol.maxTokens` M exceed it (P̂ + M > C) is sent
 * `max_tokens = min(M, C − P)`, where P is the prompt's tokens as the server counts them (`usage.prompt_tokens` of one
 * 1-token request per item), or P̂ when the server reports no usage. P depends only on the prompt, so a resumed run
 * sends what the first did. A prompt that leaves no room is an error.
 */
/** Per-server counters of the runner's client (requests, failures, mean latency, in flight, health). */
export type EndpointRunnerStats = ReturnType<OpenAIChatClient["endpointStats"]>;

export function endpointRunner(options: EndpointRunnerOptions): EvalRunner & { endpointStats(): EndpointRunnerStats } {
  const { model, apiKey, logprobs = false } = options;
  const baseUrls = typeof options.baseUrl === "string" ? [options.baseUrl] : [...options.baseUrl];
  const timeoutMs = options.timeoutMs ?? 600_000;
  const maxRetries = options.maxRetries ?? 5;
  const concurrency = options.maxConnections ?? 64;
  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  const bad = [
    !Number.isInteger(maxRetries) || maxRetries < 0 ? `maxRetries must be an integer ≥ 0, got ${maxRetries}` : "",
    !(timeoutMs > 0) ? `timeoutMs must be positive, got ${timeoutMs}` : "",
    !Number.isInteger(concurrency) || concurrency < 1 ? `maxConnections must be an integer ≥ 1, got ${concurrency}` : "",
    options.contextLength !== undefined && (!Number.isInteger(options.contextLength) || options.contextLength < 2) ? `contextLength must be an integer ≥ 2, got ${options.contextLength}` : "",
    baseUrls.length === 0 ? "baseUrl lists no server" : "",
  ].filter(Boolean);
  if (bad.length) throw new Error(`${LABEL}: invalid options: ${bad.join("; ")}`);
  const servers = baseUrls.length === 1 ? { baseURL: baseUrls[0]! } : { endpoints: baseUrls };
  const client = new OpenAIChatClient({ ...servers, model, apiKey, timeoutMs, maxRetries, concurrency, sleep: options.sleep, label: LABEL });
  const messagesOf = (item: EvalItem) => item.messages.map((m) => ({ role: m.role, content: m.content })) as Message[];
  const request = (item: EvalItem, sampleIndex: number, protocol: Protocol, maxTokens: number): ChatRequest => ({
    messages: messagesOf(item),
    temperature: protocol.temperature,
    top_p: protocol.topP,
    max_tokens: maxTokens,
    seed: protocol.seed + sampleIndex,
  });

  // The client's chat drops `logprobs` and checks `content`, so log-prob requests and prompt counts are posted through
  // the same client (routing, retries, limits) with their own parsers.
  let context: Promise<number | undefined> | undefined;
  const contextLength = () => (context ??= options.contextLength !== undefined ? Promise.resolve(options.contextLength) : readContextLength());

  async function readContextLength(): Promise<number | undefined> {
    const urls = baseUrls.map((u) => `${u.replace(/\/+$/, "")}/models`);
    // Every server of a fleet serves the same model: the first to answer tells.
    const read = async (url: string) => {
      const res = await fetch(url, { headers: jsonHeaders(apiKey), signal: AbortSignal.timeout(Math.min(timeoutMs, 60_000)) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const parsed = ModelsSchema.safeParse(await res.json());
      if (!parsed.success) throw new Error(`not a model list (${parsed.error.issues[0]?.message})`);
      const entries = parsed.data.data;
      const entry = entries.find((e) => e.id === model) ?? (entries.length === 1 ? entries[0] : undefined);
      return entry?.max_model_len ?? undefined;
    };
    try {
      return await Promise.any(urls.map(read));
    } catch (e) {
      const errors = (e as AggregateError).errors as Error[];
      const where = urls.map((url, i) => `GET ${url} (${errors[i]?.message})`).join(", ");
      warn(`${LABEL}: could not read the context length of model "${model}" from ${where}; max_tokens is sent unclamped. Pass --context-length (contextLength) if requests fail with HTTP 400`);
      return undefined;
    }
  }

  // Prompt tokens per item, as the server counts them (one 1-token request), else the estimate. Only `usage` of that
  // reply is read: its one token may be reasoning a server keeps out of `content`.
  const promptTokens = new Map<string, Promise<number>>();
  function promptTokensOf(item: EvalItem, protocol: Protocol, signal?: AbortSignal): Promise<number> {
    const key = `${item.benchmark}\u0000${item.id}`;
    let p = promptTokens.get(key);
    if (!p) {
      const body = { model, ...request(item, 0, protocol, 1) };
      const parse = (json: unknown, status: number) => {
        const parsed = UsageReplySchema.safeParse(json);
        return parsed.success ? (parsed.data.usage?.prompt_tokens ?? estimatePromptTokens(item.messages)) : new RequestFailure(true, `response is not a chat completion (${parsed.error.issues[0]?.message})`, status);
      };
      p = client.postJson("/chat/completions", body, parse, signal ? { signal } : {}).then((r) => r.value);
      // A failed count (an abort, a server error) is asked again by the next sample.
      p.catch(() => promptTokens.delete(key));
      promptTokens.set(key, p);
    }
    return p;
  }

  let warnedClamp = false;
  async function maxTokensFor(item: EvalItem, protocol: Protocol, signal?: AbortSignal): Promise<number> {
    const limit = await contextLength();
    const wanted = protocol.maxTokens;
    if (limit === undefined || estimatePromptTokens(item.messages) + wanted <= limit) return wanted;
    const prompt = await promptTokensOf(item, protocol, signal);
    const room = limit - prompt;
    if (room < 1) {
      throw new Error(`${LABEL}: the prompt of ${item.benchmark} item "${item.id}" is ${prompt} tokens, which leaves no room for an answer in model "${model}"'s context of ${limit} tokens; serve the model with a longer context (vLLM --max-model-len) or leave the item out`);
    }
    if (room < wanted && !warnedClamp) {
      warnedClamp = true;
      warn(
        `${LABEL}: max_tokens ${wanted} does not fit model "${model}"'s context of ${limit} tokens with the prompt; requests that would overflow ask for context − prompt tokens instead (${item.benchmark} item "${item.id}": ${prompt} prompt tokens, max_tokens ${room}). Answers cut short finish with "length"`,
      );
    }
    return Math.min(wanted, room);
  }

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
    return (await client.postJson("/chat/completions", { model, ...req, logprobs: true }, parse, signal ? { signal } : {})).value;
  }

  return {
    id: model,
    async complete(item, sampleIndex, protocol, opts = {}) {
      const req = request(item, sampleIndex, protocol, await maxTokensFor(item, protocol, opts.signal));
      if (logprobs) return withLogprobs(req, opts.signal);
      const reply = await client.chat(req, { signal: opts.signal });
      const choice = reply.choices[0]!;
      return {
        text: joinReasoning(choice.content, choice.reasoning),
        finishReason: choice.finishReason ?? "unknown",
        ...(reply.usage ? { completionTokens: reply.usage.completionTokens } : {}),
      };
    },
    /** Per-server requests, failures, mean latency and health, for logs. */
    endpointStats: () => client.endpointStats(),
    close: () => client.close(),
  };
}
