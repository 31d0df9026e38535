// LaTeX commands that only change spacing or sizing, and spellings of the same command.
const LATEX = /\\(?:left|right|[bB]igg?[lr]?|displaystyle|[dt]frac|[dt]binom|q?quad|[,;:! ])|\f(?=rac)|[$~]/g;

function latexReplacer(m: string): string {
  if (m === "\f") return "\\f"; // under-escaped `\frac` in some JSON files decodes to a form feed + "rac"
  if (m.endsWith("frac")) return "\\frac ";
  if (m.endsWith("binom")) return "\\binom ";
  return " ";
}

const NON_WORD = /[^\p{L}\p{N}]+/u;

/**
 * Asymptote drawing code, `[asy]…[/asy]` (to the end of the text when unclosed). Figures reuse the same grid, axis and
 * label code across unrelated problems, so matching code is no evidence that the problem itself was copied.
 */
export const DRAWING_CODE = /\[asy\][\s\S]*?(?:\[\/asy\]|$)/gi;

/**
 * Normalizes text for n-gram matching, so that trivially reformatted copies of a benchmark item still match:
 * 1. LaTeX markup: `\left` / `\right` / `\big…` / `\displaystyle` and spacing commands (`\,` `\;` `\:` `\!` `\ ` `\quad` `~`) are dropped,
 *    `$` is dropped, `\dfrac` / `\tfrac` become `\frac` and `\dbinom` / `\tbinom` become `\binom`;
 * 2. lowercase;
 * 3. every run of characters that is not a Unicode letter or digit (punctuation, braces, backslashes, `^`, `_`, whitespace)
 *    becomes one space, so `x^{2}`, `x^2` and `x ^ 2` all read `x 2` (braces around single tokens vanish);
 * 4. leading and trailing space trimmed.
 */
export function normalizeForMatch(text: string): string {
  return tokenizeForMatch(text).join(" ");
}

/** Word tokens of `normalizeForMatch(text)`: what n-grams are built from. */
export function tokenizeForMatch(text: string): string[] {
  const words = text.replace(LATEX, latexReplacer).toLowerCase().split(NON_WORD);
  // split leaves "" at either end when the text starts or ends with a separator.
  if (words.length && words[words.length - 1] === "") words.pop();
  if (words.length && words[0] === "") words.shift();
  return words;
}

/** Words of a text as `tokenizeForMatch` gives them, with `code[i] = 1` for the words inside drawing code (see `DRAWING_CODE`). */
export interface MarkedWords {
  words: string[];
  /** Absent when the text has no drawing code. */
  code?: Uint8Array;
}

/** `tokenizeForMatch(text)` with the words inside drawing code marked. Blocks start and end at non-word characters, so the words are the same. */
export function tokenizeMarkingCode(text: string): MarkedWords {
  const blocks = [...text.matchAll(DRAWING_CODE)];
  if (blocks.length === 0) return { words: tokenizeForMatch(text) };
  const words: string[] = [];
  const marks: number[] = [];
  let from = 0;
  const add = (segment: string, mark: number) => {
    for (const w of tokenizeForMatch(segment)) {
      words.push(w);
      marks.push(mark);
    }
  };
  for (const m of blocks) {
    add(text.slice(from, m.index), 0);
    add(m[0], 1);
    from = m.index + m[0].length;
  }
  add(text.slice(from), 0);
  return { words, code: Uint8Array.from(marks) };
}
