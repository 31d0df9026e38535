import { lastBoxedAnswer } from "./boxes.js";

const UNICODE: Array<[RegExp, string]> = [
  // √13 is the root of 13, unlike LaTeX's \sqrt13 (= \sqrt{1}3).
  [/√\s*(\d+(?:\.\d+)?|[A-Za-z])/g, "\\sqrt{$1}"],
  [/√/g, "\\sqrt"],
  [/π/g, "\\pi "],
  [/∞/g, "\\infty "],
  [/±/g, "\\pm "],
  [/∓/g, "\\mp "],
  [/×/g, "\\times "],
  [/[·⋅]/g, "\\cdot "],
  [/÷/g, "\\div "],
  [/[−–—]/g, "-"],
  [/≤/g, "\\le "],
  [/≥/g, "\\ge "],
  [/≠/g, "\\ne "],
  [/≈/g, "\\approx "],
  [/∪/g, "\\cup "],
  [/∈/g, "\\in "],
  [/°/g, "^\\circ"],
  [/²/g, "^2"],
  [/³/g, "^3"],
  [/[\u2009\u202f\u00a0]/g, " "],
];

const TEXT_COMMANDS = "text|textrm|textbf|textit|mbox|mathrm|mathbf|mathit|textnormal|operatorname";
const TEXT_ARG = new RegExp(`\\\\(?:${TEXT_COMMANDS})\\s*\\{([^{}]*)\\}`, "g");
const WHOLE_TEXT = new RegExp(`^\\\\(?:${TEXT_COMMANDS})\\s*\\{([^{}]*)\\}$`);
const CONNECTIVE = new RegExp(`\\\\(?:${TEXT_COMMANDS})\\s*\\{\\s*(?:or|and|,)\\s*\\}`, "g");
// A thousands-grouped number: 1,000 and 1,000.5, never 0,111 (a group cannot start with 0).
const THOUSANDS = /^-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$/;
// Words a plain-text answer may trail its number with ("5 cm", "12 dollars"), and unit symbols
// written against it ("1,000.99m^2", "12km"); a single letter against a number is a variable (2x).
const TRAILING_UNIT = /^(-?[\d.,/]+%?|-?\\frac\{\d+\}\{\d+\})(?:\s+[A-Za-z][A-Za-z .]*|\s*(?:[ck]?m\^\{?[23]\}?|cm|mm|km|kg|mg|ml|mL|ft|hrs?|min|sec|lbs?|oz|mph))$/;
// Filler that introduces an answer but never belongs to it ("therefore 3", "approximately 2.5").
const FILLER = /^(?:(?:therefore|thus|hence|so|then|finally|approximately|about|roughly|around|exactly|just|simply|equal to|equals|given by)\b[\s,:]*)+/i;

/** Removes words that introduce an answer but never belong to it ("therefore 3" → "3"). */
export function stripFiller(s: string): string {
  return s.replace(FILLER, "");
}

/** A text whose backslashes were escaped twice (`\\frac{1}{2}` in a JSON string written once more). */
const DOUBLE_ESCAPED = /\\\\[A-Za-z]{2,}/;
const SINGLE_COMMAND = /(?<!\\)\\[A-Za-z]{2,}/;

/** Undoes a doubled escaping of backslashes, when every command in the text is written with two. */
export function undoDoubleEscape(text: string): string {
  return DOUBLE_ESCAPED.test(text) && !SINGLE_COMMAND.test(text) ? text.replace(/\\\\/g, "\\") : text;
}

/** Strips `$…$`, `\(…\)`, `\[…\]` and `\boxed{}` wrappers (several boxes in a row form one answer). */
export function unwrapMath(s: string): string {
  let t = undoDoubleEscape(s).trim();
  const boxed = t.includes("\\boxed") || t.includes("\\fbox") ? lastBoxedAnswer(t) : undefined;
  if (boxed !== undefined) t = boxed.answer;
  for (;;) {
    const before = t;
    t = t.trim();
    if (t.startsWith("$$") && t.endsWith("$$") && t.length >= 4) t = t.slice(2, -2);
    else if (t.startsWith("$") && t.endsWith("$") && t.length >= 2) t = t.slice(1, -1);
    else if ((t.startsWith("\\(") && t.endsWith("\\)")) || (t.startsWith("\\[") && t.endsWith("\\]"))) t = t.slice(2, -2);
    if (t === before) return t;
  }
}

/**
 * Canonical LaTeX for an answer: display wrappers, spacing, units, degrees, currency, thousands
 * separators and trailing punctuation removed; shorthands (`\frac12`, `\sqrt2`, `\dfrac`)
 * expanded; Unicode symbols and plain-text `pi`, `inf`, `sqrt` turned into commands; `and`/`or`
 * between values turned into commas. A percent sign is kept as `%` (the comparison reads `25%`
 * as 25 or as 1/4). Two answers with equal normalized strings (ignoring whitespace) are equal.
 */
export function normalizeAnswer(raw: string): string {
  let s = unwrapMath(raw);
  // Each group of rewrites runs only when its trigger is present: most answers are short and plain.
  if (/[^\x00-\x7f]/.test(s)) for (const [re, to] of UNICODE) s = s.replace(re, to);
  if (/[\\{~]/.test(s)) s = latexCommands(s);
  if (/[%$€£\\]|p(?:er ?cent|ct)\b/i.test(s)) {
    // Degrees and currency carry no value for comparison; percent is kept as `%`.
    s = s
      .replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree/g, "")
      .replace(/\\%/g, "%")
      .replace(/(\d)\s*(?:percent|per cent|pct)\b/gi, "$1%")
      .replace(/\\\$|\$/g, "")
      .replace(/\\(?:euro|pounds)(?![A-Za-z])|[€£]/g, "");
  }
  if (s.includes("\\")) s = textAndShorthands(s);
  s = s.replace(/\s+/g, " ").trim();
  if (/[A-Za-z]{2}/.test(s)) s = plainTextMath(s);
  s = s.replace(/^[A-Za-z]\s*\\in\s*/, "");
  s = s.replace(/^(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*/i, "").replace(FILLER, "");
  // Trailing punctuation after a plain answer ("5." or "Paris.").
  s = s.replace(/[\s.;!,:]+$/g, "").replace(/^[\s:]+/, "");
  const unit = TRAILING_UNIT.exec(s);
  if (unit) s = unit[1] ?? s;
  // Units removed above may leave a bare `^2` behind (`5\text{ cm}^2`).
  s = s.replace(/(\d)\s+\^\s*\{?[23]\}?$/, "$1");
  // `1 000 000`: groups of three digits separated by spaces.
  s = s.replace(/(?<![\d.])[1-9]\d{0,2}(?: \d{3})+(?![\d.])/g, (m) => m.replace(/ /g, ""));
  if (THOUSANDS.test(s)) s = s.replace(/,/g, "");
  return s.trim();
}

/** Thousands separators written in LaTeX, delimiters, spacing, and commands with a plain equivalent. */
function latexCommands(raw: string): string {
  // Thousands separators that LaTeX writes as `1{,}000` or `1\,000`.
  let s = raw.replace(/(\d)\s*\{\s*,\s*\}\s*(?=\d{3})/g, "$1");
  s = s.replace(/(\d),\s*\\!\s*(?=\d{3})/g, "$1,");
  while (/(\d)\\[,;:! ](\d{3})(?!\d)/.test(s)) s = s.replace(/(\d)\\[,;:! ](\d{3})(?!\d)/g, "$1$2");
  return s
    .replace(/\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])\s*\\?([()[\]{}|.])/g, (_m, c: string) => (c === "." ? "" : c === "{" || c === "}" ? `\\${c}` : c))
    .replace(/\\(?:left|right)(?![A-Za-z])/g, "")
    .replace(/\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![A-Za-z])/g, "")
    .replace(/(?<!\\)\\[,;:! ]/g, " ")
    .replace(/\\q?quad(?![A-Za-z])/g, " ")
    .replace(/~/g, " ")
    .replace(/\\[dt]frac(?![A-Za-z])/g, "\\frac")
    .replace(/\\(?:lbrack)(?![A-Za-z])/g, "[")
    .replace(/\\(?:rbrack)(?![A-Za-z])/g, "]")
    .replace(/\\lbrace(?![A-Za-z])/g, "\\{")
    .replace(/\\rbrace(?![A-Za-z])/g, "\\}")
    .replace(/\\(?:lt)(?![A-Za-z])/g, "<")
    .replace(/\\(?:gt)(?![A-Za-z])/g, ">")
    .replace(/\\(?:leq|leqslant)(?![A-Za-z])/g, "\\le")
    .replace(/\\(?:geq|geqslant)(?![A-Za-z])/g, "\\ge")
    .replace(/\\(?:neq)(?![A-Za-z])/g, "\\ne")
    .replace(/\\backslash(?![A-Za-z])/g, "\\setminus")
    .replace(/\{\s*([^{}]+?)\s*\\choose\s*([^{}]+?)\s*\}/g, "\\binom{$1}{$2}")
    .replace(/\\mathbb\s*\{?R\}?|\\R(?![A-Za-z])/g, "(-\\infty,\\infty)");
}

/** `\text{}` words and units, `or`/`and` connectives, and the `\frac12`, `\sqrt2`, `2\frac{1}{2}` shorthands. */
function textAndShorthands(raw: string): string {
  let s = raw.replace(CONNECTIVE, ",");
  const whole = WHOLE_TEXT.exec(s.trim());
  if (whole) s = whole[1] ?? "";
  s = s.replace(TEXT_ARG, (_m, body: string) => {
    const b = body.trim();
    // A lone letter is a variable or constant (`\mathrm{e}`); words are units or filler.
    if (/^[A-Za-z]$/.test(b)) return b;
    if (/^[A-Za-z .]*$/.test(b)) return " ";
    return ` ${b} `;
  });
  // Shorthand arguments: \frac12, \frac1{x}, \frac{1}2, \sqrt2.
  s = s
    .replace(/\\frac\s*([^{\s\\])\s*([^{\s\\])/g, "\\frac{$1}{$2}")
    .replace(/\\frac\s*([^{\s\\])\s*\{/g, "\\frac{$1}{")
    .replace(/\\frac\s*(\{[^{}]*\})\s*([^{\s\\])/g, "\\frac$1{$2}")
    .replace(/\\sqrt\s*([^{\s\\[(])/g, "\\sqrt{$1}");
  // Mixed numbers: 2\frac{1}{2} is 2½ (as Math-Verify), not 2·½.
  return s.replace(/(^|[^\d.}^_])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}/g, "$1($2+\\frac{$3}{$4})");
}

/**
 * Plain-text math as models write it outside LaTeX: `pi`, `inf`/`infinity`/`oo`, `all real
 * numbers`, and `and`/`or` between values (`n = 1 and n = -2` → `n = 1, n = -2`).
 */
function plainTextMath(s: string): string {
  let t = s
    .replace(/(?<![\\A-Za-z])pi(?![A-Za-z])/g, "\\pi ")
    .replace(/(?<![\\A-Za-z])(?:infinity|infty|inf|oo)(?![A-Za-z])/g, "\\infty ")
    .replace(/\ball real numbers\b/gi, "(-\\infty,\\infty)");
  if (/[\d\\=(]/.test(t)) t = t.replace(/\s+(?:and|or)\s+|(?<=[)\]}\d])\s*(?:and|or)\s*(?=[([{\d\\-])/gi, ", ");
  return t.replace(/\s+/g, " ").trim();
}

/** Whitespace-free form used for the exact comparison. */
export function compactAnswer(normalized: string): string {
  return normalized.replace(/\s+/g, "");
}
