import type { Message, SampleInit } from "../schema/sample.js";
import { splitThink } from "./reasoning.js";
import { normalizeText } from "./text.js";

export interface NormalizeSampleOptions {
  /**
   * Move `<think>…</think>` content out of `response` (and out of the final assistant
   * message) into `reasoning`, leaving the final part as the response. A think block
   * that never closes (cut-off generation) fills `reasoning` but leaves `response` as is.
   * @default true
   */
  stripThink?: boolean;
}

const TEXT_FIELDS = ["prompt", "system", "response", "reasoning", "answer", "gold", "rejected"] as const;

/**
 * Applies `normalizeText` to every text field of a sample (prompt, system, response,
 * reasoning, answer, gold, rejected and every message content) and, with `stripThink`,
 * separates the chain of thought from the response. Returns a new object; the input is
 * not modified.
 */
export function normalizeSample(init: SampleInit, opts: NormalizeSampleOptions = {}): SampleInit {
  const stripThink = opts.stripThink ?? true;
  const out: SampleInit = { ...init };
  // Adapters often give two fields the same text (MATH: response and reasoning, answer and gold): normalize it once,
  // and the fields stay one string.
  let lastIn: string | undefined;
  let lastOut = "";
  for (const key of TEXT_FIELDS) {
    const value = out[key];
    if (typeof value !== "string") continue;
    if (value !== lastIn) {
      lastIn = value;
      lastOut = normalizeText(value);
    }
    out[key] = lastOut;
  }
  let messages: Message[] | undefined = init.messages?.map((m) => ({ ...m, content: normalizeText(m.content) }));

  if (stripThink && out.response !== undefined) {
    const split = splitThink(out.response);
    if (split.reasoning !== undefined) {
      if (!out.reasoning && split.reasoning) out.reasoning = split.reasoning;
      if (split.final) {
        const full = out.response;
        out.response = split.final;
        const last = messages?.at(-1);
        if (messages && last?.role === "assistant" && last.content === full) {
          messages = [...messages.slice(0, -1), { ...last, content: split.final }];
        }
      }
    }
  }
  if (messages) out.messages = messages;
  return out;
}
