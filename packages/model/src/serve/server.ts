// An OpenAI-compatible HTTP server (the subset vLLM serves: /v1/models, /v1/completions, /v1/chat/completions, /health)
// for a local DecodeModel, so teacher generation, judging, rollouts and evaluation use one client for local and remote
// models. Hand-written on node:http: three routes and SSE need no framework, and none is a dependency of this package.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ChatTemplateMessage } from "@infialign/data";
import type { DecodeModel, GeneratedSample, GenerateFn, GenerationRequest, ModelTokenizer } from "../engine.js";
import { ModelError } from "../errors.js";
import { generate, resolveSampling } from "../generate/generate.js";
import { ApiError } from "./apiError.js";
import { Batcher, type JobQueue } from "./batcher.js";
import { ContinuousBatcher } from "./continuousBatcher.js";
import { encodeWithinBudget } from "./promptBudget.js";
import { type ChatCompletionRequest, ChatCompletionRequestSchema, type CompletionRequest, CompletionRequestSchema, parseRequest, rejectUnsupported } from "./requestSchemas.js";
import { TextStreamer } from "./textStreamer.js";

export interface ServerOptions {
  model: DecodeModel;
  tokenizer: ModelTokenizer;
  /** The id `/v1/models` lists; a request naming another model gets 404 `model_not_found`. */
  modelId: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** 0 = an ephemeral port (see the returned `url`). @default 8000 */
  port?: number;
  /**
   * How requests share the model. `"continuous"` (vLLM's scheduling): a request joins the running batch at the next
   * decode step and each finished row leaves it at once; needs `model.mergeCaches` (both engines have it). `"static"`:
   * requests that arrive during a generation call wait for it to end and are merged into the next call of `generateFn`.
   * @default "continuous", or "static" when `generateFn` is given or the model has no `mergeCaches`
   */
  batching?: BatchingMode;
  /** Generates each merged batch of static batching. @default generate (src/generate/generate.ts) */
  generateFn?: GenerateFn;
  /** Most rows (prompts × n) decoded together (static: merged into one generation call). @default 16 */
  maxBatchSize?: number;
  /** Most requests waiting for a batch; beyond it requests get 429. @default 256 */
  maxQueue?: number;
  /** Largest request body in bytes; larger bodies get 413. @default 4 MiB */
  maxBodyBytes?: number;
  /** Receives one line per answered request and per batch failure. @default no logging */
  log?: (line: string) => void;
  /** Draws the seed of a request without `seed` (OpenAI: unseeded requests differ). @default Math.random */
  random?: () => number;
  /**
   * Sampling defaults for requests that omit `temperature` / `top_p` / `top_k`, e.g. from the checkpoint's
   * generation_config.json (vLLM's `--generation-config auto`; see {@link samplingDefaultsFromGenerationConfig}).
   * @default OpenAI's: temperature 1, top_p 1, no top-k
   */
  defaultSampling?: SamplingDefaults;
}

/** See {@link ServerOptions.batching}. */
export type BatchingMode = "static" | "continuous";

/** Per-server sampling defaults (OpenAI names mapped to SamplingOptions). */
export interface SamplingDefaults {
  /** @default 1 */
  temperature?: number;
  /** @default 1 */
  topP?: number;
  /** 0 = no top-k. @default 0 */
  topK?: number;
}

/**
 * The sampling defaults of a Hugging Face generation_config.json, as vLLM reads them: `temperature`, `top_p`, `top_k`
 * (only when `do_sample` is not false: transformers ignores them for greedy decoding, so then temperature is 0).
 * Fields this server cannot apply (e.g. `repetition_penalty`) are returned in `ignored`, for a log line.
 */
export function samplingDefaultsFromGenerationConfig(config: Record<string, unknown> | undefined): { defaults: SamplingDefaults; ignored: string[] } {
  if (!config) return { defaults: {}, ignored: [] };
  const num = (key: string) => (typeof config[key] === "number" && Number.isFinite(config[key]) ? (config[key] as number) : undefined);
  const ignored = ["repetition_penalty", "presence_penalty", "frequency_penalty", "min_p"].filter((k) => num(k) !== undefined && num(k) !== (k === "repetition_penalty" ? 1 : 0));
  if (config.do_sample === false) return { defaults: { temperature: 0 }, ignored };
  const defaults: SamplingDefaults = {};
  const temperature = num("temperature");
  const topP = num("top_p");
  const topK = num("top_k");
  if (temperature !== undefined && temperature >= 0) defaults.temperature = temperature;
  if (topP !== undefined && topP > 0 && topP <= 1) defaults.topP = topP;
  if (topK !== undefined && Number.isInteger(topK) && topK >= 0) defaults.topK = topK;
  return { defaults, ignored };
}

export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8000`; the API is under `${url}/v1`. */
  url: string;
  /** Stops accepting connections, answers waiting requests with 503, aborts the running batch, closes connections. */
  close(): Promise<void>;
}

/** Default `max_tokens` of `/v1/completions` (OpenAI's and vLLM's); chat defaults to the rest of the context. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;
/** vLLM clamps -inf log-probs to this, since JSON has no infinity. */
const MIN_LOGPROB = -9999;

interface Route {
  methods: string[];
  handle: (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => Promise<void>;
}

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { model, tokenizer, modelId } = options;
  const host = options.host ?? "127.0.0.1";
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const log = options.log ?? (() => {});
  const random = options.random ?? Math.random;
  const batcher = createBatcher(options);
  const created = Math.floor(Date.now() / 1000);
  const modelCard = () => ({ id: modelId, object: "model", created, owned_by: "infialign", root: modelId, parent: null, max_model_len: model.maxPositions });

  // Read once now: HfTokenizer derives it from the whole vocabulary (~0.15 s for Qwen2.5), not on the first request.
  void tokenizer.maxBytesPerToken;
  const ctx: HandlerContext = { model, tokenizer, modelId, batcher, random, log, defaults: options.defaultSampling ?? {} };
  const routes: Record<string, Route> = {
    "/health": { methods: ["GET"], handle: async (_req, res) => sendJson(res, 200, {}) },
    "/v1/models": { methods: ["GET"], handle: async (_req, res) => sendJson(res, 200, { object: "list", data: [modelCard()] }) },
    "/v1/completions": { methods: ["POST"], handle: async (req, res, signal) => completions(ctx, parseRequest(CompletionRequestSchema, await readJson(req, maxBodyBytes)), res, signal) },
    "/v1/chat/completions": { methods: ["POST"], handle: async (req, res, signal) => chatCompletions(ctx, parseRequest(ChatCompletionRequestSchema, await readJson(req, maxBodyBytes)), res, signal) },
  };

  const server = createServer((req, res) => {
    const started = Date.now();
    const path = (req.url ?? "/").split("?")[0] as string;
    const controller = new AbortController();
    // A client that goes away before its reply is complete cancels its generation (queued or running).
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    res.on("finish", () => log(`${req.method} ${path} ${res.statusCode} ${Date.now() - started} ms`));
    const handle = async () => {
      const route = routes[path] ?? (path.startsWith("/v1/models/") ? modelRoute(decodePathSegment(path.slice("/v1/models/".length))) : undefined);
      if (!route) throw new ApiError(404, `Not found: ${req.method} ${path}. This server serves GET /v1/models, POST /v1/completions, POST /v1/chat/completions.`);
      if (!route.methods.includes(req.method ?? "")) {
        res.setHeader("allow", route.methods.join(", "));
        throw new ApiError(405, `Method ${req.method} is not allowed on ${path}; use ${route.methods.join(" or ")}.`);
      }
      await route.handle(req, res, controller.signal);
    };
    handle().catch((error: unknown) => {
      const apiError = toApiError(error);
      if (apiError.status >= 500) log(`${req.method} ${path} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (res.headersSent) {
        // Mid-stream: vLLM sends the error as one more SSE event, then ends the stream.
        if (!res.writableEnded && !res.destroyed) res.end(`data: ${JSON.stringify(apiError.toBody())}\n\ndata: [DONE]\n\n`);
      } else if (!res.destroyed) {
        sendJson(res, apiError.status, apiError.toBody());
      }
    });
  });

  function modelRoute(id: string): Route {
    return {
      methods: ["GET"],
      handle: async (_req, res) => {
        if (id !== modelId) throw modelNotFound(id);
        sendJson(res, 200, modelCard());
      },
    };
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8000, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () => {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await batcher.close();
        // Let the handlers of the requests just rejected write their 503s before the sockets go.
        await new Promise((resolve) => setImmediate(resolve));
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

/** The batcher of `options.batching` (see {@link ServerOptions.batching} for the default). */
function createBatcher(options: ServerOptions): JobQueue {
  const { model, tokenizer, generateFn } = options;
  const batching = options.batching ?? (generateFn === undefined && model.mergeCaches !== undefined ? "continuous" : "static");
  if (batching === "continuous") {
    if (generateFn !== undefined) throw new ModelError("serve", 'batching "continuous" steps the model itself and cannot call generateFn; pass batching: "static" to use a generateFn.');
    // The batcher yields a macrotask before each of its iterations (see yieldingModel for why).
    return new ContinuousBatcher({ model, tokenizer, maxBatchSize: options.maxBatchSize, maxQueue: options.maxQueue });
  }
  if (batching !== "static") throw new ModelError("serve", `batching must be "static" or "continuous", got ${JSON.stringify(batching)}.`);
  const run = generateFn ?? generate;
  return new Batcher({
    run: (requests, generateOptions) => run(yieldingModel(model), tokenizer, requests, generateOptions),
    maxBatchSize: options.maxBatchSize,
    maxQueue: options.maxQueue,
  });
}

/**
 * `model` with a macrotask turn before every step. tfjs steps on the cpu and wasm backends finish without returning to
 * the event loop, so a whole generation would otherwise run as one task: no request could be read (and queued for the
 * next batch), no SSE chunk flushed and no disconnect noticed until it ended. A turn costs microseconds per step.
 */
function yieldingModel(model: DecodeModel): DecodeModel {
  return {
    vocabSize: model.vocabSize,
    maxPositions: model.maxPositions,
    step: async (input) => {
      await new Promise((resolve) => setImmediate(resolve));
      return model.step(input);
    },
    selectRows: (cache, rows) => model.selectRows(cache, rows),
  };
}

interface HandlerContext {
  model: DecodeModel;
  tokenizer: ModelTokenizer;
  modelId: string;
  batcher: JobQueue;
  random: () => number;
  log: (line: string) => void;
  defaults: SamplingDefaults;
}

/** What both endpoints share once their prompts are tokenised. */
interface Prepared {
  requests: GenerationRequest[];
  promptTokens: number;
  stream: boolean;
  includeUsage: boolean;
}

async function completions(ctx: HandlerContext, body: CompletionRequest, res: ServerResponse, signal: AbortSignal): Promise<void> {
  rejectUnsupported(body);
  checkModel(ctx, body.model);
  const maxTokens = body.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS;
  const p = body.prompt;
  const texts = typeof p === "string" ? [p] : typeof p[0] === "string" ? (p as string[]) : undefined;
  const prompts: number[][] = [];
  if (texts) {
    for (const [i, text] of texts.entries()) prompts.push(await encodePrompt(ctx, text, maxTokens, texts.length > 1 ? `prompt.${i}` : "prompt", "prompt"));
  } else {
    prompts.push(...(typeof p[0] === "number" ? [p as number[]] : (p as number[][])));
  }
  const topLogprobs = body.logprobs ?? undefined;
  const prepared = prepare(ctx, body, prompts, "prompt", maxTokens, topLogprobs);
  const id = `cmpl-${randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  const head = { id, object: "text_completion", created, model: ctx.modelId };
  const n = body.n ?? 1;

  if (prepared.stream) {
    await stream(ctx, prepared, res, signal, {
      usageHead: head,
      start: () => [],
      piece: (index, text) => ({ ...head, choices: [{ index, text, logprobs: null, finish_reason: null }] }),
      end: (index, text, finishReason) => ({ ...head, choices: [{ index, text, logprobs: null, finish_reason: finishReason }] }),
    });
    return;
  }
  const results = await ctx.batcher.submit({ requests: prepared.requests, signal });
  const choices = results.flatMap((samples, i) =>
    samples.map((s, j) => ({
      index: i * n + j,
      text: s.text,
      logprobs: topLogprobs === undefined ? null : completionLogprobs(ctx.tokenizer, s, topLogprobs),
      finish_reason: s.finishReason,
    })),
  );
  sendJson(res, 200, { ...head, choices, usage: usage(prepared.promptTokens, results) });
}

async function chatCompletions(ctx: HandlerContext, body: ChatCompletionRequest, res: ServerResponse, signal: AbortSignal): Promise<void> {
  rejectUnsupported(body);
  checkModel(ctx, body.model);
  const messages: ChatTemplateMessage[] = body.messages.map((m, i) => {
    const { content, ...rest } = m;
    if (content == null || typeof content === "string") return { ...rest, role: m.role, content: content ?? "" };
    const text = content.map((part, k) => {
      if (part.type !== "text" || typeof part.text !== "string") {
        throw new ApiError(400, `messages.${i}.content.${k}: content part type "${part.type}" is not supported; send text parts only.`, `messages.${i}.content`);
      }
      return part.text;
    });
    return { ...rest, role: m.role, content: text.join("") };
  });
  const chatTemplateFailed = (error: unknown) =>
    new ApiError(400, `messages: the chat template failed: ${error instanceof Error ? error.message : String(error)}`, "messages", null, { cause: error });
  const requestedMaxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  let promptIds: number[];
  if (ctx.tokenizer.renderChat) {
    let text: string;
    try {
      text = ctx.tokenizer.renderChat(messages, { addGenerationPrompt: true });
    } catch (error) {
      throw chatTemplateFailed(error);
    }
    promptIds = await encodePrompt(ctx, text, requestedMaxTokens ?? 1, "messages", "messages");
  } else {
    try {
      promptIds = ctx.tokenizer.encodeChat(messages, { addGenerationPrompt: true });
    } catch (error) {
      throw chatTemplateFailed(error);
    }
  }
  const maxTokens = requestedMaxTokens ?? Math.max(1, ctx.model.maxPositions - promptIds.length);
  const topLogprobs = body.logprobs ? (body.top_logprobs ?? 0) : undefined;
  if (!body.logprobs && body.top_logprobs) throw new ApiError(400, "top_logprobs: set logprobs to true to use top_logprobs.", "top_logprobs");
  const prepared = prepare(ctx, body, [promptIds], "messages", maxTokens, topLogprobs);
  const id = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  const head = { id, object: "chat.completion.chunk", created, model: ctx.modelId };

  if (prepared.stream) {
    await stream(ctx, prepared, res, signal, {
      usageHead: head,
      start: (index) => [{ ...head, choices: [{ index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] }],
      piece: (index, text) => ({ ...head, choices: [{ index, delta: { content: text }, logprobs: null, finish_reason: null }] }),
      end: (index, text, finishReason) => ({ ...head, choices: [{ index, delta: text ? { content: text } : {}, logprobs: null, finish_reason: finishReason }] }),
    });
    return;
  }
  const results = await ctx.batcher.submit({ requests: prepared.requests, signal });
  const choices = (results[0] ?? []).map((s, index) => ({
    index,
    // `refusal` is required (nullable) in OpenAI's ChatCompletionMessage and Choice.Logprobs; this server never refuses.
    message: { role: "assistant", content: s.text, refusal: null },
    logprobs: topLogprobs === undefined ? null : { content: chatLogprobs(ctx.tokenizer, s, topLogprobs), refusal: null },
    finish_reason: s.finishReason,
  }));
  sendJson(res, 200, { ...head, object: "chat.completion", choices, usage: usage(prepared.promptTokens, results) });
}

/**
 * Tokenises a prompt text, refusing one that cannot leave `maxTokens` of the context for the completion before
 * tokenising all of it (see encodeWithinBudget).
 */
async function encodePrompt(ctx: HandlerContext, text: string, maxTokens: number, where: string, promptParam: string): Promise<number[]> {
  const fit = await encodeWithinBudget(ctx.tokenizer, text, ctx.model.maxPositions - maxTokens);
  if ("atLeast" in fit) throw contextLengthExceeded(ctx.model, fit.atLeast, maxTokens, promptParam, "at least ", where);
  return fit.ids;
}

function contextLengthExceeded(model: DecodeModel, promptTokens: number, maxTokens: number, promptParam: string, atLeast: "" | "at least ", where = promptParam): ApiError {
  const what = promptParam === "messages" ? "messages" : "prompt";
  return new ApiError(
    400,
    `This model's maximum context length is ${model.maxPositions} tokens. However, you requested ${atLeast}${promptTokens + maxTokens} tokens (${atLeast}${promptTokens} in the ${where === promptParam ? what : where}, ${maxTokens} in the completion). Please reduce the length of the ${promptParam} or completion.`,
    promptParam,
    "context_length_exceeded",
  );
}

/** Maps the OpenAI fields onto one GenerationRequest per prompt and checks each against the model before queueing. */
function prepare(ctx: HandlerContext, body: CompletionRequest | ChatCompletionRequest, prompts: number[][], promptParam: string, maxTokens: number, topLogprobs: number | undefined): Prepared {
  const { model, tokenizer } = ctx;
  // OpenAI samples unseeded requests differently each time; generate() would default every one to seed 0.
  const seed = body.seed == null ? Math.floor(ctx.random() * 2 ** 32) : ((body.seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
  const stop = body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : body.stop;
  const requests = prompts.map((promptIds, i): GenerationRequest => {
    const where = prompts.length > 1 ? `${promptParam}.${i}` : promptParam;
    if (promptIds.length === 0) throw new ApiError(400, `${where}: the prompt is empty; send at least one token.`, promptParam);
    const bad = promptIds.find((t) => t >= model.vocabSize);
    if (bad !== undefined) throw new ApiError(400, `${where}: token id ${bad} is outside the model's vocabulary (0–${model.vocabSize - 1}).`, promptParam);
    if (promptIds.length + maxTokens > model.maxPositions) throw contextLengthExceeded(model, promptIds.length, maxTokens, promptParam, "");
    const request: GenerationRequest = {
      promptIds,
      n: body.n ?? 1,
      temperature: body.temperature ?? ctx.defaults.temperature ?? 1,
      topP: body.top_p ?? ctx.defaults.topP ?? 1,
      topK: body.top_k == null ? (ctx.defaults.topK ?? 0) : Math.max(0, body.top_k),
      seed,
      maxNewTokens: maxTokens,
      stop,
      topLogprobs: topLogprobs ?? 0,
    };
    if (body.stop_token_ids?.length) request.stopTokenIds = [...tokenizer.eosTokenIds, ...body.stop_token_ids];
    try {
      resolveSampling(request, i, model, tokenizer);
    } catch (error) {
      if (error instanceof ModelError) throw new ApiError(400, error.message, null, null, { cause: error });
      throw error;
    }
    return request;
  });
  return {
    requests,
    promptTokens: prompts.reduce((sum, ids) => sum + ids.length, 0),
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
  };
}

interface ChunkShapes {
  usageHead: Record<string, unknown>;
  /** Events sent for choice `index` before any text (chat: the role delta). */
  start: (index: number) => unknown[];
  piece: (index: number, text: string) => unknown;
  end: (index: number, text: string, finishReason: string) => unknown;
}

/** Server-sent events as OpenAI and vLLM send them: one `data: {chunk}` per piece, then `data: [DONE]`. */
async function stream(ctx: HandlerContext, prepared: Prepared, res: ServerResponse, signal: AbortSignal, shapes: ChunkShapes): Promise<void> {
  const n = prepared.requests[0]?.n ?? 1;
  const streamers = prepared.requests.map((r) => Array.from({ length: n }, () => new TextStreamer(ctx.tokenizer, r.stop ?? [], r.stopTokenIds ?? ctx.tokenizer.eosTokenIds)));
  const send = (chunk: unknown) => {
    if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(prepared.includeUsage ? { ...(chunk as object), usage: null } : chunk)}\n\n`);
  };
  const onToken = (i: number, j: number, tokenId: number) => {
    const piece = streamers[i]?.[j]?.push(tokenId);
    if (piece) send(shapes.piece(i * n + j, piece));
  };
  // Queue first: a full queue still gets a real 429 status instead of a 200 stream.
  const results = ctx.batcher.submit({ requests: prepared.requests, onToken, signal });
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
  for (let index = 0; index < prepared.requests.length * n; index++) for (const chunk of shapes.start(index)) send(chunk);
  const samples = await results;
  samples.forEach((row, i) => {
    row.forEach((s, j) => {
      const rest = streamers[i]?.[j]?.finish(s.text) ?? "";
      send(shapes.end(i * n + j, rest, s.finishReason));
    });
  });
  if (prepared.includeUsage) res.write(`data: ${JSON.stringify({ ...shapes.usageHead, choices: [], usage: usage(prepared.promptTokens, samples) })}\n\n`);
  res.end("data: [DONE]\n\n");
}

function checkModel(ctx: HandlerContext, model: string): void {
  if (model !== ctx.modelId) throw modelNotFound(model);
}

function modelNotFound(model: string): ApiError {
  return new ApiError(404, `The model \`${model}\` does not exist.`, "model", "model_not_found");
}

function usage(promptTokens: number, results: GeneratedSample[][]) {
  const completionTokens = results.reduce((sum, row) => sum + row.reduce((s, x) => s + x.tokenIds.length, 0), 0);
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

const clampLogprob = (x: number) => (Number.isFinite(x) ? x : MIN_LOGPROB);
const tokenText = (tokenizer: ModelTokenizer, id: number) => tokenizer.decode([id]);

/** Legacy completions log-probs: parallel arrays, `top_logprobs` a {token: logprob} map holding the sampled token too. */
function completionLogprobs(tokenizer: ModelTokenizer, s: GeneratedSample, top: number) {
  const tokens = s.tokenIds.map((id) => tokenText(tokenizer, id));
  const textOffset: number[] = [];
  let offset = 0;
  for (const t of tokens) {
    textOffset.push(offset);
    offset += t.length;
  }
  return {
    tokens,
    token_logprobs: s.logprobs.map(clampLogprob),
    top_logprobs: tokens.map((token, k) => {
      const entries: Record<string, number> = {};
      for (const alt of (s.topLogprobs?.[k] ?? []).slice(0, top)) entries[tokenText(tokenizer, alt.tokenId)] ??= clampLogprob(alt.logprob);
      entries[token] ??= clampLogprob(s.logprobs[k] ?? MIN_LOGPROB);
      return entries;
    }),
    text_offset: textOffset,
  };
}

/**
 * Chat log-probs: one entry per token with its raw bytes and `top` alternatives. A token holding part of a multi-byte
 * character decodes to U+FFFD, so its bytes come from the tokenizer's vocabulary (`tokenBytes`), never from its text:
 * the bytes of a completion's tokens, concatenated, are the UTF-8 of the completion.
 */
function chatLogprobs(tokenizer: ModelTokenizer, s: GeneratedSample, top: number) {
  const entry = (id: number, logprob: number) => {
    const token = tokenText(tokenizer, id);
    return { token, logprob: clampLogprob(logprob), bytes: [...(tokenizer.tokenBytes?.(id) ?? Buffer.from(token, "utf8"))] };
  };
  return s.tokenIds.map((id, k) => ({
    ...entry(id, s.logprobs[k] ?? MIN_LOGPROB),
    top_logprobs: (s.topLogprobs?.[k] ?? []).slice(0, top).map((alt) => entry(alt.tokenId, alt.logprob)),
  }));
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ModelError) return new ApiError(500, error.message, null, null, { cause: error });
  return new ApiError(500, `Internal server error: ${error instanceof Error ? error.message : String(error)}`, null, null, { cause: error });
}

/** Reads and parses a JSON body of at most `limit` bytes (413 beyond it, 400 when it is not JSON). */
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) throw bodyTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw bodyTooLarge(limit);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, `The request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, null, null, { cause: error });
  }
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (error) {
    throw new ApiError(400, `The path segment "${segment}" is not valid percent-encoding.`, null, null, { cause: error });
  }
}

function bodyTooLarge(limit: number): ApiError {
  return new ApiError(413, `The request body is larger than the server's limit of ${limit} bytes.`);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
