import { extractBoxed, extractGsm8kFinal } from "@infialign/data";

/** Where a final answer can come from in a model output, tried in the configured order. */
export type ExtractionSource = "boxed" | "final_answer" | "answer_line" | "gsm8k" | "last_number";

export interface ExtractOptions {
  /** Sources tried in order; the first that finds something wins. @default DEFAULT_EXTRACTION_PRIORITY */
  priority?: readonly ExtractionSource[];
  /** Ignore `<think>…</think>` content (an unclosed `<think>` hides the rest). @default true */
  ignoreThinking?: boolean;
}

export const DEFAULT_EXTRACTION_PRIORITY: readonly ExtractionSource[] = ["boxed", "final_answer", "answer_line", "gsm8k", "last_number"];

const FINAL_ANSWER = /(?:final answer|the answer)\s*(?:is|:)\s*:?\s*([^\n]+)/gi;
const ANSWER_LINE = /(?:^|\n)\s*[*_#]*\s*answer\s*[*_]*\s*[:：]\s*[*_]*\s*([^\n]+)/gi;
const LAST_NUMBER = /-?\d[\d,]*(?:\.\d+)?(?:\s*\/\s*\d+)?/g;

/** Removes reasoning inside `<think>…</think>`; text after a lone `</think>` is the answer part. */
export function stripThinking(text: string): string {
  let t = text.replace(/<think>[\s\S]*?<\/think>/g, "");
  const closeAt = t.lastIndexOf("</think>");
  if (closeAt !== -1) t = t.slice(closeAt + "</think>".length);
  const openAt = t.indexOf("<think>");
  if (openAt !== -1) t = t.slice(0, openAt);
  return t;
}

/** `$x$.` or `**x**` around a phrase answer: keep the math span or the bold text. */
function cleanPhrase(s: string): string {
  let t = s.trim();
  const boxed = extractBoxed(t);
  if (boxed !== undefined) return boxed;
  const math = /(?<!\\)\$\$?((?:\\.|[^$\\])+)\$\$?|\\\(([\s\S]+?)\\\)|\\\[([\s\S]+?)\\\]/.exec(t);
  if (math) return (math[1] ?? math[2] ?? math[3] ?? "").trim();
  t = t.replace(/\*\*/g, "").replace(/[.\s]+$/, "");
  return t.trim();
}

function lastMatch(re: RegExp, text: string): string | undefined {
  let last: string | undefined;
  for (const m of text.matchAll(re)) last = m[1];
  return last;
}

/** The final answer in a model output and where it came from; undefined when none is found. */
export function extractAnswer(output: string, opts: ExtractOptions = {}): { answer: string; source: ExtractionSource } | undefined {
  const text = opts.ignoreThinking === false ? output : stripThinking(output);
  for (const source of opts.priority ?? DEFAULT_EXTRACTION_PRIORITY) {
    let found: string | undefined;
    switch (source) {
      case "boxed":
        found = extractBoxed(text);
        break;
      case "final_answer": {
        const m = lastMatch(FINAL_ANSWER, text);
        found = m === undefined ? undefined : cleanPhrase(m);
        break;
      }
      case "answer_line": {
        const m = lastMatch(ANSWER_LINE, text);
        found = m === undefined ? undefined : cleanPhrase(m);
        break;
      }
      case "gsm8k":
        found = extractGsm8kFinal(text);
        break;
      case "last_number": {
        const all = text.match(LAST_NUMBER);
        found = all?.[all.length - 1]?.replace(/,(?=\d{3})/g, "");
        break;
      }
    }
    if (found) return { answer: found, source };
  }
  return undefined;
}
