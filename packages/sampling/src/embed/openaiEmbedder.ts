import {
  type BackoffConfig,
  DEFAULT_BACKOFF,
  type FinalFailure,
  type JsonRequestSettings,
  jsonHeaders,
  postJsonWithRetry,
  RequestFailure,
  type RetryInfo,
} from "@infialign/data";
import { l2NormalizeRows } from "@infialign/kernels";
import pLimit from "p-limit";
import { Agent, type Dispatcher } from "undici";
import { z } from "zod";
import { type Embedder, embedError } from "./embedder.js";

export interface OpenAIEmbedderOptions {
  /** Base URL of an OpenAI-compatible server, ending in `/v1`. */
  baseURL: string;
  model: string;
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string;
  /** Expected vector length; checked against every response. @default learned from the first response */
  dim?: number;
  /** Texts per request. @default 64 */
  batchSize?: number;
  /** Most HTTP requests in flight at once (backoff waits hold no slot). @default 4 */
  concurrency?: number;
  /** Retries after the first attempt. @default 5 */
  maxRetries?: number;
  /** Time allowed per attempt, in ms. @default 120_000 */
  timeoutMs?: number;
  /** @default DEFAULT_BACKOFF (500 ms doubling to 30 s, full jitter) */
  backoff?: Partial<BackoffConfig>;
  /** HTTP dispatcher; by default the embedder owns an undici `Agent` sized to `concurrency`. */
  dispatcher?: Dispatcher;
  /** Waits between retries (tests pass one that returns at once). @default timers/promises setTimeout */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform [0, 1) source for jitter. @default Math.random */
  random?: () => number;
  /** Called before each backoff wait. */
  onRetry?: (info: RetryInfo) => void;
}

const ResponseSchema = z.object({
  data: z.array(z.object({ index: z.number().int().nonnegative(), embedding: z.array(z.number()) })).min(1),
});

/**
 * Client for `POST {baseURL}/embeddings` of any OpenAI-compatible server (vLLM, TEI,
 * Ollama, llama.cpp, OpenAI), in the style of the data package's chat client: batches,
 * bounded concurrency, per-attempt timeouts, retries with backoff and `Retry-After`.
 * Rows come back in input order (sorted by `index`) and L2-normalized; empty texts are not
 * sent (servers reject them) and get zero rows.
 */
export class OpenAIEmbedder implements Embedder {
  readonly id: string;
  readonly endpoint: string;
  private learnedDim: number | undefined;
  private readonly batchSize: number;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly http: JsonRequestSettings;

  constructor(private readonly options: OpenAIEmbedderOptions) {
    const concurrency = options.concurrency ?? 4;
    this.batchSize = options.batchSize ?? 64;
    const maxRetries = options.maxRetries ?? 5;
    const timeoutMs = options.timeoutMs ?? 120_000;
    const bad: string[] = [];
    if (!Number.isInteger(concurrency) || concurrency < 1) bad.push(`concurrency must be a positive integer, got ${concurrency}`);
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) bad.push(`batchSize must be a positive integer, got ${this.batchSize}`);
    if (!Number.isInteger(maxRetries) || maxRetries < 0) bad.push(`maxRetries must be a non-negative integer, got ${maxRetries}`);
    if (!(timeoutMs > 0)) bad.push(`timeoutMs must be positive, got ${timeoutMs}`);
    if (options.dim !== undefined && !(Number.isInteger(options.dim) && options.dim > 0)) bad.push(`dim must be a positive integer, got ${options.dim}`);
    if (!options.model) bad.push("model is required (the embedding model name the server serves)");
    if (bad.length > 0) throw embedError("openai-embedder", bad.join("; "));
    this.learnedDim = options.dim;
    // The base URL is left out: the same model served elsewhere gives the same vectors.
    this.id = `openai:${options.model}${options.dim ? `:d${options.dim}` : ""}`;
    this.endpoint = `${options.baseURL.replace(/\/+$/, "")}/embeddings`;
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher = options.dispatcher ?? new Agent({ connections: concurrency, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    const { sleep, random, onRetry } = options;
    const toError = (message: string, { cause }: FinalFailure) => embedError("openai-embedder", message, cause);
    const connection = { endpoint: this.endpoint, headers: jsonHeaders(options.apiKey), dispatcher: this.dispatcher, limit: pLimit(concurrency) };
    this.http = { ...connection, maxRetries, timeoutMs, backoff, sleep, random, onRetry, context: `model "${options.model}"`, toError };
  }

  /** Vector length: the configured `dim`, else learned from the first response (0 before it). */
  get dim(): number {
    return this.learnedDim ?? 0;
  }

  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Float32Array> {
    const todo = texts.flatMap((t, i) => (t.length > 0 ? [i] : []));
    const batches: number[][] = [];
    for (let i = 0; i < todo.length; i += this.batchSize) batches.push(todo.slice(i, i + this.batchSize));
    const results = await Promise.all(batches.map((batch) => this.embedBatch(batch.map((i) => texts[i] as string), options.signal)));
    const dim = this.dim;
    const out = new Float32Array(texts.length * dim);
    batches.forEach((batch, b) => {
      const rows = results[b] as number[][];
      batch.forEach((row, k) => {
        out.set(rows[k] as number[], row * dim);
      });
    });
    // dim is still unknown (0) only when every text was empty and nothing was sent.
    return dim > 0 ? l2NormalizeRows(out, dim) : out;
  }

  /** Closes the connections the embedder opened itself. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async embedBatch(input: string[], signal: AbortSignal | undefined): Promise<number[][]> {
    const parse = (json: unknown, status: number) => {
      const parsed = ResponseSchema.safeParse(json);
      if (!parsed.success) return new RequestFailure(true, `response is not an embedding list (${parsed.error.issues[0]?.message})`, status, undefined, parsed.error);
      return this.toRows(parsed.data, input.length);
    };
    const body = JSON.stringify({ model: this.options.model, input, encoding_format: "float" });
    return (await postJsonWithRetry({ ...this.http, body, parse, signal })).value;
  }

  private toRows(data: z.infer<typeof ResponseSchema>, count: number): number[][] | RequestFailure {
    const rows = [...data.data].sort((a, b) => a.index - b.index);
    if (rows.length !== count || rows.some((r, i) => r.index !== i)) {
      return new RequestFailure(false, `expected ${count} embeddings with indices 0..${count - 1}, got indices [${rows.map((r) => r.index).join(", ")}]`);
    }
    const dim = this.learnedDim ?? rows[0]?.embedding.length ?? 0;
    const wrong = rows.find((r) => r.embedding.length !== dim);
    if (wrong) {
      return new RequestFailure(false, `embedding ${wrong.index} has ${wrong.embedding.length} dimensions, expected ${dim}${this.options.dim ? " (dim option)" : " (from the first response)"}`);
    }
    this.learnedDim = dim;
    return rows.map((r) => r.embedding);
  }
}
