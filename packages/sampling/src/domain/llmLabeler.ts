import { createHash } from "node:crypto";
import { type ChatRequest, type ChatResponse, sha256Hex } from "@infialign/data";
import { DOMAIN_TAXONOMY, type Domain, isDomain } from "./taxonomy.js";

/** The slice of `OpenAIChatClient` the labeler needs (pass one with a `DiskCache` to cache across runs). */
export interface ChatLike {
  chat(req: ChatRequest, opts?: { signal?: AbortSignal }): Promise<ChatResponse>;
  /** Model asked; with `endpoint`, the client's identity in the labeler's `id` (an `OpenAIChatClient` has both). */
  readonly model?: string;
  readonly endpoint?: string;
}

export interface LlmLabelerOptions {
  /**
   * The client's identity in the labeler's `id` (which `selectStage` hashes into its params), for a client without
   * `model`. @default `<endpoint>#<model>` of the client
   */
  clientId?: string;
  /** Characters of the prompt sent; longer prompts are cut. @default 4000 */
  maxChars?: number;
  /** @default 16 (an id is a few tokens) */
  maxTokens?: number;
}

export interface LlmLabel {
  domain: Domain;
  source: "llm";
}

const SYSTEM = [
  "You classify a task into exactly one domain id from this list:",
  ...DOMAIN_TAXONOMY.map((d) => `- ${d.id}: ${d.description}`),
  "Reply with the id alone, nothing else.",
].join("\n");

/**
 * Asks an OpenAI-compatible chat model for one taxonomy id. The reply is parsed strictly:
 * the trimmed text (optionally in backticks or quotes, with a final period) must be an id,
 * else the labeler abstains and the caller falls back. Replies are memoized per prompt;
 * the chat client's own `DiskCache` keeps them across runs.
 */
export class LlmLabeler {
  /** Calls made, replies that parsed, and replies that did not. */
  readonly stats = { requests: 0, parsed: 0, invalid: 0, failed: 0 };
  private readonly memo = new Map<string, Promise<Domain | undefined>>();
  private readonly maxChars: number;
  private readonly maxTokens: number;
  /**
   * Identity of the client, the limits and the instruction, for cache and stage keys; `undefined` when the client
   * names no model and no `clientId` was given (then `selectStage` refuses the labeler).
   */
  readonly id: string | undefined;

  constructor(
    private readonly client: ChatLike,
    options: LlmLabelerOptions = {},
  ) {
    this.maxChars = options.maxChars ?? 4000;
    this.maxTokens = options.maxTokens ?? 16;
    const clientId = options.clientId ?? (client.model === undefined ? undefined : `${client.endpoint ?? ""}#${client.model}`);
    this.id = clientId === undefined ? undefined : `llm:${clientId}:chars${this.maxChars}:tokens${this.maxTokens}:${sha256Hex(SYSTEM).slice(0, 12)}`;
  }

  async label(prompt: string, options: { signal?: AbortSignal } = {}): Promise<LlmLabel | undefined> {
    const text = prompt.slice(0, this.maxChars);
    const key = createHash("sha256").update(text).digest("hex");
    let pending = this.memo.get(key);
    if (!pending) {
      pending = this.ask(text, options.signal);
      this.memo.set(key, pending);
    }
    const domain = await pending;
    return domain ? { domain, source: "llm" } : undefined;
  }

  private async ask(text: string, signal: AbortSignal | undefined): Promise<Domain | undefined> {
    this.stats.requests++;
    let reply: ChatResponse;
    try {
      reply = await this.client.chat(
        { messages: [{ role: "system", content: SYSTEM }, { role: "user", content: text }], temperature: 0, max_tokens: this.maxTokens },
        signal ? { signal } : {},
      );
    } catch (error) {
      if (signal?.aborted) throw error;
      // A failed request is a fallback, not a failed run: the next source labels the sample.
      this.stats.failed++;
      return undefined;
    }
    const domain = parseDomainReply(reply.choices[0]?.content ?? "");
    if (domain) this.stats.parsed++;
    else this.stats.invalid++;
    return domain;
  }
}

/** The taxonomy id a reply consists of, or undefined: only quotes, backticks and one final period may surround it. */
export function parseDomainReply(reply: string): Domain | undefined {
  const m = /^\s*([`"']?)([a-z_/]+)\1\.?\s*$/.exec(reply);
  const id = m?.[2];
  return isDomain(id) ? id : undefined;
}
