import type { ChatTemplateMessage, Sample } from "@infialign/data";
import type { ModelTokenizer } from "@infialign/model";

/**
 * Label of a position the loss skips: `IGNORE_INDEX` of `@infialign/kernels/tfjs` (PyTorch's -100). Repeated here so
 * data preparation and export do not load TensorFlow.js; a test checks the two agree.
 */
export const IGNORE_INDEX = -100;

/** Options of {@link tokenizeSample}. */
export interface TokenizeOptions {
  /**
   * Longest sequence kept, in tokens. Longer ones lose their end (TRL's SFT `truncation_mode="keep_start"`: the prompt
   * and the start of the answer survive). `undefined` keeps everything (packing with `bfd` truncates later instead).
   * @default undefined
   */
  maxLength?: number;
  /**
   * Compute the loss on the prompt tokens too. Off = completion-only loss, TRL's default for prompt-completion data
   * (`completion_only_loss=None`, `trl/trainer/sft_config.py`).
   * @default false
   */
  trainOnPrompt?: boolean;
  /**
   * Append the tokenizer's first EOS id when the rendered assistant turn contains none, so the model learns to stop.
   * Chat templates that close the turn with `<|im_end|>` already contain it.
   * @default true
   */
  ensureEos?: boolean;
}

/** A sample as token ids, ready for packing or batching. */
export interface TokenizedSample {
  /** The sample's content-hash id. */
  id: string;
  inputIds: Int32Array;
  /** `inputIds` with prompt positions set to -100 (unless `trainOnPrompt`); aligned, not shifted (the loss shifts). */
  labels: Int32Array;
  /** Tokens of the rendered prompt (system + user turns + the assistant header), before truncation. */
  promptLength: number;
  /** Tokens cut by `maxLength`. */
  truncatedTokens: number;
}

/** A sample as chat messages: everything before the final assistant turn, and that turn. */
export interface SampleConversation {
  prompt: ChatTemplateMessage[];
  completion: ChatTemplateMessage;
}

const THINK_CLOSE = "</think>";

/**
 * The assistant turn of a canonical sample, R1 / InfiAlign style: `<think>\n{reasoning}\n</think>\n\n{response}`.
 * That is the layout `@infialign/data`'s teacher stage writes (`teacherStage.ts`) and the one R1 distills are trained
 * on; `normalizeSample` moves the think block to `reasoning`, and this puts it back. A response that still holds
 * `</think>` (data normalised with `--keep-think`) is used as it is, and so is a response that is its own reasoning
 * (MATH-style sources give one worked solution as both: wrapping it would train the solution twice per sample).
 * Undefined when the sample has no response.
 */
export function assistantContent(sample: Pick<Sample, "response" | "reasoning">): string | undefined {
  const { response, reasoning } = sample;
  if (response === undefined) return undefined;
  if (response.includes(THINK_CLOSE) || !reasoning || reasoning.trim() === response.trim()) return response;
  return `<think>\n${reasoning}\n</think>\n\n${response}`;
}

/**
 * Splits a canonical sample into chat messages. With `messages`, a trailing assistant message is the completion
 * (replaced by `response` + `reasoning`, the canonical answer); earlier turns, assistant ones included, are prompt.
 * Without, the prompt is `[system?, user: prompt]`. `system` is prepended when the messages have no system turn.
 */
export function sampleConversation(sample: Sample): SampleConversation {
  let prompt: ChatTemplateMessage[];
  let answer = assistantContent(sample);
  if (sample.messages?.length) {
    const last = sample.messages.at(-1);
    const endsWithAnswer = last?.role === "assistant";
    prompt = (endsWithAnswer ? sample.messages.slice(0, -1) : sample.messages).map((m) => ({ role: m.role, content: m.content }));
    if (answer === undefined && endsWithAnswer) answer = assistantContent({ response: last.content, reasoning: sample.reasoning });
  } else {
    prompt = [{ role: "user", content: sample.prompt }];
  }
  if (sample.system !== undefined && prompt[0]?.role !== "system") prompt.unshift({ role: "system", content: sample.system });
  if (answer === undefined) fail(sample.id, "has no response (nor a final assistant message); SFT needs the answer. Drop it or fill `response`.");
  if (prompt.every((m) => m.role === "system")) fail(sample.id, "has no user turn (empty `messages` and no `prompt`).");
  return { prompt, completion: { role: "assistant", content: answer } };
}

/**
 * Tokenizes a canonical sample through the tokenizer's chat template, as TRL does for conversational
 * prompt-completion data (`sft_trainer.py`, `tokenize`): the prompt rendered with the generation prompt must be a token
 * prefix of the rendered conversation; the rest (assistant content, `<|im_end|>` and whatever the template puts after
 * it) is the completion and carries the labels. Throws, naming the sample id, when the prefix property fails (a
 * template or BPE merge across the boundary would otherwise shift the loss mask silently).
 */
export function tokenizeSample(sample: Sample, tokenizer: ModelTokenizer, options: TokenizeOptions = {}): TokenizedSample {
  const { maxLength, trainOnPrompt = false, ensureEos = true } = options;
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1)) {
    throw new Error(`[infialign/train-sft] tokenize: option maxLength must be a positive integer; got ${maxLength}.`);
  }
  const { prompt, completion } = sampleConversation(sample);
  const promptIds = tokenizer.encodeChat(prompt, { addGenerationPrompt: true });
  const fullIds = tokenizer.encodeChat([...prompt, completion]);
  const mismatch = firstMismatch(promptIds, fullIds);
  if (mismatch !== -1) {
    fail(
      sample.id,
      `the rendered prompt (${promptIds.length} tokens) is not a token prefix of the rendered conversation (${fullIds.length} tokens); ` +
        `first difference at token ${mismatch}. The chat template (${tokenizer.name}) changes the prompt when an answer follows, or a BPE merge crosses the prompt/answer boundary; use a template whose prompt is stable.`,
    );
  }
  if (fullIds.length === promptIds.length) fail(sample.id, "renders an empty assistant turn; nothing to learn.");
  if (ensureEos && !fullIds.slice(promptIds.length).some((id) => tokenizer.eosTokenIds.includes(id))) {
    const eos = tokenizer.eosTokenIds[0];
    if (eos === undefined) throw new Error(`[infialign/train-sft] tokenize: tokenizer ${tokenizer.name} has no EOS id; pass ensureEos: false.`);
    fullIds.push(eos);
  }
  const length = maxLength === undefined ? fullIds.length : Math.min(maxLength, fullIds.length);
  const inputIds = Int32Array.from(fullIds.slice(0, length));
  const labels = Int32Array.from(inputIds);
  if (!trainOnPrompt) labels.fill(IGNORE_INDEX, 0, Math.min(promptIds.length, length));
  return { id: sample.id, inputIds, labels, promptLength: promptIds.length, truncatedTokens: fullIds.length - length };
}

/** {@link tokenizeSample} over many samples, in order. */
export function tokenizeSamples(samples: Iterable<Sample>, tokenizer: ModelTokenizer, options: TokenizeOptions = {}): TokenizedSample[] {
  const out: TokenizedSample[] = [];
  for (const sample of samples) out.push(tokenizeSample(sample, tokenizer, options));
  return out;
}

function firstMismatch(prefix: readonly number[], full: readonly number[]): number {
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== full[i]) return i;
  return -1;
}

function fail(id: string, what: string): never {
  // "sample <id>: the rendered prompt …" reads better than "sample <id> the rendered prompt …".
  const sep = what.startsWith("the ") ? ": " : " ";
  throw new Error(`[infialign/train-sft] tokenize: sample ${id}${sep}${what}`);
}
