import { createHash } from "node:crypto";

/** JSON with sorted object keys and undefined dropped, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object" && value.constructor === Object) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256Hex(...parts: string[]): string {
  return sha256OfParts(parts);
}

/** `sha256Hex` over an iterable: for long lists (benchmark items, a corpus), which must not be spread into arguments. */
export function sha256OfParts(parts: Iterable<string>): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\u0000");
  return hash.digest("hex");
}

// Characters whose escape `quoteJsonString` leaves to JSON.stringify: control characters other than LF, and surrogates
// (JSON.stringify escapes a lone one, keeps a pair).
const RARE_ESCAPES = /[\u0000-\u0009\u000b-\u001f\ud800-\udfff]/;
/** Below this length JSON.stringify's own escaping is as fast. */
const SHORT_STRING = 64;

/**
 * `JSON.stringify(text)`. V8 11 (Node 20) escapes a long string one character at a time at ~4 ns per character;
 * native `replaceAll` of the three common escapes (backslash, quote, LF) does the same 2-3× faster. Strings with
 * any other character JSON escapes go to JSON.stringify itself.
 */
export function quoteJsonString(text: string): string {
  if (text.length < SHORT_STRING || RARE_ESCAPES.test(text)) return JSON.stringify(text);
  let body = text;
  // Backslashes first: the escapes added after them contain backslashes of their own.
  if (body.includes("\\")) body = body.replaceAll("\\", "\\\\");
  if (body.includes('"')) body = body.replaceAll('"', '\\"');
  if (body.includes("\n")) body = body.replaceAll("\n", "\\n");
  return `"${body}"`;
}

const quotedKeys = new Map<string, string>();

function quoteKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    // Records have few distinct keys; a source with ever-new keys must not grow this without bound.
    if (quotedKeys.size >= 1024) quotedKeys.clear();
    quotedKeys.set(key, quoted);
  }
  return quoted;
}

/**
 * `JSON.stringify(value)` (no replacer, no indentation), with the same output for every value, faster for a record:
 * a plain object whose long string values are escaped by `quoteJsonString`, and whose field repeating the string
 * of the field before it (a Sample's `response` and `reasoning`, `answer` and `gold`) is escaped once. Anything
 * else (arrays, class instances, `toJSON`, BigInt, a value JSON.stringify rejects) is left to JSON.stringify, which
 * also throws its own error when the value cannot be serialized.
 */
export function jsonStringify(value: unknown): string | undefined {
  if (typeof value === "string") return quoteJsonString(value);
  if (!isPlainRecord(value)) return JSON.stringify(value);
  let out = "";
  let lastString: string | undefined;
  let lastJson = "";
  try {
    for (const key of Object.keys(value)) {
      const field = value[key];
      let json: string | undefined;
      if (typeof field === "string") {
        if (field !== lastString) {
          lastString = field;
          lastJson = quoteJsonString(field);
        }
        json = lastJson;
      } else if (typeof field === "bigint" || ((typeof field === "object" || typeof field === "function") && field !== null && typeof (field as { toJSON?: unknown }).toJSON === "function")) {
        // toJSON gets the property name as its argument, which a nested JSON.stringify would not pass.
        return JSON.stringify(value);
      } else {
        json = JSON.stringify(field);
      }
      if (json !== undefined) out += `${out === "" ? "{" : ","}${quoteKey(key)}:${json}`;
    }
  } catch {
    // A cycle or a record too deep for the stack: JSON.stringify reports it as it always does.
    return JSON.stringify(value);
  }
  return out === "" ? "{}" : `${out}}`;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype &&
    typeof (value as { toJSON?: unknown }).toJSON !== "function"
  );
}
