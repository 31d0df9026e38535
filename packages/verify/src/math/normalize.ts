import { extractBoxed } from "@infialign/data";

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
  [/∪/g, "\\cup "],
  [/°/g, "^\\circ"],
  [/[\u2009\u202f\u00a0]/g, " "],
];

const TEXT_COMMANDS = "text|textrm|textbf|textit|mbox|mathrm|mathbf|mathit|textnormal|operatorname";
const TEXT_ARG = new RegExp(`\\\\(?:${TEXT_COMMANDS})\\s*\\{([^{}]*)\\}`, "g");
const WHOLE_TEXT = new RegExp(`^\\\\(?:${TEXT_COMMANDS})\\s*\\{([^{}]*)\\}$`);
const CONNECTIVE = new RegExp(`\\\\(?:${TEXT_COMMANDS})\\s*\\{\\s*(?:or|and|,)\\s*\\}`, "g");
const THOUSANDS = /^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;
// Words a plain-text answer may trail its number with ("5 cm", "12 dollars").
const TRAILING_UNIT = /^(-?[\d.,/]+|-?\\frac\{\d+\}\{\d+\})\s+[A-Za-z][A-Za-z .]*$/;

/** Strips `$…$`, `\(…\)`, `\[…\]` and a `\boxed{}` wrapper from a gold answer or extracted span. */
export function unwrapMath(s: string): string {
  let t = s.trim();
  const boxed = t.includes("\\boxed") || t.includes("\\fbox") ? extractBoxed(t) : undefined;
  if (boxed !== undefined) t = boxed;
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
 * Canonical LaTeX for an answer: display wrappers, spacing, units, degrees, percent,
 * currency, thousands separators and trailing punctuation removed; shorthands
 * (`\frac12`, `\sqrt2`, `\dfrac`) expanded; Unicode symbols turned into commands.
 * Two answers with equal normalized strings (ignoring whitespace) are equal.
 */
export function normalizeAnswer(raw: string): string {
  let s = unwrapMath(raw);
  for (const [re, to] of UNICODE) s = s.replace(re, to);
  // Thousands separators that LaTeX writes as `1{,}000` or `1\,000`.
  s = s.replace(/(\d)\{,\}(?=\d{3})/g, "$1");
  s = s.replace(/(\d),\s*\\!\s*(?=\d{3})/g, "$1,");
  while (/(\d)\\[,;:! ](\d{3})(?!\d)/.test(s)) s = s.replace(/(\d)\\[,;:! ](\d{3})(?!\d)/g, "$1$2");
  s = s
    .replace(/\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])\s*\\?([()[\]{}|.])/g, (_m, c: string) => (c === "." ? "" : c === "{" || c === "}" ? `\\${c}` : c))
    .replace(/\\(?:left|right)(?![A-Za-z])/g, "")
    .replace(/\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![A-Za-z])/g, "")
    .replace(/(?<!\\)\\[,;:! ]/g, " ")
    .replace(/\\q?quad(?![A-Za-z])/g, " ")
    .replace(/~/g, " ")
    .replace(/\\[dt]frac(?![A-Za-z])/g, "\\frac")
    .replace(/\\(?:lbrack)(?![A-Za-z])/g, "[")
    .replace(/\\(?:rbrack)(?![A-Za-z])/g, "]")
    .replace(/\\(?:lt)(?![A-Za-z])/g, "<")
    .replace(/\\(?:gt)(?![A-Za-z])/g, ">")
    .replace(/\\(?:leq|leqslant)(?![A-Za-z])/g, "\\le")
    .replace(/\\(?:geq|geqslant)(?![A-Za-z])/g, "\\ge")
    .replace(/\\(?:neq)(?![A-Za-z])/g, "\\ne");
  // Degrees, percent and currency carry no value for comparison (10\% ≡ 10, as Math-Verify).
  s = s
    .replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree/g, "")
    .replace(/\\?%/g, "")
    .replace(/\\\$|\$/g, "")
    .replace(/\\(?:euro|pounds)(?![A-Za-z])|[€£]/g, "");
  s = s.replace(CONNECTIVE, ",");
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
    .replace(/\\sqrt\s*([^{\s\\[])/g, "\\sqrt{$1}");
  // Mixed numbers: 2\frac{1}{2} is 2½ (as Math-Verify), not 2·½.
  s = s.replace(/(^|[^\d.}^_])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}/g, "$1($2+\\frac{$3}{$4})");
  s = s.replace(/\s+/g, " ").trim();
  s = s.replace(/^[A-Za-z]\s*\\in\s*/, "");
  s = s.replace(/^(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*/i, "");
  // Trailing punctuation after a plain answer ("5." or "Paris.").
  s = s.replace(/[\s.;!,:]+$/g, "").replace(/^[\s:]+/, "");
  const unit = TRAILING_UNIT.exec(s);
  if (unit) s = unit[1] ?? s;
  // Units removed above may leave a bare `^2` behind (`5\text{ cm}^2`).
  s = s.replace(/(\d)\s+\^\s*\{?[23]\}?$/, "$1");
  if (THOUSANDS.test(s)) s = s.replace(/,/g, "");
  return s.trim();
}

/** Whitespace-free form used for the exact comparison. */
export function compactAnswer(normalized: string): string {
  return normalized.replace(/\s+/g, "");
}
