const BOX_COMMANDS = ["\\boxed", "\\fbox"] as const;

/**
 * Content of the last top-level `\boxed{…}`, `\fbox{…}` or `\boxed …` in `text`,
 * trimmed; undefined when there is none. Braces nest, and escaped braces (`\{`, `\}`)
 * do not count, so `\boxed{\{1,2\}}` gives `\{1,2\}`. Boxes inside a box belong to it:
 * `\boxed{\boxed{1}}` gives `\boxed{1}`. An unclosed box is skipped. The `\boxed 5`
 * form (MATH's own answer extraction) runs to the next `$` or line end.
 */
export function extractBoxed(text: string): string | undefined {
  let last: string | undefined;
  let i = 0;
  while (i < text.length) {
    const at = nextBoxCommand(text, i);
    if (!at) break;
    let j = at.end;
    while (j < text.length && (text[j] === " " || text[j] === "\t")) j++;
    if (text[j] === "{") {
      const close = matchingBrace(text, j);
      if (close === undefined) {
        i = at.end;
        continue;
      }
      last = text.slice(j + 1, close).trim();
      i = close + 1;
    } else if (j > at.end && at.command === "\\boxed" && j < text.length) {
      // `\boxed 5$`: the argument is everything up to the closing `$` or the line end.
      let k = j;
      while (k < text.length && text[k] !== "$" && text[k] !== "\n") k++;
      const content = text.slice(j, k).trim();
      if (content) last = content;
      i = k;
    } else {
      i = at.end;
    }
  }
  return last;
}

function nextBoxCommand(text: string, from: number): { command: string; end: number } | undefined {
  let best: { command: string; start: number } | undefined;
  for (const command of BOX_COMMANDS) {
    let start = text.indexOf(command, from);
    // `\boxedfoo` is another macro: the command must not continue with a letter.
    while (start !== -1 && /[A-Za-z]/.test(text[start + command.length] ?? "")) start = text.indexOf(command, start + 1);
    if (start !== -1 && (!best || start < best.start)) best = { command, start };
  }
  return best ? { command: best.command, end: best.start + best.command.length } : undefined;
}

/** Index of the `}` closing the `{` at `open`, skipping escaped characters; undefined when unbalanced. */
function matchingBrace(text: string, open: number): number | undefined {
  let depth = 0;
  for (let k = open; k < text.length; k++) {
    const c = text[k];
    if (c === "\\") {
      k++;
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return k;
  }
  return undefined;
}

const CALCULATOR_ANNOTATION = /<<[^<>\n]*>>/g;
const THOUSANDS_COMMA = /(?<=\d),(?=\d)/g;

/** Removes GSM8K calculator annotations: `48/2 = <<48/2=24>>24` → `48/2 = 24`. */
export function stripCalculatorAnnotations(text: string): string {
  return text.replace(CALCULATOR_ANNOTATION, "");
}

/**
 * GSM8K final answer: the text after the last `####`, trimmed, with commas inside
 * numbers removed (`#### 1,000` → `1000`); undefined when there is no `####` or
 * nothing after it.
 */
export function extractGsm8kFinal(text: string): string | undefined {
  const at = text.lastIndexOf("####");
  if (at === -1) return undefined;
  const final = text.slice(at + 4).trim().replace(THOUSANDS_COMMA, "");
  return final || undefined;
}
