/** A `\boxed{…}` / `\fbox{…}` in a text: its content and where it stands. */
export interface Box {
  start: number;
  end: number;
  content: string;
}

const BOX = /\\(?:boxed|fbox)(?![A-Za-z])/g;

/** A box longer than this holds no answer; the bound keeps unclosed boxes from rescanning the text. */
const MAX_BOX = 1000;

/** End (exclusive) of the brace group opening at `open`, escaped braces skipped; -1 when unbalanced. */
function groupEnd(text: string, open: number): number {
  let depth = 0;
  const end = Math.min(text.length, open + MAX_BOX);
  for (let k = open; k < end; k++) {
    const c = text.charCodeAt(k);
    if (c === 92 /* \ */) k++;
    else if (c === 123 /* { */) depth++;
    else if (c === 125 /* } */ && --depth === 0) return k + 1;
  }
  return -1;
}

/**
 * Every top-level box, in order (a box inside a box belongs to it). `\boxed 5` without braces
 * runs to the next `$` or line end, as MATH's own extraction reads it; an unclosed box is skipped.
 */
export function findBoxes(text: string): Box[] {
  const out: Box[] = [];
  BOX.lastIndex = 0;
  for (let m = BOX.exec(text); m; m = BOX.exec(text)) {
    let j = BOX.lastIndex;
    while (text[j] === " " || text[j] === "\t") j++;
    if (text[j] === "{") {
      const end = groupEnd(text, j);
      if (end === -1) continue;
      out.push({ start: m.index, end, content: text.slice(j + 1, end - 1).trim() });
      BOX.lastIndex = end;
    } else if (j > BOX.lastIndex && m[0] === "\\boxed") {
      let k = j;
      while (k < text.length && text[k] !== "$" && text[k] !== "\n") k++;
      const content = text.slice(j, k).trim();
      if (content) out.push({ start: m.index, end: k, content });
      BOX.lastIndex = k;
    }
  }
  return out;
}

/**
 * What may stand between boxes that together form one answer: `\boxed{1}, \boxed{2}`,
 * `\boxed{-2} \text{ and } \boxed{1}`, `$\boxed{1}$ or $\boxed{2}$`.
 */
const JOINER = /^(?:\s|\$|\\[()[\]]|[,;&]|\\q?quad|\\[,;: !]|\\(?:text|mathrm|textbf)\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b)*$/;
const MAX_JOINER = 40;

/**
 * The last box, joined with the boxes just before it when only separators stand between them
 * (`\boxed{1}, \boxed{2}` → `1, 2`). Repeated identical contents count once. Undefined without a box.
 */
export function lastBoxedAnswer(text: string): { answer: string; start: number } | undefined {
  const boxes = findBoxes(text);
  let i = boxes.length - 1;
  if (i < 0) return undefined;
  while (i > 0) {
    const gap = text.slice(boxes[i - 1]!.end, boxes[i]!.start);
    if (gap.length > MAX_JOINER || !JOINER.test(gap)) break;
    i--;
  }
  const contents = [...new Set(boxes.slice(i).map((b) => b.content))];
  return { answer: contents.join(", "), start: boxes[i]!.start };
}
