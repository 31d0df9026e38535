import { stripCalculatorAnnotations } from "@infialign/data";
import { findBoxes, lastBoxedAnswer } from "./boxes.js";
import { stripFiller, undoDoubleEscape } from "./normalize.js";

/** Where a final answer can come from in a model output, tried in the configured order. */
export type ExtractionSource =
  | "boxed"
  | "gsm8k"
  | "final_answer"
  | "answer_line"
  | "whole"
  | "conclusion"
  | "math_env"
  | "last_number";

export interface ExtractOptions {
  /** Sources tried in order; the first that finds something wins. @default DEFAULT_EXTRACTION_PRIORITY */
  priority?: readonly ExtractionSource[];
  /** Ignore `<think>…</think>` content (an unclosed `<think>` hides the rest). @default true */
  ignoreThinking?: boolean;
}

/**
 * The last `\boxed{}`; a GSM8K `#### 42` line; "the (final) answer is …"; an `Answer:` line;
 * the whole output when it is itself an expression; the last "Therefore/Thus/Hence/So …"
 * sentence; the last `$…$`/`\(…\)`/`\[…\]`; the last number.
 */
export const DEFAULT_EXTRACTION_PRIORITY: readonly ExtractionSource[] = [
  "boxed",
  "gsm8k",
  "final_answer",
  "answer_line",
  "whole",
  "conclusion",
  "math_env",
  "last_number",
];

/** Texts longer than this are read from their last part: answers stand at the end. */
const MAX_SCAN = 20_000;
/** How much text after an answer phrase is read for the answer. */
const PHRASE_WINDOW = 400;

// "our answer is correct" states no answer; "the answer is", "final answer:" and "answer is 5" do.
const FINAL_ANSWER =
  /(?:(?:final answer|final result|the answer)(?:\s+(?:to (?:this|the) (?:problem|question)|should be|would be|will be))?\s*(?:is|:|=)|(?<!\b(?:our|my|your|this|that|an|its)\s+)\banswer\s+(?:is|should be|would be|will be))\s*:?/gi;
const ANSWER_LINE = /(?:^|\n)[ \t]*[*_#>]*[ \t]*(?:final[ \t]+)?(?:answer|ans|A)[ \t]*[*_]*[ \t]*[:：][ \t]*[*_]*/gi;
const GSM8K_LINE = /(?:^|\n)[ \t]*####[ \t]*([^\n]*)/g;
const CONCLUSION = /(?:^|[.!?:]\s+|\$\$?\s+|\\\]\s*|\n\s*)(?:\*\*)?(?:therefore|thus|hence|so|finally|in conclusion|consequently)\b[,:]?/gi;
// Numbers never start inside a word (`AZYUK2A` has none); `\frac{a}{b}` and `a/b` are one number.
const LAST_NUMBER = /\\[dt]?frac\{-?\d+(?:\.\d+)?\}\{-?\d+(?:\.\d+)?\}|(?<![A-Za-z\d.])-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:\s*\/\s*\d+(?![\d.])|\s*\\?%)?/g;
/** An explicit final statement; when it follows the last box, it is the answer. */
const STATED_FINAL = /final answer\s*(?:is|:)\s*:?/gi;

/** The end of the model's turn in a chat template; a tool result after it is not a new turn. */
const CHAT_TURN = /<\|im_end\|>|<\|endoftext\|>|<\|eot_id\|>|<\|im_start\|>\s*(?:user|system)|<\|start_header_id\|>\s*(?:user|system)|<\|user\|>|\[INST\]/g;
// What may follow the end of a turn within one answer: the assistant again, or a tool's result.
const TOOL_TURN = /^\s*(?:<\|(?:im_start|start_header_id)\|>\s*(?:assistant|ipython|tool)|(?:<\|im_start\|>\s*user\s*)?<tool_response>)/i;
/**
 * Markers of a new problem after the answer: "Question:", "Now it's your turn". Text after the
 * first one that follows a stated answer is a hallucinated continuation, not part of the answer.
 */
const CONTINUATION =
  /(?:^|\n)[ \t]*(?:#+[ \t]*)?(?:\*\*)?(?:(?:new|next|another)[ \t]+)?(?:question|problem|human|user|exercise)[ \t]*\d*[ \t]*(?:\*\*)?[ \t]*[:：]|\b(?:now (?:it'?s|is) your turn|your turn\s*[:!]|here(?:'s| is) (?:a |another |the next |your )?(?:new |next )?(?:question|problem)\b|please answer (?:this|the following) question|can you now solve|now solve the (?:question|problem))/gi;
const ANSWER_MARK = /\\boxed|\\fbox|final answer|answer is|answer:|(?:^|\n)[ \t]*####/i;

/** Removes reasoning inside `<think>…</think>`; text after a lone `</think>` is the answer part. */
export function stripThinking(text: string): string {
  let t = text.replace(/<think>[\s\S]*?<\/think>/g, "");
  const closeAt = t.lastIndexOf("</think>");
  if (closeAt !== -1) t = t.slice(closeAt + "</think>".length);
  const openAt = t.indexOf("<think>");
  if (openAt !== -1) t = t.slice(0, openAt);
  return t;
}

/** A whole transcript (prompt turns, then the reply) rather than a reply: it starts with a user or system turn. */
const TRANSCRIPT = /^\s*(?:<\|begin_of_text\|>)?\s*<\|(?:im_start|start_header_id)\|>\s*(?:system|user)/;
const ASSISTANT_TURN = /<\|im_start\|>\s*assistant|<\|start_header_id\|>\s*assistant\s*<\|end_header_id\|>/;

/** The output up to the end of the model's turn, and up to a new problem that follows a stated answer. */
function cutContinuation(text: string): string {
  let t = text;
  if (TRANSCRIPT.test(t)) {
    const reply = ASSISTANT_TURN.exec(t);
    if (reply) t = t.slice(reply.index + reply[0].length);
  }
  CHAT_TURN.lastIndex = 0;
  for (let m = CHAT_TURN.exec(t); m; m = CHAT_TURN.exec(t)) {
    if (TOOL_TURN.test(t.slice(m.index + m[0].length, m.index + m[0].length + 60))) continue;
    t = t.slice(0, m.index);
    break;
  }
  const answerAt = t.search(ANSWER_MARK);
  if (answerAt === -1) return t;
  CONTINUATION.lastIndex = answerAt + 1;
  const m = CONTINUATION.exec(t);
  return m ? t.slice(0, m.index) : t;
}

/** Math spans `$…$`, `$$…$$`, `\(…\)`, `\[…\]` with their positions. */
function mathSpans(text: string): Array<{ start: number; end: number; inner: string }> {
  const out: Array<{ start: number; end: number; inner: string }> = [];
  // Bounded lengths keep an unclosed opener from costing more than a short scan.
  const re = /\$\$([^$]{1,1000}?)\$\$|(?<!\\)\$((?:\\.|[^$\\\n]){1,500}?)\$|\\\(([\s\S]{1,500}?)\\\)|\\\[([\s\S]{1,1000}?)\\\]/g;
  for (const m of text.matchAll(re)) {
    const inner = (m[1] ?? m[2] ?? m[3] ?? m[4] ?? "").trim();
    if (inner) out.push({ start: m.index, end: m.index + m[0].length, inner });
  }
  return out;
}

/** Spans separated only by `,`/`and`/`or` form one answer (`$x = 1$ or $x = 2$`); from span `i` onwards. */
function joinSpans(text: string, spans: Array<{ start: number; end: number; inner: string }>, i: number, dir: 1 | -1): string {
  const inner = (k: number) => spans[k]!.inner.replace(/[\s.,;:]+$/, "");
  const parts = [inner(i)];
  for (let j = i + dir; j >= 0 && j < spans.length; j += dir) {
    const gap = dir === 1 ? text.slice(spans[j - 1]!.end, spans[j]!.start) : text.slice(spans[j]!.end, spans[j + 1]!.start);
    if (gap.length > 12 || !/^\s*(?:,|and|or|,\s*and|,\s*or)?\s*$/i.test(gap)) break;
    if (dir === 1) parts.push(inner(j));
    else parts.unshift(inner(j));
  }
  return parts.join(", ");
}

/** Where the sentence starting `t` ends: ". " + capital, a blank line or "I hope", outside math. */
function sentenceEnd(t: string, spans: Array<{ start: number; end: number }>): number {
  for (const m of t.matchAll(/\.(?=\s+[A-Z])|\n\s*\n|\bI hope\b|\.\s*$/g)) {
    if (m.index > 0 && !spans.some((s) => m.index >= s.start && m.index < s.end)) return m.index;
  }
  return t.length;
}

const COPULA = /\s(?:is|are|was|were|equals|be)(?:\s|$)|=/g;
const PROSE = /(?<![\\A-Za-z])[A-Za-z]{2,}/g;
const MATH_WORDS = new Set(["sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "sqrt", "pi", "inf", "infty", "oo", "and", "or", "mod", "arcsin", "arccos", "arctan"]);

function proseWords(s: string): number {
  let n = 0;
  for (const m of s.replace(/\\(?:text|mathrm|textbf)\{[^{}]*\}/g, " ").matchAll(PROSE)) if (!MATH_WORDS.has(m[0].toLowerCase())) n++;
  return n;
}

/**
 * The answer stated in a phrase ("The volume of $V$ is 120. I hope…", "$x = 5$", "therefore 3"):
 * a box in it; else, past its first copula ("is", "are", "=") outside math, the math spans there
 * or the text up to the sentence end; in prose, the number there.
 */
function phraseAnswer(raw: string): string | undefined {
  let t = raw.slice(0, PHRASE_WINDOW);
  const boxed = lastBoxedAnswer(t);
  if (boxed) return boxed.answer;
  let spans = mathSpans(t);
  t = t.slice(0, sentenceEnd(t, spans));
  // Past each copula with words before it ("The volume of $V$ is 120", "… could be … is 19"),
  // a subordinate clause (", since …") cut off first.
  let pastCopula = false;
  for (let round = 0; round < 3; round++) {
    spans = mathSpans(t);
    const masked = spans.reduceRight((acc, s) => acc.slice(0, s.start) + " ".repeat(s.end - s.start) + acc.slice(s.end), t);
    const clause = /,\s*(?:since|because|as|which|where|so that|when|if)\b|;/i.exec(masked);
    if (clause && clause.index > 0) t = t.slice(0, clause.index);
    COPULA.lastIndex = 0;
    let copula: RegExpExecArray | null = null;
    for (let m = COPULA.exec(masked); m && m.index < t.length; m = COPULA.exec(masked)) {
      if (proseWords(masked.slice(0, m.index)) > 0) {
        copula = m;
        break;
      }
    }
    if (!copula) break;
    t = t.slice(copula.index + copula[0].length);
    pastCopula = true;
  }
  spans = mathSpans(t);
  // Right after "is" the answer comes first; without a copula ("so we obtain $x=28$") it comes last.
  if (spans.length) return pastCopula ? joinSpans(t, spans, 0, 1) : joinSpans(t, spans, spans.length - 1, -1);
  const text = stripFiller(
    t
      .replace(/\*\*/g, "")
      .replace(/^[\s:,]+/, "")
      .replace(/[\s.,;:!]+$/, "")
      .trim(),
  );
  if (!text) return undefined;
  if (proseWords(text) > 2) {
    const numbers = text.match(LAST_NUMBER);
    return numbers?.[0]?.replace(/,(?=\d{3})/g, "");
  }
  return text;
}

/** The text right after a match: the rest of its line, or more lines when it stops at "is" or ":". */
function after(text: string, end: number): string {
  const rest = text.slice(end, end + PHRASE_WINDOW);
  const line = rest.split("\n")[0]!;
  return /(?:^[ \t*_]*|\s(?:is|are)|[:=])[ \t*_]*$/.test(line) ? rest.replace(/^\s+/, "") : line;
}

/** The answer after the last match of `re` that states one (the last three are tried, latest first). */
function lastPhrase(re: RegExp, text: string): string | undefined {
  const ends = [...text.matchAll(re)].map((m) => m.index + m[0].length);
  for (let k = ends.length - 1; k >= Math.max(0, ends.length - 3); k--) {
    const found = phraseAnswer(after(text, ends[k]!));
    if (found) return found;
  }
  return undefined;
}

/** A GSM8K `#### 42` line: a bare number, or (as the last line) a number with a unit. */
function gsm8kAnswer(text: string): string | undefined {
  let last: RegExpExecArray | undefined;
  GSM8K_LINE.lastIndex = 0;
  for (let m = GSM8K_LINE.exec(text); m; m = GSM8K_LINE.exec(text)) last = m;
  if (!last) return undefined;
  const content = (last[1] ?? "").replace(/\\?\$|\*\*/g, "").replace(/[.\s]+$/, "").trim();
  const isLastLine = !text.slice(last.index + last[0].length).trim();
  const bare = /^-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:\s*\/\s*\d+)?%?$/.test(content) || /^-?\\[dt]?frac\{[^{}]+\}\{[^{}]+\}$/.test(content);
  const withUnit = /^-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)%?\s+[A-Za-z]+$/.test(content);
  if (!bare && !(isLastLine && withUnit)) return undefined;
  return content.replace(/(?<=\d),(?=\d)/g, "");
}

/** Braces that never close before they open, nor stay open (`\boxed{1`); brackets may mix (`[0,1)`). */
function balanced(text: string): boolean {
  let depth = 0;
  for (const ch of text.replace(/\\[{}]/g, "")) {
    if (ch === "{") depth++;
    else if (ch === "}" && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * Whether the whole output is itself an answer: short, one line, balanced, and an expression or a single
 * word. Several lines are a derivation (a scratchpad's `8+7+1=16` rows), whose answer is found elsewhere.
 */
function wholeAnswer(text: string): string | undefined {
  const t = text.trim();
  if (!t || t.length > 200 || t.includes("\n") || !balanced(t)) return undefined;
  const spans = mathSpans(t);
  if (spans.length === 1 && spans[0]!.start === 0 && spans[0]!.end === t.length) return spans[0]!.inner;
  if (spans.length) return undefined;
  return proseWords(t) === 0 || /^[A-Za-z]+\.?$/.test(t) ? t : undefined;
}

const findsBox = (text: string) => findBoxes(text).length > 0;

/**
 * The last "Therefore/Thus/Hence/So …" sentence's answer, when it closes the solution: a later
 * number or formula ("… is $12$. Increased by 11 it is $23$.") means the conclusion was a step.
 */
function conclusionAnswer(text: string): string | undefined {
  const last = [...text.matchAll(CONCLUSION)].pop();
  if (!last) return undefined;
  const start = last.index + last[0].length;
  const rest = text.slice(start);
  const tail = rest.slice(sentenceEnd(rest, mathSpans(rest.slice(0, PHRASE_WINDOW))));
  if (/[\d$]|\\[([]/.test(tail.replace(/^\.\s*/, ""))) return undefined;
  return phraseAnswer(after(text, start));
}

const DISPLAY_ENV = /\\begin\{(align|equation|gather|eqnarray)\*?\}([\s\S]{0,3000}?)\\end\{\1\*?\}/g;

/**
 * An `align`/`equation`/`gather` environment stands for its last row, `&` removed
 * (`… \\ &= p - q. \end{align*}` → `\[p - q\]`): what a derivation arrives at. One holding a box is kept.
 */
function displayToLastRow(text: string): string {
  return text.replace(DISPLAY_ENV, (whole, _env: string, body: string) => {
    if (findsBox(body)) return whole;
    const rows = body.split(/\\\\/).map((r) => r.replace(/&/g, "").replace(/\\(?:qquad|quad|Rightarrow|implies)(?![A-Za-z])/g, " ").trim());
    const row = rows.filter(Boolean).pop()?.replace(/^=\s*/, "").replace(/[\s.,;]+$/, "");
    return row ? `\\[${row}\\]` : whole;
  });
}

/** The final answer in a model output and where it came from; undefined when none is found. */
export function extractAnswer(output: string, opts: ExtractOptions = {}): { answer: string; source: ExtractionSource } | undefined {
  let text = opts.ignoreThinking === false ? output : stripThinking(output);
  if (text.length > MAX_SCAN) text = text.slice(-MAX_SCAN);
  // Asymptote code labels points ("$C(7,4)$"); it states no answer.
  text = cutContinuation(stripCalculatorAnnotations(undoDoubleEscape(text))).replace(/\[asy\][\s\S]*?\[\/asy\]/g, " ");
  text = displayToLastRow(text);
  for (const source of opts.priority ?? DEFAULT_EXTRACTION_PRIORITY) {
    let found: string | undefined;
    switch (source) {
      case "boxed": {
        const box = lastBoxedAnswer(text);
        found = box?.answer;
        // "… \boxed{255} … Final Answer: The final answer is $10,455$.": the later statement wins.
        const stated = box && [...text.slice(box.start).matchAll(STATED_FINAL)].pop();
        if (stated && box) {
          const statedAnswer = phraseAnswer(after(text, box.start + stated.index + stated[0].length));
          // Only a stated value overrides the box, not a remark ("The final answer is positive, because …").
          if (statedAnswer && /[\d\\]/.test(statedAnswer) && !findsBox(text.slice(box.start + stated.index))) found = statedAnswer;
        }
        break;
      }
      case "gsm8k":
        found = gsm8kAnswer(text);
        break;
      case "final_answer":
        found = lastPhrase(FINAL_ANSWER, text);
        break;
      case "answer_line":
        found = lastPhrase(ANSWER_LINE, text);
        break;
      case "whole":
        found = wholeAnswer(text);
        break;
      case "conclusion":
        found = conclusionAnswer(text);
        break;
      case "math_env": {
        const spans = mathSpans(text);
        found = spans.length ? joinSpans(text, spans, spans.length - 1, -1) : undefined;
        break;
      }
      case "last_number": {
        const all = text.match(LAST_NUMBER);
        found = all?.[all.length - 1]?.replace(/,(?=\d{3})/g, "");
        break;
      }
    }
    if (found?.trim()) return { answer: found.trim(), source };
  }
  return undefined;
}

/**
 * The answer a reference states: the reference itself when it is a bare answer (`\frac{1}{2}`,
 * `$x \in [0,1)$`, `\text{Evelyn}`), else what extraction finds in it (a full solution given as gold).
 */
export function referenceAnswer(gold: string): string {
  if (findsBox(gold)) return gold;
  const unwrapped = gold.trim().replace(/^\$+|\$+$/g, "");
  if (unwrapped.length <= 200 && (proseWords(unwrapped) <= 2 || wholeAnswer(gold) !== undefined)) return gold;
  return extractAnswer(gold, { ignoreThinking: false })?.answer ?? gold;
}
