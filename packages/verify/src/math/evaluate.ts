import type { Deadline } from "./deadline.js";
import { type Node, type Rat, rat } from "./parse.js";

/** A complex number; NaN parts mean "undefined here". */
export type C = { re: number; im: number };

const MAX_BITS = 4096n;

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

/** Sum or product of exact values; undefined when a term is not rational or the result grows too large. */
function foldRat(terms: Node[], start: Rat, op: (a: Rat, b: Rat) => Rat, dl: Deadline): Rat | undefined {
  let acc = start;
  for (const t of terms) {
    const v = evalRat(t, dl);
    if (!v) return undefined;
    acc = op(acc, v);
    if (bits(acc.n) + bits(acc.d) > MAX_BITS) return undefined;
  }
  return acc;
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
    case "pct": {
      const a = evalRat(n.a, dl);
      return a && rat(a.n, a.d * 100n);
    }
    case "add":
      return foldRat(n.a, rat(0n), ratAdd, dl);
    case "mul":
      return foldRat(n.a, rat(1n), ratMul, dl);
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

// ---------- floating-point evaluation ----------

export const cx = (re: number, im = 0): C => ({ re, im });
const NAN = cx(Number.NaN, Number.NaN);
const cAdd = (a: C, b: C) => cx(a.re + b.re, a.im + b.im);
const cMul = (a: C, b: C) => cx(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
export function cDiv(a: C, b: C): C {
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
function cPow(a: C, b: C, real: boolean): C {
  if (a.im === 0 && b.im === 0 && (a.re >= 0 || Number.isInteger(b.re))) return cx(a.re ** b.re);
  // Real evaluation: a negative base with a fractional exponent has no principal real value.
  if (real) return NAN;
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

/**
 * Value of `n` with `env` giving free variables; NaN parts where undefined. With `real`, any
 * non-real intermediate (√ of a negative, log of a non-positive) makes the value undefined, so
 * `√x·√y` and `√(xy)` are compared only where both are real.
 */
export function evalC(n: Node, env: Map<string, C>, dl: Deadline, real = false): C {
  dl.check();
  const ev = (m: Node) => evalC(m, env, dl, real);
  switch (n.k) {
    case "num":
      return cx(Number(n.v.n) / Number(n.v.d));
    case "const":
      return n.name === "pi" ? cx(Math.PI) : n.name === "e" ? cx(Math.E) : n.name === "i" ? cx(0, 1) : cx(Number.POSITIVE_INFINITY);
    case "sym":
      return env.get(n.name) ?? NAN;
    case "neg": {
      const a = ev(n.a);
      return cx(-a.re, -a.im);
    }
    case "pct": {
      const a = ev(n.a);
      return cx(a.re / 100, a.im / 100);
    }
    case "add":
      return n.a.reduce((acc, t) => cAdd(acc, ev(t)), cx(0));
    case "mul":
      return n.a.reduce((acc, t) => cMul(acc, ev(t)), cx(1));
    case "div":
      return cDiv(ev(n.a), ev(n.b));
    case "pow":
      return cPow(ev(n.a), ev(n.b), real);
    case "fn": {
      const a = ev(n.a[0]!);
      switch (n.name) {
        case "sqrt":
          return real && (a.re < 0 || a.im !== 0) ? NAN : cPow(a, cx(0.5), real);
        case "abs":
          return cx(Math.hypot(a.re, a.im));
        case "exp":
          return cExp(a);
        case "ln":
          return real && (a.re <= 0 || a.im !== 0) ? NAN : cLog(a);
        case "log": {
          const base = n.a[1] ? ev(n.a[1]) : cx(10);
          if (real && (a.re <= 0 || a.im !== 0 || base.re <= 0)) return NAN;
          return cDiv(cLog(a), cLog(base));
        }
        case "fact":
          return realFn(factorial, a);
        case "binom": {
          const b = ev(n.a[1]!);
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

/** Whether the expression mentions the imaginary unit (then it is evaluated over the complex numbers). */
export function mentionsI(n: Node): boolean {
  if (n.k === "const") return n.name === "i";
  return children(n).some(mentionsI);
}

/** Direct sub-expressions of a node. */
export function children(n: Node): Node[] {
  switch (n.k) {
    case "neg":
    case "pct":
      return [n.a];
    case "div":
    case "pow":
    case "pm":
    case "setminus":
      return [n.a, n.b];
    case "add":
    case "mul":
    case "fn":
    case "union":
      return n.a;
    case "brack":
    case "set":
    case "list":
      return n.items;
    case "rel":
    case "ratio":
      return n.terms;
    case "matrix":
      return n.rows.flat();
    default:
      return [];
  }
}

export function freeSymbols(n: Node, out = new Set<string>()): Set<string> {
  if (n.k === "sym") out.add(n.name);
  for (const k of children(n)) freeSymbols(k, out);
  return out;
}

/**
 * A name rather than a value: `x`, `AB`, `V_1`, `f(x)`, `(p, q)`, `V_1:V_2`, `\frac{NO}{BO}`.
 * Equations with a label on one side state the other side as the answer (`(p,q)=(3,2)` is `(3,2)`).
 */
export function isLabel(n: Node): boolean {
  switch (n.k) {
    case "sym":
      return true;
    case "mul":
    case "fn":
      return n.a.every(isLabel);
    case "div":
      return isLabel(n.a) && isLabel(n.b);
    case "brack":
    case "list":
      return n.items.every(isLabel);
    case "ratio":
      return n.terms.every(isLabel);
    default:
      return false;
  }
}
