import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A failure the server plays instead of answering:
 * - `"429"`: rate limited, with `Retry-After` (seconds, see `retryAfter`);
 * - `"500"`, `"503"`: server error with an OpenAI-style error body;
 * - `"400"`: bad request (a non-retryable client error);
 * - `"hang"`: accept the request and never answer (until `close()`);
 * - `"truncate"`: send headers and half of the JSON body, then drop the connection;
 * - `"reset"`: drop the connection at once;
 * - `"bad_json"`: 200 with a body that is not JSON.
 */
export type FaultKind = "429" | "500" | "503" | "400" | "hang" | "truncate" | "reset" | "bad_json";

export interface ChatRequestBody {
  model: string;
  messages: Array<{ role: string; content: string }>;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  n?: number;
  seed?: number;
  stop?: string | string[];
}

/** Body of `POST /v1/embeddings`, as validated by the server (`input` always an array). */
export interface EmbeddingRequestBody {
  model: string;
  input: string[];
  dimensions?: number;
  encoding_format?: string;
}

/** Produces the vector of one input text. @default deterministic {@link fakeEmbedding} */
export type EmbeddingHandler = (text: string, req: EmbeddingRequestBody) => number[] | Promise<number[]>;

/**
 * Deterministic unnormalized vector for a text: signed counts of hashed character trigrams,
 * so texts sharing many trigrams get similar vectors (tests can check neighbours).
 */
export function fakeEmbedding(text: string, dim = 16): number[] {
  const v = new Array<number>(dim).fill(0);
  const padded = ` ${text.toLowerCase()} `;
  for (let i = 0; i + 3 <= padded.length; i++) {
    let h = 2166136261;
    for (let j = i; j < i + 3; j++) h = Math.imul(h ^ padded.charCodeAt(j), 16777619);
    h >>>= 0;
    v[h % dim] = (v[h % dim] ?? 0) + (h & 0x80000000 ? -1 : 1);
  }
  // Never all zero: a constant component keeps every vector normalizable.
  v[0] = (v[0] ?? 0) + 0.5;
  return v;
}

/** A reply: its text, or the text with a finish reason (`"stop"` when not given). */
export type ChatReply = string | { content: string; finishReason?: string };

/**
 * Produces the assistant replies. An array gives one choice per element; a single reply
 * with `n > 1` makes the handler run `n` times.
 */
export type ChatHandler = (req: ChatRequestBody) => ChatReply | ChatReply[] | Promise<ChatReply | ChatReply[]>;

export interface OpenAIServerOptions {
  /** Replies to chat and completion requests. @default echo of the last message */
  handler?: ChatHandler;
  /** Faults played one per generation request, in arrival order, before serving normally. */
  faults?: FaultKind[];
  /**
   * Fault for a request; `attempt` is 1-based and counts requests with an identical body,
   * so "fail the first try of every prompt" does not depend on arrival order.
   * Consulted after `faults` is used up.
   */
  faultFor?: (req: ChatRequestBody, attempt: number) => FaultKind | undefined;
  /** `Retry-After` header value for `"429"` faults, in seconds. @default "0" */
  retryAfter?: string;
  /** Vectors for `POST /v1/embeddings`. @default fakeEmbedding(text, dimensions ?? embeddingDim) */
  embed?: EmbeddingHandler;
  /** Length of the default embedding vectors when the request names no `dimensions`. @default 16 */
  embeddingDim?: number;
  /** Send `data` in reverse order (clients must sort by `index`). @default false */
  reverseEmbeddings?: boolean;
  /** Like `faultFor`, for embedding requests (`faults` applies to them too, in arrival order). */
  embeddingFaultFor?: (req: EmbeddingRequestBody, attempt: number) => FaultKind | undefined;
  /** Model ids listed by `GET /v1/models`. @default ["test-model"] */
  models?: string[];
  /**
   * Latency of every generation request (chat, completion, embeddings), in ms, before its reply or fault: a slow
   * replica. `GET /v1/models` answers at once. @default 0
   */
  delayMs?: number;
}

export interface OpenAIServer {
  /** Base URL ending in `/v1`. */
  url: string;
  /** Every request received, faulted ones included; `body` is parsed JSON, or the raw text when it is not JSON. */
  requests: Array<{ path: string; body: unknown; headers: IncomingHttpHeaders }>;
  /** Requests being handled right now. */
  readonly inFlight: number;
  /** Most requests handled at the same time since start. */
  readonly maxInFlight: number;
  /**
   * `true`: the server acts dead while still holding its port: open connections are dropped and new ones reset at
   * once (`ECONNRESET`), `/v1/models` included. `false`: serves again. For health-check and failover tests.
   */
  setDown(down: boolean): void;
  /** Stops the server, destroying open (including hung) connections. */
  close(): Promise<void>;
}

class BadRequest extends Error {
  constructor(
    message: string,
    readonly param: string | null,
  ) {
    super(message);
  }
}

const echoHandler: ChatHandler = (req) => req.messages.at(-1)?.content ?? "";

/**
 * A local server speaking the OpenAI HTTP protocol (`/v1/models`, `/v1/chat/completions`,
 * `/v1/completions`, `/v1/embeddings`) on 127.0.0.1 and a free port, with scripted faults, so clients can be
 * tested for retries, timeouts and concurrency without a model.
 */
export async function startOpenAIServer(opts: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const handler = opts.handler ?? echoHandler;
  const faults = [...(opts.faults ?? [])];
  const models = opts.models ?? ["test-model"];
  const seenBodies = new Map<string, number>();
  const requests: OpenAIServer["requests"] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let maxInFlight = 0;
  let nextId = 0;
  let down = false;

  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        inFlight--;
      }
    };
    res.on("close", finish);
    serve(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, error instanceof Error ? error.message : String(error), "server_error");
      else res.destroy();
    });
  });
  server.on("connection", (socket) => {
    if (down) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const text = await readBody(req);
    let body: unknown = text;
    let parsed = false;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
        parsed = true;
      } catch {
        // kept as raw text in `requests`
      }
    }
    requests.push({ path, body, headers: req.headers });

    if (req.method === "GET" && path === "/v1/models") {
      sendJson(res, 200, { object: "list", data: models.map((id) => ({ id, object: "model", created: 0, owned_by: "test-utils" })) });
      return;
    }
    const kind = path === "/v1/chat/completions" ? "chat" : path === "/v1/completions" ? "completion" : path === "/v1/embeddings" ? "embeddings" : undefined;
    if (!kind) {
      sendError(res, 404, `Unknown route ${req.method} ${path}`, "invalid_request_error", null, "not_found");
      return;
    }
    if (req.method !== "POST") {
      sendError(res, 405, `Method ${req.method} not allowed on ${path}`, "invalid_request_error");
      return;
    }
    if (!parsed) {
      sendError(res, 400, "Request body is not valid JSON", "invalid_request_error");
      return;
    }

    if (opts.delayMs) await new Promise((resolve) => setTimeout(resolve, opts.delayMs));
    if (kind === "embeddings") {
      await serveEmbeddings(body, text, res);
      return;
    }

    const chat = admit(kind === "chat" ? validateChat : completionToChat, body, text, res, opts.faultFor);
    if (!chat) return;

    const n = chat.n ?? 1;
    let replies = await handler(chat);
    if (!Array.isArray(replies)) {
      const all = [replies];
      for (let i = 1; i < n; i++) all.push((await handler(chat)) as ChatReply);
      replies = all;
    }
    const choices = replies.map((r) => (typeof r === "string" ? { content: r, finishReason: "stop" } : { content: r.content, finishReason: r.finishReason ?? "stop" }));
    const promptTokens = countTokens(chat.messages.map((m) => m.content).join(" "));
    const completionTokens = choices.reduce((sum, c) => sum + countTokens(c.content), 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${nextId++}`;
    if (kind === "chat") {
      sendJson(res, 200, {
        id,
        object: "chat.completion",
        created: 0,
        model: chat.model,
        choices: choices.map((c, index) => ({ index, message: { role: "assistant", content: c.content }, finish_reason: c.finishReason, logprobs: null })),
        usage,
      });
    } else {
      sendJson(res, 200, {
        id,
        object: "text_completion",
        created: 0,
        model: chat.model,
        choices: choices.map((c, index) => ({ index, text: c.content, finish_reason: c.finishReason, logprobs: null })),
        usage,
      });
    }
  }

  async function serveEmbeddings(body: unknown, text: string, res: ServerResponse): Promise<void> {
    const req = admit(validateEmbeddings, body, text, res, opts.embeddingFaultFor);
    if (!req) return;
    const dim = req.dimensions ?? opts.embeddingDim ?? 16;
    const data = [];
    for (const [index, input] of req.input.entries()) {
      data.push({ object: "embedding", index, embedding: opts.embed ? await opts.embed(input, req) : fakeEmbedding(input, dim) });
    }
    if (opts.reverseEmbeddings) data.reverse();
    const tokens = req.input.reduce((sum, t) => sum + countTokens(t), 0);
    sendJson(res, 200, { object: "list", data, model: req.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  }

  /**
   * Validates a request (400 on a malformed one), counts the attempt by its raw body and plays
   * the queued or planned fault, if any. Returns the request to serve, or undefined once answered.
   */
  function admit<T>(
    validate: (body: unknown) => T,
    body: unknown,
    text: string,
    res: ServerResponse,
    faultFor: ((req: T, attempt: number) => FaultKind | undefined) | undefined,
  ): T | undefined {
    let req: T;
    try {
      req = validate(body);
    } catch (error) {
      if (!(error instanceof BadRequest)) throw error;
      sendError(res, 400, error.message, "invalid_request_error", error.param);
      return undefined;
    }
    const attempt = (seenBodies.get(text) ?? 0) + 1;
    seenBodies.set(text, attempt);
    const fault = faults.length > 0 ? faults.shift() : faultFor?.(req, attempt);
    if (fault) {
      playFault(fault, res);
      return undefined;
    }
    return req;
  }

  function playFault(fault: FaultKind, res: ServerResponse): void {
    switch (fault) {
      case "429":
        res.setHeader("Retry-After", opts.retryAfter ?? "0");
        sendError(res, 429, "Rate limit reached, retry later", "rate_limit_error", null, "rate_limit_exceeded");
        return;
      case "500":
        sendError(res, 500, "The server had an error while processing your request", "server_error");
        return;
      case "503":
        sendError(res, 503, "The engine is currently overloaded", "server_error");
        return;
      case "400":
        sendError(res, 400, "Injected bad request", "invalid_request_error");
        return;
      case "hang":
        // Never answered; close() destroys the socket.
        return;
      case "truncate": {
        const full = JSON.stringify({ id: "truncated", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "x".repeat(64) }, finish_reason: "stop" }] });
        res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(full) });
        res.write(full.slice(0, Math.floor(full.length / 2)), () => res.socket?.destroy());
        return;
      }
      case "reset":
        res.socket?.destroy();
        return;
      case "bad_json":
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end("<html>502 Bad Gateway</html>");
        return;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    setDown(value: boolean) {
      down = value;
      if (down) for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string, type: string, param: string | null = null, code: string | null = null): void {
  sendJson(res, status, { error: { message, type, param, code } });
}

function countTokens(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function validateSampling(body: Record<string, unknown>): Omit<ChatRequestBody, "model" | "messages"> {
  const out: Omit<ChatRequestBody, "model" | "messages"> = {};
  const number = (name: "temperature" | "top_p", min: number, max: number) => {
    const v = body[name];
    if (v === undefined || v === null) return;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) throw new BadRequest(`'${name}' must be a number in [${min}, ${max}]`, name);
    out[name] = v;
  };
  const integer = (name: "max_tokens" | "n" | "seed", min: number) => {
    const v = body[name];
    if (v === undefined || v === null) return;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new BadRequest(`'${name}' must be an integer >= ${min}`, name);
    out[name] = v;
  };
  number("temperature", 0, 2);
  number("top_p", 0, 1);
  integer("max_tokens", 1);
  integer("n", 1);
  integer("seed", Number.MIN_SAFE_INTEGER);
  const stop = body.stop;
  if (stop !== undefined && stop !== null) {
    if (typeof stop !== "string" && !(Array.isArray(stop) && stop.every((s) => typeof s === "string"))) throw new BadRequest("'stop' must be a string or an array of strings", "stop");
    out.stop = stop;
  }
  return out;
}

function validateModel(body: Record<string, unknown>): string {
  if (typeof body.model !== "string" || body.model.length === 0) throw new BadRequest("you must provide a model parameter", "model");
  return body.model;
}

function validateChat(body: unknown): ChatRequestBody {
  if (!isRecord(body)) throw new BadRequest("Request body must be a JSON object", null);
  const model = validateModel(body);
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new BadRequest("'messages' must be a non-empty array", "messages");
  messages.forEach((m, i) => {
    if (!isRecord(m) || typeof m.role !== "string" || typeof m.content !== "string") {
      throw new BadRequest(`'messages.${i}' must be an object with string 'role' and 'content'`, `messages.${i}`);
    }
  });
  return { model, messages: messages as ChatRequestBody["messages"], ...validateSampling(body) };
}

function completionToChat(body: unknown): ChatRequestBody {
  if (!isRecord(body)) throw new BadRequest("Request body must be a JSON object", null);
  const model = validateModel(body);
  const prompt = body.prompt;
  if (typeof prompt !== "string") throw new BadRequest("'prompt' must be a string", "prompt");
  return { model, messages: [{ role: "user", content: prompt }], ...validateSampling(body) };
}

function validateEmbeddings(body: unknown): EmbeddingRequestBody {
  if (!isRecord(body)) throw new BadRequest("Request body must be a JSON object", null);
  const model = validateModel(body);
  const raw = body.input;
  const input = typeof raw === "string" ? [raw] : raw;
  if (!Array.isArray(input) || input.length === 0 || !input.every((t) => typeof t === "string")) {
    throw new BadRequest("'input' must be a string or a non-empty array of strings", "input");
  }
  if (input.some((t) => t.length === 0)) throw new BadRequest("'input' must not contain empty strings", "input");
  const out: EmbeddingRequestBody = { model, input };
  const { dimensions, encoding_format } = body;
  if (dimensions !== undefined && dimensions !== null) {
    if (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1) throw new BadRequest("'dimensions' must be an integer >= 1", "dimensions");
    out.dimensions = dimensions;
  }
  if (encoding_format !== undefined && encoding_format !== null) {
    if (encoding_format !== "float") throw new BadRequest("'encoding_format' must be \"float\" (base64 is not supported here)", "encoding_format");
    out.encoding_format = encoding_format;
  }
  return out;
}
