import type { Deadline } from "./deadline.js";
import { type Node, type Rat, rat } from "./parse.js";

/** How two parsed answers matched; false when they did not. */
export type Match = "numeric" | "symbolic" | false;

/**
 * Relative tolerance of the numeric comparison: |a − b| ≤ 1e-6 · max(1, |a|, |b|).
 * Close to Math-Verify's `float_rounding=6` but symmetric and scale-aware.
 */
export const NUMERIC_TOLERANCE = 1e-6;
/** Random points at which expressions with free variables are compared (fixed seed). */
const SAMPLE_POINTS = 6;
const MAX_BITS = 4096n;

type C = { re: number; im: number };

// ---------- exact rational evaluation ----------

function ratAdd(a: Rat, b: Rat): Rat {
  return rat(a.n * b.d + b.n * a.d, a.d * b.d);
}
function ratMul(a: Rat, b: Rat): Rat {
  return rat(a.n * b.n, a.d * b.d);
}
function bits(x: bigint): bigint {
  return BigInt((x < 0n ? -x : x).toString(16).length * 4);
}

function isqrt(n: bigint): bigint | undefined {
  if (n < 0n) return undefined;
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x * x === n ? x : undefined;
}

/** Value as an exact rational when only rational arithmetic is involved; undefined otherwise. */
export function evalRat(n: Node, dl: Deadline): Rat | undefined {
  dl.check();
  switch (n.k) {
    case "num":
      return n.v;
    case "neg": {
      const a = evalRat(n.a, dl);
      return a && { n: -a.n, d: a.d };
    }
    case "add": {
      let acc = rat(0n);
      for (const t of n.a) {
        const v = evalRat(t, dl);
        if (!v) return undefined;
        acc = ratAdd(acc, v);
      }
      return acc;
    }
    case "mul": {
      let acc = rat(1n);
      for (const t of n.a) {
        const v = evalRat(t, dl);
        if (!v) return undefined;
        acc = ratMul(acc, v);
        if (bits(acc.n) + bits(acc.d) > MAX_BITS) return undefined;
      }
      return acc;
    }
    case "div": {
      const a = evalRat(n.a, dl);
      const b = evalRat(n.b, dl);
      if (!a || !b || b.n === 0n) return undefined;
      return rat(a.n * b.d, a.d * b.n);
    }
    case "pow": {
      const a = evalRat(n.a, dl);
      const b = evalRat(n.b, dl);
      if (!a || !b || b.d !== 1n) return undefined;
      const e = b.n < 0n ? -b.n : b.n;
      // Bound the result size before computing it: 10^{10^{10}} must not be expanded.
      if (e > 10_000n || (bits(a.n) + bits(a.d)) * e > MAX_BITS) return undefined;
      if (b.n < 0n && a.n === 0n) return undefined;
      const r = rat(a.n ** e, a.d ** e);
      return b.n < 0n ? rat(r.d, r.n) : r;
    }
    case "fn": {
      if (n.name !== "sqrt") return undefined;
      const a = evalRat(n.a[0]!, dl);
      if (!a) return undefined;
      const rn = isqrt(a.n);
      const rd = isqrt(a.d);
      return rn !== undefined && rd !== undefined ? rat(rn, rd) : undefined;
    }
    default:
      return undefined;
  }
}

// ---------- complex floating-point evaluation ----------

const cx = (re: number, im = 0): C => ({ re, im });
const NAN = cx(Number.NaN, Number.NaN);
const cAdd = (a: C, b: C) => cx(a.re + b.re, a.im + b.im);
const cMul = (a: C, b: C) => cx(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
function cDiv(a: C, b: C): C {
  const d = b.re * b.re + b.im * b.im;
  if (d === 0) return NAN;
  return cx((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d);
}
function cLog(a: C): C {
  return cx(Math.log(Math.hypot(a.re, a.im)), Math.atan2(a.im, a.re));
}
function cExp(a: C): C {
  const m = Math.exp(a.re);
  return cx(m * Math.cos(a.im), m * Math.sin(a.im));
}
function cPow(a: C, b: C): C {
  if (a.im === 0 && b.im === 0 && (a.re >= 0 || Number.isInteger(b.re))) return cx(a.re ** b.re);
  if (a.re === 0 && a.im === 0) return cx(0);
  return cExp(cMul(b, cLog(a)));
}
function realFn(f: (x: number) => number, a: C): C {
  return Math.abs(a.im) > 1e-12 ? NAN : cx(f(a.re));
}
function factorial(x: number): number {
  if (!Number.isInteger(x) || x < 0 || x > 170) return Number.NaN;
  let r = 1;
  for (let k = 2; k <= x; k++) r *= k;
  return r;
}

/** Real functions evaluated on the real part (the answers they appear in are real). */
const REAL_FUNCTIONS: Record<string, (x: number) => number> = {
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  cot: (x) => 1 / Math.tan(x),
  sec: (x) => 1 / Math.cos(x),
  csc: (x) => 1 / Math.sin(x),
  arcsin: Math.asin,
  arccos: Math.acos,
  arctan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  tanh: Math.tanh,
  floor: Math.floor,
  ceil: Math.ceil,
};

/** Complex value of `n` with `env` giving free variables; NaN parts when undefined. */
export function evalC(n: Node, env: Map<string, C>, dl: Deadline): C {
  dl.check();
  switch (n.k) {
    case "num":
      return cx(Number(n.v.n) / Number(n.v.d));
    case "const":
      return n.name === "pi" ? cx(Math.PI) : n.name === "e" ? cx(Math.E) : n.name === "i" ? cx(0, 1) : cx(Number.POSITIVE_INFINITY);
    case "sym":
      return env.get(n.name) ?? NAN;
    case "neg": {
      const a = evalC(n.a, env, dl);
      return cx(-a.re, -a.im);
    }
    case "add":
      return n.a.reduce((acc, t) => cAdd(acc, evalC(t, env, dl)), cx(0));
    case "mul":
      return n.a.reduce((acc, t) => cMul(acc, evalC(t, env, dl)), cx(1));
    case "div":
      return cDiv(evalC(n.a, env, dl), evalC(n.b, env, dl));
    case "pow":
      return cPow(evalC(n.a, env, dl), evalC(n.b, env, dl));
    case "fn": {
      const a = evalC(n.a[0]!, env, dl);
      switch (n.name) {
        case "sqrt":
          return cPow(a, cx(0.5));
        case "abs":
          return cx(Math.hypot(a.re, a.im));
        case "exp":
          return cExp(a);
        case "ln":
          return cLog(a);
        case "log": {
          const base = n.a[1] ? evalC(n.a[1], env, dl) : cx(10);
          return cDiv(cLog(a), cLog(base));
        }
        case "fact":
          return realFn(factorial, a);
        case "binom": {
          const b = evalC(n.a[1]!, env, dl);
          return cx(factorial(a.re) / (factorial(b.re) * factorial(a.re - b.re)));
        }
        default: {
          const fn = Object.hasOwn(REAL_FUNCTIONS, n.name) ? REAL_FUNCTIONS[n.name] : undefined;
          return fn ? realFn(fn, a) : NAN;
        }
      }
    }
    default:
      return NAN;
  }
}

function close(a: C, b: C): boolean {
  const scale = Math.max(1, Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  return Math.hypot(a.re - b.re, a.im - b.im) <= NUMERIC_TOLERANCE * scale;
}

function finite(a: C): boolean {
  return Number.isFinite(a.re) && Number.isFinite(a.im);
}

function hasDecimal(n: Node): boolean {
  if (n.k === "num") return n.text.includes(".");
  if (n.k === "neg") return hasDecimal(n.a);
  if (n.k === "div" || n.k === "pow") return hasDecimal(n.a) || hasDecimal(n.b);
  if (n.k === "add" || n.k === "mul" || n.k === "fn") return n.a.some(hasDecimal);
  return false;
}

export function freeSymbols(n: Node, out = new Set<string>()): Set<string> {
  let kids: Node[] = [];
  if (n.k === "sym") out.add(n.name);
  else if (n.k === "neg") kids = [n.a];
  else if (n.k === "div" || n.k === "pow" || n.k === "pm") kids = [n.a, n.b];
  else if (n.k === "add" || n.k === "mul" || n.k === "fn" || n.k === "union") kids = n.a;
  else if (n.k === "brack" || n.k === "set" || n.k === "list") kids = n.items;
  else if (n.k === "rel") kids = n.terms;
  else if (n.k === "matrix") kids = n.rows.flat();
  for (const k of kids) freeSymbols(k, out);
  return out;
}

/** Deterministic PRNG (mulberry32) so symbolic checks are reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const isInf = (n: Node): -1 | 1 | 0 =>
  n.k === "const" && n.name === "inf" ? 1 : n.k === "neg" && n.a.k === "const" && n.a.name === "inf" ? -1 : 0;

/** Equality of two scalar expressions: exact rationals, then numbers, then random-point identity. */
export function exprEqual(a: Node, b: Node, dl: Deadline): Match {
  const ia = isInf(a);
  const ib = isInf(b);
  if (ia || ib) return ia === ib ? "numeric" : false;
  const ra = evalRat(a, dl);
  const rb = evalRat(b, dl);
  if (ra && rb) {
    if (ra.n === rb.n && ra.d === rb.d) return "numeric";
    // A rounded decimal ("0.333333" for 1/3) gets the numeric tolerance; exact values do not,
    // so 1000000 and 1000001 stay different.
    if (!hasDecimal(a) && !hasDecimal(b)) return false;
    const fa = Number(ra.n) / Number(ra.d);
    const fb = Number(rb.n) / Number(rb.d);
    return close(cx(fa), cx(fb)) ? "numeric" : false;
  }
  const vars = [...freeSymbols(a, freeSymbols(b))].sort();
  if (vars.length === 0) {
    const va = evalC(a, new Map(), dl);
    const vb = evalC(b, new Map(), dl);
    return finite(va) && finite(vb) && close(va, vb) ? "numeric" : false;
  }
  const rand = mulberry32(0x1f2e3d4c);
  let agreed = 0;
  for (let k = 0; k < SAMPLE_POINTS; k++) {
    dl.check();
    const env = new Map<string, C>();
    for (const v of vars) env.set(v, cx(0.3 + 2.2 * rand()));
    const va = evalC(a, env, dl);
    const vb = evalC(b, env, dl);
    if (!finite(va) || !finite(vb)) {
      if (finite(va) !== finite(vb)) return false;
      continue;
    }
    if (!close(va, vb)) return false;
    agreed++;
  }
  return agreed >= 3 ? "symbolic" : false;
}

// ---------- structures ----------

type Interval = { lo: Node; hi: Node; loClosed: boolean; hiClosed: boolean };
const NEG_INF: Node = { k: "neg", a: { k: "const", name: "inf" } };
const POS_INF: Node = { k: "const", name: "inf" };

/** `x < 3` → (-∞, 3); `1 \le x < 2` → [1, 2); undefined when it is not a one-variable inequality. */
function inequalityToInterval(n: Node): Interval | undefined {
  if (n.k !== "rel" || n.ops.some((o) => o === "=" || o === "!=")) return undefined;
  const isVar = (t: Node | undefined) => t?.k === "sym";
  if (n.ops.length === 1) {
    const [l, r] = n.terms as [Node, Node];
    let op = n.ops[0]!;
    let bound: Node;
    if (isVar(l) && !isVar(r)) bound = r;
    else if (isVar(r) && !isVar(l)) {
      bound = l;
      op = op.replace("<", "#").replace(">", "<").replace("#", ">");
    } else return undefined;
    return op.startsWith("<")
      ? { lo: NEG_INF, hi: bound, loClosed: false, hiClosed: op === "<=" }
      : { lo: bound, hi: POS_INF, loClosed: op === ">=", hiClosed: false };
  }
  if (n.ops.length === 2 && isVar(n.terms[1])) {
    const [o1, o2] = n.ops as [string, string];
    const [a, , c] = n.terms as [Node, Node, Node];
    if (o1.startsWith("<") && o2.startsWith("<")) return { lo: a, hi: c, loClosed: o1 === "<=", hiClosed: o2 === "<=" };
    if (o1.startsWith(">") && o2.startsWith(">")) return { lo: c, hi: a, loClosed: o2 === ">=", hiClosed: o1 === ">=" };
  }
  return undefined;
}

function asInterval(n: Node): Interval | undefined {
  if (n.k === "brack" && n.items.length === 2)
    return { lo: n.items[0]!, hi: n.items[1]!, loClosed: n.open === "[", hiClosed: n.close === "]" };
  return inequalityToInterval(n);
}

/** `a \pm b` → [a+b, a−b]; a node without ± → [node]. Bounded to 2^5 combinations. */
export function expandPm(n: Node, budget = { left: 32 }): Node[] {
  switch (n.k) {
    case "pm": {
      const out: Node[] = [];
      for (const a of expandPm(n.a, budget))
        for (const b of expandPm(n.b, budget)) {
          out.push({ k: "add", a: [a, b] }, { k: "add", a: [a, { k: "neg", a: b }] });
          if (--budget.left < 0) throw new Error("too many ± combinations");
        }
      return out;
    }
    case "neg":
      return expandPm(n.a, budget).map((a) => ({ k: "neg", a }));
    case "add":
    case "mul":
    case "fn": {
      let acc: Node[][] = [[]];
      for (const t of n.a) {
        const opts = expandPm(t, budget);
        acc = acc.flatMap((prefix) => opts.map((o) => [...prefix, o]));
      }
      return acc.map((a) => ({ ...n, a }) as Node);
    }
    case "div":
    case "pow": {
      const out: Node[] = [];
      for (const a of expandPm(n.a, budget)) for (const b of expandPm(n.b, budget)) out.push({ ...n, a, b } as Node);
      return out;
    }
    default:
      return [n];
  }
}

function hasPm(n: Node): boolean {
  if (n.k === "pm") return true;
  if (n.k === "neg") return hasPm(n.a);
  if (n.k === "div" || n.k === "pow") return hasPm(n.a) || hasPm(n.b);
  if (n.k === "add" || n.k === "mul" || n.k === "fn") return n.a.some(hasPm);
  return false;
}

/** Unordered collection view: sets, bare comma lists, `or` lists, ± expressions, unions. */
function asUnordered(n: Node): Node[] | undefined {
  if (n.k === "set" || n.k === "list") return n.items.flatMap((t) => (hasPm(t) ? expandPm(t) : [t]));
  if (n.k === "union") return n.a;
  if (hasPm(n)) return expandPm(n);
  return undefined;
}

/** `x = 2` → 2: an equation whose left (or right) side is a lone variable, when compared with a value. */
function stripVarEq(n: Node): Node {
  if (n.k === "rel" && n.ops.length === 1 && n.ops[0] === "=") {
    const [l, r] = n.terms as [Node, Node];
    if (l.k === "sym" || (l.k === "fn" && l.a[0]?.k === "sym")) return r;
    if (r.k === "sym") return l;
  }
  return n;
}

function equationEqual(a: Node, b: Node, dl: Deadline): Match {
  if (a.k !== "rel" || b.k !== "rel" || a.ops.length !== 1 || b.ops.length !== 1 || a.ops[0] !== "=" || b.ops[0] !== "=") return false;
  const da: Node = { k: "add", a: [a.terms[0]!, { k: "neg", a: a.terms[1]! }] };
  const db: Node = { k: "add", a: [b.terms[0]!, { k: "neg", a: b.terms[1]! }] };
  return exprEqual(da, db, dl) || exprEqual(da, { k: "neg", a: db }, dl) || proportional(da, db, dl);
}

/** `2y = 4x + 2` ≡ `y = 2x + 1`: the two differences are a constant non-zero multiple of each other. */
function proportional(a: Node, b: Node, dl: Deadline): Match {
  const vars = [...freeSymbols(a, freeSymbols(b))].sort();
  if (vars.length === 0) return false;
  const rand = mulberry32(0x5eed);
  let ratio: C | undefined;
  let agreed = 0;
  for (let k = 0; k < SAMPLE_POINTS; k++) {
    const env = new Map<string, C>();
    for (const v of vars) env.set(v, cx(0.3 + 2.2 * rand()));
    const r = cDiv(evalC(a, env, dl), evalC(b, env, dl));
    if (!finite(r)) continue;
    if (ratio === undefined) ratio = r;
    else if (!close(r, ratio)) return false;
    agreed++;
  }
  return agreed >= 3 && ratio !== undefined && Math.hypot(ratio.re, ratio.im) > 1e-9 ? "symbolic" : false;
}

function matchAll(as: Node[], bs: Node[], dl: Deadline): Match {
  if (as.length !== bs.length) return false;
  const used = new Array<boolean>(bs.length).fill(false);
  let kind: Match = "numeric";
  for (const x of as) {
    let found = false;
    for (let j = 0; j < bs.length; j++) {
      if (used[j]) continue;
      const m = answersEqual(x, bs[j]!, dl);
      if (m) {
        used[j] = true;
        found = true;
        if (m === "symbolic") kind = m;
        break;
      }
    }
    if (!found) return false;
  }
  return kind;
}

function pairwise(as: Node[], bs: Node[], dl: Deadline): Match {
  if (as.length !== bs.length) return false;
  let kind: Match = "numeric";
  for (let j = 0; j < as.length; j++) {
    const m = answersEqual(as[j]!, bs[j]!, dl);
    if (!m) return false;
    if (m === "symbolic") kind = m;
  }
  return kind;
}

/** Structural equality of two parsed answers (gold first). */
export function answersEqual(a: Node, b: Node, dl: Deadline): Match {
  dl.check();
  const ua = asUnordered(a);
  const ub = asUnordered(b);
  if (ua || ub) {
    const la = ua ?? [a];
    const lb = ub ?? [b];
    return matchAll(la, lb, dl) || matchAll(la.map(stripVarEq), lb.map(stripVarEq), dl);
  }
  if (a.k === "matrix" || b.k === "matrix") {
    if (a.k !== "matrix" || b.k !== "matrix" || a.rows.length !== b.rows.length) return false;
    if (!a.rows.every((r, i) => r.length === b.rows[i]!.length)) return false;
    return pairwise(a.rows.flat(), b.rows.flat(), dl);
  }
  const ia = asInterval(a);
  const ib = asInterval(b);
  if (ia && ib) {
    if (ia.loClosed !== ib.loClosed || ia.hiClosed !== ib.hiClosed) return false;
    return pairwise([ia.lo, ia.hi], [ib.lo, ib.hi], dl);
  }
  if (a.k === "brack" || b.k === "brack") {
    if (a.k !== "brack" || b.k !== "brack" || a.open !== b.open || a.close !== b.close) return false;
    return pairwise(a.items, b.items, dl);
  }
  if (a.k === "rel" || b.k === "rel") {
    if (a.k === "rel" && b.k === "rel") {
      const eq = equationEqual(a, b, dl);
      if (eq) return eq;
      if (a.ops.join() === b.ops.join()) return pairwise(a.terms, b.terms, dl);
    }
    const sa = stripVarEq(a);
    const sb = stripVarEq(b);
    if ((sa !== a || sb !== b) && sa.k !== "rel" && sb.k !== "rel") return answersEqual(sa, sb, dl);
    return false;
  }
  return exprEqual(a, b, dl);
}
