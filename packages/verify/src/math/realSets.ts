import type { Deadline } from "./deadline.js";
import { evalC, isLabel } from "./evaluate.js";
import type { Node } from "./parse.js";

/** A closed, open or half-open interval with numeric endpoints (±Infinity allowed); a point is [v, v]. */
export type Span = { lo: number; hi: number; loClosed: boolean; hiClosed: boolean };

const INF = Number.POSITIVE_INFINITY;

/** Endpoints are compared to this relative precision (they come from exact answers, not rounding). */
const ENDPOINT_TOLERANCE = 1e-9;

function value(n: Node, dl: Deadline): number | undefined {
  const v = evalC(n, new Map(), dl, true);
  if (Number.isNaN(v.re) || Math.abs(v.im) > 1e-12) return undefined;
  return v.re;
}

/**
 * `x < 3` → (-∞, 3); `1 \le x < 2` → [1, 2); `0 < f(x) < 1` → (0, 1): a name (see isLabel)
 * against bounds that are not names.
 */
export function inequalityBounds(n: Node): { lo?: Node; hi?: Node; loClosed: boolean; hiClosed: boolean } | undefined {
  if (n.k !== "rel" || n.ops.some((o) => !["<", "<=", ">", ">="].includes(o))) return undefined;
  const isVar = (t: Node | undefined) => t !== undefined && isLabel(t);
  if (n.ops.length === 1) {
    const [l, r] = n.terms as [Node, Node];
    let op = n.ops[0]!;
    let bound: Node;
    if (isVar(l) && !isVar(r)) bound = r;
    else if (isVar(r) && !isVar(l)) {
      bound = l;
      op = op.startsWith("<") ? op.replace("<", ">") : op.replace(">", "<");
    } else return undefined;
    return op.startsWith("<") ? { hi: bound, loClosed: false, hiClosed: op === "<=" } : { lo: bound, loClosed: op === ">=", hiClosed: false };
  }
  if (n.ops.length === 2 && isVar(n.terms[1])) {
    const [o1, o2] = n.ops as [string, string];
    const [a, , c] = n.terms as [Node, Node, Node];
    if (o1.startsWith("<") && o2.startsWith("<")) return { lo: a, hi: c, loClosed: o1 === "<=", hiClosed: o2 === "<=" };
    if (o1.startsWith(">") && o2.startsWith(">")) return { lo: c, hi: a, loClosed: o2 === ">=", hiClosed: o1 === ">=" };
  }
  return undefined;
}

/** The node as a finite union of spans, or undefined when it is not a set of reals with numeric bounds. */
export function toSpans(n: Node, dl: Deadline): Span[] | undefined {
  dl.check();
  switch (n.k) {
    case "brack": {
      if (n.items.length !== 2) return undefined;
      const lo = value(n.items[0]!, dl);
      const hi = value(n.items[1]!, dl);
      if (lo === undefined || hi === undefined || lo > hi || (lo === hi && (n.open === "(" || n.close === ")"))) return undefined;
      return [{ lo, hi, loClosed: n.open === "[" && lo !== -INF, hiClosed: n.close === "]" && hi !== INF }];
    }
    case "set": {
      const out: Span[] = [];
      for (const item of n.items) {
        const v = value(item, dl);
        if (v === undefined || !Number.isFinite(v)) return undefined;
        out.push({ lo: v, hi: v, loClosed: true, hiClosed: true });
      }
      return canonical(out);
    }
    case "union": {
      const out: Span[] = [];
      for (const part of n.a) {
        const s = toSpans(part, dl);
        if (!s) return undefined;
        out.push(...s);
      }
      return canonical(out);
    }
    case "setminus": {
      const a = toSpans(n.a, dl);
      const b = toSpans(n.b, dl);
      return a && b ? minus(a, b) : undefined;
    }
    case "rel": {
      const bounds = inequalityBounds(n);
      if (!bounds) return undefined;
      const lo = bounds.lo ? value(bounds.lo, dl) : -INF;
      const hi = bounds.hi ? value(bounds.hi, dl) : INF;
      if (lo === undefined || hi === undefined || lo > hi) return undefined;
      return [{ lo, hi, loClosed: bounds.loClosed && lo !== -INF, hiClosed: bounds.hiClosed && hi !== INF }];
    }
    default:
      return undefined;
  }
}

/** Sorted, with overlapping or touching spans merged. */
function canonical(spans: Span[]): Span[] {
  const sorted = spans.filter((s) => s.lo < s.hi || (s.loClosed && s.hiClosed)).sort((a, b) => a.lo - b.lo || Number(b.loClosed) - Number(a.loClosed));
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && (s.lo < last.hi || (s.lo === last.hi && (last.hiClosed || s.loClosed)))) {
      if (s.hi > last.hi) {
        last.hi = s.hi;
        last.hiClosed = s.hiClosed;
      } else if (s.hi === last.hi) last.hiClosed ||= s.hiClosed;
    } else out.push({ ...s });
  }
  return out;
}

/** a \ b for canonical span lists. */
function minus(a: Span[], b: Span[]): Span[] {
  let rest = a.map((s) => ({ ...s }));
  for (const cut of b) {
    const next: Span[] = [];
    for (const s of rest) {
      if (s.lo < cut.lo || (s.lo === cut.lo && s.loClosed && !cut.loClosed)) {
        // The part of s below the cut.
        if (s.hi < cut.lo) next.push(s);
        else next.push({ lo: s.lo, hi: cut.lo, loClosed: s.loClosed, hiClosed: !cut.loClosed && (s.hi > cut.lo || s.hiClosed) });
      }
      if (s.hi > cut.hi || (s.hi === cut.hi && s.hiClosed && !cut.hiClosed)) {
        // The part of s above the cut.
        if (s.lo > cut.hi) next.push(s);
        else next.push({ lo: cut.hi, hi: s.hi, loClosed: !cut.hiClosed && (s.lo < cut.hi || s.loClosed), hiClosed: s.hiClosed });
      }
    }
    rest = next;
  }
  return canonical(rest);
}

function near(x: number, y: number): boolean {
  if (x === y) return true;
  return Math.abs(x - y) <= ENDPOINT_TOLERANCE * Math.max(1, Math.abs(x), Math.abs(y));
}

/** Equality of two canonical span lists. */
export function spansEqual(a: Span[], b: Span[]): boolean {
  return a.length === b.length && a.every((s, i) => {
    const t = b[i]!;
    return near(s.lo, t.lo) && near(s.hi, t.hi) && s.loClosed === t.loClosed && s.hiClosed === t.hiClosed;
  });
}
