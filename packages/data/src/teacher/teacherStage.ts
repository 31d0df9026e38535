import { join } from "node:path";
import { extractBoxed } from "../normalize/answer.js";
import type { RejectCode, Stage, StageContext } from "../runtime/types.js";
import { computeSampleId, type Message, type Sample } from "../schema/sample.js";
import { type ChatClientOptions, type ChatResponse, OpenAIChatClient, TeacherRequestError } from "./chatClient.js";
import { resolveTeacherConfig, type TeacherConfig, type TeacherOptions } from "./config.js";
import { DiskCache } from "./diskCache.js";
import { formatEndpointStats } from "./endpointFleet.js";

/** What the stage hashes into the manifest: only what changes its output (no API key, URLs or tuning knobs). */
export type TeacherParams = Pick<
  TeacherConfig,
  "model" | "systemPrompt" | "promptTemplate" | "temperature" | "top_p" | "max_tokens" | "seed" | "stop" | "overwrite" | "requireAnswer" | "cacheNamespace"
>;

/** Test seams: replaces parts of the chat client the stage builds. */
export type TeacherStageHooks = Pick<ChatClientOptions, "dispatcher" | "sleep" | "random" | "now">;

type Outcome = { sample: Sample } | { reject: { record: unknown; code: RejectCode; message: string; id?: string } } | { error: unknown };

/**
 * Generates a chain of thought for every record without one by asking a teacher model
 * (any OpenAI-compatible server), DeepSeek-R1 style: the reply goes to `response`, its
 * `<think>` part to `reasoning`, its last `\boxed{}` to `answer`, and the id is recomputed.
 * Requests run `concurrency` at a time per endpoint over a window of twice the endpoints' total
 * concurrency in records, and records come out in input order. With `endpoints`, requests
 * go to the least loaded healthy server and fail over to another (see `OpenAIChatClient`);
 * the output and the cache do not depend on which server answered.
 */
export function teacherStage(options: TeacherOptions, hooks: TeacherStageHooks = {}): Stage<Sample, Sample, TeacherParams> {
  const config = resolveTeacherConfig(options);
  const params: TeacherParams = {
    model: config.model,
    systemPrompt: config.systemPrompt,
    promptTemplate: config.promptTemplate,
    temperature: config.temperature,
    top_p: config.top_p,
    max_tokens: config.max_tokens,
    seed: config.seed,
    stop: config.stop,
    overwrite: config.overwrite,
    requireAnswer: config.requireAnswer,
    cacheNamespace: config.cacheNamespace,
  };

  return {
    name: "teacher",
    version: "1",
    params,
    // Reads ahead to keep requests in flight; replaying is cheap since every reply is cached.
    resume: "replay",
    // Per record (the cache key is the request), so shards can go to different workers, and their clients.
    sharding: { kind: "records" },
    async *run(records, ctx) {
      const client = new OpenAIChatClient({
        ...(config.endpoints ? { endpoints: config.endpoints } : { baseURL: config.baseURL }),
        apiKey: config.apiKey,
        model: config.model,
        concurrency: config.concurrency,
        maxRetries: config.maxRetries,
        backoff: config.backoff,
        timeoutMs: config.timeoutMs,
        cacheNamespace: config.cacheNamespace,
        ...(config.healthCheck ? { healthCheck: config.healthCheck } : {}),
        ...(config.cache ? { cache: new DiskCache(config.cacheDir ?? join(ctx.cacheDir, "teacher")) } : {}),
        onRetry: (info) =>
          ctx.logger.debug(
            `teacher: attempt ${info.attempt} failed${info.endpoint && config.endpoints ? ` on ${info.endpoint}` : ""} (${info.reason}); ${info.failover ? "failing over to another endpoint" : `retrying in ${info.delayMs} ms`}`,
          ),
        ...hooks,
      });
      // Aborts what is still in flight when the consumer stops early or the run is aborted.
      const stop = new AbortController();
      const signal = AbortSignal.any([ctx.signal, stop.signal]);
      const window: Array<Promise<Outcome>> = [];
      // Requests finish out of order and ahead of what is emitted: report them as they settle.
      let settled = 0;
      const capacity = config.endpoints ? config.endpoints.reduce((sum, e) => sum + (e.concurrency ?? config.concurrency), 0) : config.concurrency;
      ctx.progress.start(undefined, "records done");
      const emit = function* (outcome: Outcome): Generator<Sample> {
        if ("error" in outcome) throw outcome.error;
        if ("reject" in outcome) {
          const { record, code, message, id } = outcome.reject;
          ctx.reject(record, code, message, id ? { id } : undefined);
        } else yield outcome.sample;
      };
      try {
        for await (const record of records) {
          ctx.signal.throwIfAborted();
          window.push(
            generate(record, client, signal, ctx)
              .catch((error: unknown) => ({ error }))
              .finally(() => ctx.progress.update(++settled)),
          );
          while (window.length >= capacity * 2) yield* emit(await window.shift()!);
        }
        while (window.length > 0) yield* emit(await window.shift()!);
        ctx.signal.throwIfAborted();
      } finally {
        stop.abort(new Error("teacher stage stopped"));
        await Promise.allSettled(window);
        if (config.endpoints) for (const line of formatEndpointStats(client.endpointStats())) ctx.logger.info(`teacher: ${line}`);
        await client.close();
        ctx.progress.stop();
      }
    },
  };

  async function generate(record: Sample, client: OpenAIChatClient, signal: AbortSignal, ctx: StageContext): Promise<Outcome> {
    if (record.reasoning || (!config.overwrite && record.response)) {
      ctx.count("teacher_skipped");
      return { sample: record };
    }
    const messages: Message[] = [];
    if (config.systemPrompt !== undefined) messages.push({ role: "system", content: config.systemPrompt });
    messages.push({ role: "user", content: config.promptTemplate.replaceAll("{prompt}", () => record.prompt) });

    let reply: ChatResponse;
    try {
      ctx.count("teacher_requests");
      reply = await client.chat(
        { messages, temperature: config.temperature, top_p: config.top_p, max_tokens: config.max_tokens, seed: config.seed, stop: config.stop },
        { signal },
      );
    } catch (error) {
      if (error instanceof TeacherRequestError) {
        ctx.count("teacher_retries", error.attempts - 1);
        return { reject: { record, code: "teacher_failed", message: error.message, id: record.id } };
      }
      return { error };
    }
    if (reply.cached) ctx.count("teacher_cache_hits");
    else ctx.count("teacher_retries", reply.attempts - 1);

    const choice = reply.choices[0];
    if (!choice) return { reject: { record, code: "teacher_failed", message: "[infialign/data] teacher: the server returned no choices", id: record.id } };
    const { response, reasoning } = splitReply(choice.content, choice.reasoning);
    const answer = extractBoxed(response);
    const sample: Sample = {
      ...record,
      id: computeSampleId(record.prompt, response),
      response,
      reasoning,
      answer,
      // No cache flag here: a record must not depend on whether its reply came from the cache,
      // or a resumed run would differ from an uninterrupted one (cache hits are counted instead).
      meta: { ...record.meta, teacher: { model: config.model, finishReason: choice.finishReason } },
      lineage: [...record.lineage, "teacher"],
    };
    // A source answer must not survive next to a reply that gives none.
    if (answer === undefined) delete sample.answer;
    if (choice.finishReason === "length") {
      return { reject: { record: sample, code: "teacher_truncated", message: `reply hit max_tokens (${config.max_tokens}) before finishing`, id: sample.id } };
    }
    if (config.requireAnswer && answer === undefined) {
      return { reject: { record: sample, code: "missing_final_answer", message: "teacher reply has no \\boxed{…} final answer", id: sample.id } };
    }
    return { sample };
  }
}

/**
 * The full response and its chain of thought. Servers that split reasoning out
 * (`reasoning_content`) get it put back in `<think>` tags, so `response` looks the same
 * whichever server produced it. R1 chat templates open `<think>` in the prompt, so a
 * reply may hold only the closing tag.
 */
function splitReply(content: string, separateReasoning: string | undefined): { response: string; reasoning: string } {
  if (separateReasoning) return { response: `<think>\n${separateReasoning.trim()}\n</think>\n\n${content.trim()}`, reasoning: separateReasoning.trim() };
  const close = content.indexOf("</think>");
  if (close < 0) return { response: content, reasoning: content };
  const open = content.lastIndexOf("<think>", close);
  const reasoning = content.slice(open < 0 ? 0 : open + "<think>".length, close).trim();
  return { response: content, reasoning };
}
