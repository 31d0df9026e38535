const OPEN = "<think>";
const CLOSE = "</think>";

export interface ThinkSplit {
  /** Content of the think block, trimmed; absent when the text has no think tags. */
  reasoning?: string;
  /** Text after the think block (plus any text before `<think>`), trimmed; "" when there is none. */
  final: string;
}

/**
 * Splits a reasoning-model output into its chain of thought and its final part.
 * - `<think>a</think>b` → `{ reasoning: "a", final: "b" }`;
 * - `a</think>b` (R1 distills often omit the opening tag, which the chat template
 *   prefilled) → `{ reasoning: "a", final: "b" }`;
 * - `<think>a` with no closing tag (generation cut off) → `{ reasoning: "a", final: "" }`;
 * - no tags → `{ final: text }`.
 */
export function splitThink(text: string): ThinkSplit {
  const open = text.indexOf(OPEN);
  const close = text.indexOf(CLOSE, open === -1 ? 0 : open + OPEN.length);
  if (open === -1 && close === -1) return { final: text.trim() };
  if (close === -1) return { reasoning: text.slice(open + OPEN.length).trim(), final: "" };
  const before = open === -1 ? "" : text.slice(0, open).trim();
  const reasoning = text.slice(open === -1 ? 0 : open + OPEN.length, close).trim();
  const after = text.slice(close + CLOSE.length).trim();
  return { reasoning, final: before && after ? `${before}\n\n${after}` : before || after };
}
