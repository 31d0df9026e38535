/**
 * Deepest nesting of arrays/objects a reader accepts. `JSON.parse` handles any depth, but
 * `JSON.stringify`, `structuredClone` and every recursive walk downstream overflow the
 * stack somewhere past ~2,000 levels; real datasets nest fewer than 20.
 */
export const DEFAULT_MAX_DEPTH = 256;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Whether the JSON text in `buf[begin, end)` nests arrays/objects deeper than `max`.
 * Strings are skipped with the native `indexOf`, so the cost is one JS step per byte
 * outside strings. Malformed text answers false and is left to `JSON.parse` to report.
 */
export function exceedsJsonDepth(buf: Uint8Array, begin: number, end: number, max: number): boolean {
  // Deeper than `max` needs more than `max` opening brackets.
  if (end - begin <= max) return false;
  let depth = 0;
  for (let i = begin; i < end; i++) {
    const c = buf[i]!;
    if (c === QUOTE) {
      let j = buf.indexOf(QUOTE, i + 1);
      while (j !== -1 && j < end && isEscaped(buf, j)) j = buf.indexOf(QUOTE, j + 1);
      if (j === -1 || j >= end) return false;
      i = j;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/** A quote is escaped when an odd number of backslashes precede it. */
function isEscaped(buf: Uint8Array, quote: number): boolean {
  let n = 0;
  for (let k = quote - 1; buf[k] === BACKSLASH; k--) n++;
  return n % 2 === 1;
}

/**
 * A JSON-safe copy of `value` for logs (rejects) that cannot hold it as it is: containers
 * deeper than `maxDepth` become a marker string, so the copy always serializes.
 */
export function boundedJsonValue(value: unknown, maxDepth = 32): unknown {
  const walk = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v !== "object") return typeof v === "bigint" ? String(v) : v;
    if (depth >= maxDepth) return `[truncated: nested deeper than ${maxDepth} levels]`;
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) out[k] = walk(item, depth + 1);
    return out;
  };
  return walk(value, 0);
}
