/** Relative and absolute tolerance for numbers, as in LiveCodeBench-style graders. */
export interface FloatTolerance {
  /** Largest accepted |a − b| / max(|a|, |b|). @default 1e-6 */
  relTol?: number;
  /** Largest accepted |a − b|, for values near zero. @default 1e-6 */
  absTol?: number;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function numbersClose(a: number, b: number, tol: FloatTolerance): boolean {
  if (a === b) return true;
  const rel = tol.relTol ?? 1e-6;
  const abs = tol.absTol ?? 1e-6;
  const diff = Math.abs(a - b);
  return diff <= abs || diff <= rel * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Compares program output with the expected stdout token by token: any run of whitespace
 * (line breaks included, trailing blank lines ignored) separates tokens, and two tokens that
 * both read as decimal numbers match when close within the tolerance; others must be equal.
 */
export function compareStdout(actual: string, expected: string, tol: FloatTolerance = {}): boolean {
  const a = actual.split(/\s+/).filter(Boolean);
  const e = expected.split(/\s+/).filter(Boolean);
  if (a.length !== e.length) return false;
  return a.every((tok, i) => {
    const exp = e[i] as string;
    if (tok === exp) return true;
    return NUMBER.test(tok) && NUMBER.test(exp) && numbersClose(Number(tok), Number(exp), tol);
  });
}

/** Deep JSON equality where numbers match within the tolerance; object key order is ignored. */
export function jsonEqual(actual: unknown, expected: unknown, tol: FloatTolerance = {}): boolean {
  if (typeof actual === "number" && typeof expected === "number") return numbersClose(actual, expected, tol);
  if (Array.isArray(actual) || Array.isArray(expected)) {
    if (!Array.isArray(actual) || !Array.isArray(expected) || actual.length !== expected.length) return false;
    return actual.every((v, i) => jsonEqual(v, expected[i], tol));
  }
  if (actual !== null && expected !== null && typeof actual === "object" && typeof expected === "object") {
    const ka = Object.keys(actual);
    const ke = Object.keys(expected);
    if (ka.length !== ke.length) return false;
    return ka.every((k) => Object.hasOwn(expected, k) && jsonEqual((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], tol));
  }
  return actual === expected;
}
