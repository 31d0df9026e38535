// ZERO WIDTH SPACE, ZERO WIDTH NON-JOINER, ZERO WIDTH JOINER, WORD JOINER, BOM / ZERO WIDTH NO-BREAK SPACE.
const ZERO_WIDTH = /\u200B|\u200C|\u200D|\u2060|\uFEFF/g;
const LINE_BREAK = /\r\n?/g;
const TRAILING_BLANKS = /[ \t]+$/gm;
const BLANK_LINE_RUN = /\n{3,}/g;

/**
 * Canonical text layout for training records. In order:
 * 1. removes zero-width characters: U+200B, U+200C, U+200D, U+2060 and U+FEFF (BOM);
 * 2. turns CRLF and lone CR into LF;
 * 3. removes spaces and tabs at the end of every line (tabs elsewhere are kept);
 * 4. folds runs of 3 or more newlines into exactly 2 (one blank line);
 * 5. trims leading and trailing whitespace of the whole text (`String.prototype.trim`);
 * 6. applies Unicode NFC.
 * Nothing else changes: inner spaces, indentation, case, punctuation and LaTeX stay as
 * they are. NFC comes last because removing a zero-width character can bring a base
 * letter and a combining mark together. Idempotent: `normalizeText(normalizeText(x)) === normalizeText(x)`.
 */
export function normalizeText(text: string): string {
  // Each step runs only when a cheap scan says it can change something: this is the
  // hot path of normalize, and most training text is ASCII with LF line ends.
  const ascii = isAscii(text);
  if (!ascii) text = text.replace(ZERO_WIDTH, "");
  if (text.includes("\r")) text = text.replace(LINE_BREAK, "\n");
  if (hasBlankBeforeNewline(text)) text = text.replace(TRAILING_BLANKS, "");
  if (text.includes("\n\n\n")) text = text.replace(BLANK_LINE_RUN, "\n\n");
  text = text.trim();
  return ascii ? text : text.normalize("NFC");
}

/**
 * `text.includes(" \n") || text.includes("\t\n")`, looking only at the line ends: searching for a one-character
 * string is a fast native scan, while a search for " \n" stops at every space of the text.
 */
function hasBlankBeforeNewline(text: string): boolean {
  for (let i = text.indexOf("\n", 1); i !== -1; i = text.indexOf("\n", i + 1)) {
    const before = text.charCodeAt(i - 1);
    if (before === 0x20 || before === 0x09) return true;
  }
  return false;
}

/** Whether every character is ASCII: only then is the UTF-8 length the string length (a native count, 2× a regex). */
export function isAscii(text: string): boolean {
  return Buffer.byteLength(text, "utf8") === text.length;
}
