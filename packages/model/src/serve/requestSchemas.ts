// Request bodies of the OpenAI API (https://platform.openai.com/docs/api-reference) as this server accepts them, with
// vLLM's extensions `top_k` and `stop_token_ids`. Unknown fields are ignored, as OpenAI and vLLM do; fields that would
// change the result but are not implemented are rejected (see UNSUPPORTED_*), never silently ignored.
import { z } from "zod";
import { ApiError } from "./apiError.js";

/** Largest chat `top_logprobs` accepted (OpenAI allows 20; vLLM's default `max_logprobs` is 20 too). */
export const MAX_LOGPROBS = 20;
/** Largest `logprobs` of the legacy completions endpoint (OpenAI: "The maximum value for logprobs is 5"). */
export const MAX_COMPLETION_LOGPROBS = 5;
/** Largest `n` accepted; larger requests would starve every other client of the batch. */
export const MAX_N = 128;

const tokenIds = z.array(z.number().int().min(0)).min(1);

/** A number in [min, max] whose error names the range, as OpenAI's do ("3 is greater than the maximum of 2"). */
const between = (min: number, max: number, base = z.number()) => {
  const error = (issue: { input?: unknown }) => `must be between ${min} and ${max} (got ${String(issue.input)})`;
  return base.min(min, { error }).max(max, { error });
};
const atLeast = (min: number, base = z.number().int()) => base.min(min, { error: (issue) => `must be at least ${min} (got ${String(issue.input)})` });

const sampling = {
  // OpenAI requires `model` (vLLM does not); so does this server, so that a client's typo'd or missing field is noticed.
  model: z.string({ error: "you must provide a model parameter" }),
  n: between(1, MAX_N, z.number().int()).nullish(),
  temperature: between(0, 2).nullish(),
  /** OpenAI accepts 0–1; 0 (an empty nucleus) is rejected as vLLM does: use temperature 0 for greedy decoding. */
  top_p: z.number().gt(0, { error: "must be greater than 0 and at most 1 (use temperature 0 for greedy decoding)" }).max(1, { error: "must be greater than 0 and at most 1" }).nullish(),
  /** vLLM: -1 or 0 = no top-k. */
  top_k: z.number().int().min(-1).nullish(),
  max_tokens: atLeast(1).nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  stop_token_ids: z.array(z.number().int().min(0)).nullish(),
  seed: z.number().int().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().nullish(),
  presence_penalty: between(-2, 2).nullish(),
  frequency_penalty: between(-2, 2).nullish(),
  logit_bias: z.record(z.string(), between(-100, 100)).nullish(),
};

export const CompletionRequestSchema = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)]),
  logprobs: between(0, MAX_COMPLETION_LOGPROBS, z.number().int()).nullish(),
  echo: z.boolean().nullish(),
  best_of: z.number().int().min(1).nullish(),
  suffix: z.string().nullish(),
});
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const otherPart = z.object({ type: z.string() }).loose();

export const ChatCompletionRequestSchema = z.object({
  ...sampling,
  messages: z
    .array(
      z
        .object({
          role: z.string().min(1),
          content: z.union([z.string(), z.array(z.union([textPart, otherPart])), z.null()]).optional(),
          name: z.string().nullish(),
        })
        .loose(),
    )
    .min(1),
  max_completion_tokens: atLeast(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: between(0, MAX_LOGPROBS, z.number().int()).nullish(),
  tools: z.array(z.unknown()).nullish(),
  tool_choice: z.unknown().optional(),
  response_format: z.object({ type: z.string() }).loose().nullish(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

/** Parses `body` with `schema`; one 400 lists every invalid field (param = the first one), as the style guide asks. */
export function parseRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new ApiError(400, "The request body must be a JSON object.");
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const path = (issue: z.core.$ZodIssue) => issue.path.map(String).join(".");
  const fields = parsed.error.issues.map((issue) => `${path(issue) || "(body)"}: ${issue.message}`);
  const first = parsed.error.issues[0];
  throw new ApiError(400, `Invalid request: ${fields.join("; ")}`, first ? path(first) || null : null, null, { cause: parsed.error });
}

/** Rejects fields that are well-formed but not implemented here (a silent ignore would change results unnoticed). */
export function rejectUnsupported(req: CompletionRequest | ChatCompletionRequest): void {
  const unsupported = (param: string, what: string) => {
    throw new ApiError(400, `${param}: ${what} is not supported by infialign-serve.`, param);
  };
  if (req.presence_penalty) unsupported("presence_penalty", "a non-zero presence penalty");
  if (req.frequency_penalty) unsupported("frequency_penalty", "a non-zero frequency penalty");
  if (req.logit_bias && Object.keys(req.logit_bias).length > 0) unsupported("logit_bias", "logit bias");
  if ("prompt" in req) {
    if (req.echo) unsupported("echo", "echo");
    if (req.suffix) unsupported("suffix", "a suffix (fill-in-the-middle)");
    if (req.best_of != null && req.best_of !== (req.n ?? 1)) unsupported("best_of", "best_of other than n");
    if (req.stream && req.logprobs != null) unsupported("logprobs", "logprobs with stream");
  } else {
    if (req.tools && req.tools.length > 0) unsupported("tools", "tool calling");
    if (req.tool_choice != null && req.tool_choice !== "none" && req.tool_choice !== "auto") unsupported("tool_choice", "a forced tool choice");
    if (req.response_format && req.response_format.type !== "text") unsupported("response_format", `response_format "${req.response_format.type}"`);
    if (req.stream && req.logprobs) unsupported("logprobs", "logprobs with stream");
  }
}
