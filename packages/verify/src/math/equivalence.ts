import type { Deadline } from "./deadline.js";
import { type C, cDiv, cx, evalC, evalRat, freeSymbols, isLabel, mentionsI } from "./evaluate.js";
import type { Node } from "./parse.js";
import { inequalityBounds, spansEqual, toSpans } from "./realSets.js";

/**
 * How two parsed answers matched, strongest first: `exact` (equal rationals or identical
 * structure), `numeric` (within NUMERIC_TOLERANCE, a side being a rounded decimal), `symbolic`
 * (identity at sample points); false when they did not.
 */
export type Match = "exact" | "numeric" | "symbolic" | false;

/**
 * Relative tolerance of the numeric comparison: |a − b| ≤ 1e-6 · max(1, |a|, |b|).
 * Close to Math-Verify's `float_rounding=6` but symmetric and scale-aware.
 */
export const NUMERIC_TOLERANCE = 1e-6;
/** Points at which expressions with free variables are compared (fixed seed); the first few are all positive. */
const SAMPLE_POINTS = 10;
const POSITIVE_POINTS = 4;
/** Points where both sides are defined and agree, needed to call two expressions identical. */
const MIN_AGREEING_POINTS = 3;

const RANK: Record<Exclude<Match, false>, number> = { exact: 0, numeric: 1, symbolic: 2 };
/** The weaker of two matches (a structure is only as exact as its least exact part). */
function weaker(a: Exclude<Match, false>, b: Exclude<Match, false>): Exclude<Match, false> {
  return RANK[a] >= RANK[b] ? a : b;
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
  if (n.k === "neg" || n.k === "pct") return hasDecimal(n.a);
  if (n.k === "div" || n.k === "pow") return hasDecimal(n.a) || hasDecimal(n.b);
  if (n.k === "add" || n.k === "mul" || n.k === "fn") return n.a.some(hasDecimal);
  return false;
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

/**
 * Sample points: the first POSITIVE_POINTS in (0.3, 2.5) for every variable (the domain of √x and
 * log x), the rest with random signs and magnitudes up to 12, so |x| ≢ x and √(x²) ≢ x.
 */
function samplePoints(vars: string[], seed: number): Array<Map<string, C>> {
  const rand = mulberry32(seed);
  const points: Array<Map<string, C>> = [];
  for (let k = 0; k < SAMPLE_POINTS; k++) {
    const env = new Map<string, C>();
    for (const v of vars) {
      const magnitude = k < POSITIVE_POINTS || k % 2 === 0 ? 0.3 + 2.2 * rand() : 2.5 + 9.5 * rand();
      const sign = k < POSITIVE_POINTS || rand() < 0.5 ? 1 : -1;
      env.set(v, cx(sign * magnitude));
    }
    points.push(env);
  }
  return points;
}

const isInf = (n: Node): -1 | 1 | 0 =>
  n.k === "const" && n.name === "inf" ? 1 : n.k === "neg" && n.a.k === "const" && n.a.name === "inf" ? -1 : 0;

/** Equality of two scalar expressions: exact rationals, then numbers, then random-point identity. */
export function exprEqual(a: Node, b: Node, dl: Deadline): Match {
  const ia = isInf(a);
  const ib = isInf(b);
  if (ia || ib) return ia === ib ? "exact" : false;
  if (a.k === "based" || b.k === "based") return basedEqual(a, b);
  const ra = evalRat(a, dl);
  const rb = evalRat(b, dl);
  if (ra && rb) {
    if (ra.n === rb.n && ra.d === rb.d) return "exact";
    // A rounded decimal ("0.333333" for 1/3) gets the numeric tolerance; exact values do not,
    // so 1000000 and 1000001 stay different.
    if (!hasDecimal(a) && !hasDecimal(b)) return false;
    const fa = Number(ra.n) / Number(ra.d);
    const fb = Number(rb.n) / Number(rb.d);
    return close(cx(fa), cx(fb)) ? "numeric" : false;
  }
  const vars = [...freeSymbols(a, freeSymbols(b))].sort();
  const real = !mentionsI(a) && !mentionsI(b);
  if (vars.length === 0) {
    const va = evalC(a, new Map(), dl);
    const vb = evalC(b, new Map(), dl);
    return finite(va) && finite(vb) && close(va, vb) ? "numeric" : false;
  }
  let agreed = 0;
  for (const env of samplePoints(vars, 0x1f2e3d4c)) {
    dl.check();
    const va = evalC(a, env, dl, real);
    const vb = evalC(b, env, dl, real);
    // Compared only where both sides are defined.
    if (!finite(va) || !finite(vb)) continue;
    if (!close(va, vb)) return false;
    agreed++;
  }
  return agreed >= MIN_AGREEING_POINTS ? "symbolic" : false;
}

/** `52_8` ≡ `52_{8}`; against a bare integer, the digits must match (the base is the question's). */
function basedEqual(a: Node, b: Node): Match {
  if (a.k === "based" && b.k === "based") return a.digits === b.digits && a.base === b.base ? "exact" : false;
  const based = (a.k === "based" ? a : b) as Extract<Node, { k: "based" }>;
  const other = a.k === "based" ? b : a;
  return other.k === "num" && other.text.replace(/^0+(?=\d)/, "") === based.digits.replace(/^0+(?=\d)/, "") ? "exact" : false;
}

// ---------- structures ----------

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
    case "rel":
      // `x = 1 \pm \sqrt{19}`: the roots.
      if (n.ops.length === 1 && n.ops[0] === "=" && isLabel(n.terms[0]!) && hasPm(n.terms[1]!)) return expandPm(n.terms[1]!, budget);
      return [n];
    default:
      return [n];
  }
}

function hasPm(n: Node): boolean {
  if (n.k === "pm") return true;
  if (n.k === "neg") return hasPm(n.a);
  if (n.k === "div" || n.k === "pow") return hasPm(n.a) || hasPm(n.b);
  if (n.k === "add" || n.k === "mul" || n.k === "fn") return n.a.some(hasPm);
  if (n.k === "rel") return n.ops.length === 1 && n.ops[0] === "=" && isLabel(n.terms[0]!) && hasPm(n.terms[1]!);
  return false;
}

/** Unordered collection view: sets, bare comma lists, `or` lists, ± expressions. */
function asUnordered(n: Node): Node[] | undefined {
  if (n.k === "set" || n.k === "list") return n.items.flatMap((t) => (hasPm(t) ? expandPm(t) : [t]));
  if (hasPm(n)) return expandPm(n);
  return undefined;
}

/**
 * The value a relation states: `x = 2` → 2, `x \in [1,2)` → [1,2), `5 = x` → 5, and for a chain
 * `x = 5+5+1 = 1/3 \approx 0.33` the last exact term (1/3). A prediction's `2 + 3 = 5` states 5;
 * a gold `2x + z = 1` is an equation in its own right. Undefined when nothing is stated.
 */
function statedValue(n: Node, prediction: boolean): Node | undefined {
  if (n.k !== "rel") return undefined;
  if (n.ops.length === 1 && n.ops[0] === "in") return n.terms[1];
  if (n.ops.some((o) => o !== "=" && o !== "~")) return undefined;
  const [l, r] = n.terms as [Node, Node];
  if (n.ops.length === 1) {
    if (isLabel(l)) return r;
    if (isLabel(r)) return l;
    return prediction ? r : undefined;
  }
  const firstApprox = n.ops.indexOf("~");
  const last = firstApprox === -1 ? n.terms.length - 1 : firstApprox;
  return last === 0 ? n.terms[1] : n.terms[last];
}

/** `p = 6, q = 31, r = -1` → names and values; undefined unless every item assigns a distinct name. */
function assignments(n: Node): { names: string[]; values: Node[] } | undefined {
  if (n.k !== "list") return undefined;
  const names: string[] = [];
  const values: Node[] = [];
  for (const item of n.items) {
    if (item.k !== "rel" || item.ops.length !== 1 || item.ops[0] !== "=" || item.terms[0]!.k !== "sym") return undefined;
    names.push((item.terms[0] as Extract<Node, { k: "sym" }>).name);
    values.push(item.terms[1]!);
  }
  return new Set(names).size === names.length ? { names, values } : undefined;
}

/** `(p, q) = (3, 2)` → names and values. */
function labeledTuple(n: Node): { names: string[]; values: Node[] } | undefined {
  if (n.k !== "rel" || n.ops.length !== 1 || n.ops[0] !== "=") return undefined;
  const [l, r] = n.terms as [Node, Node];
  if (l.k !== "brack" || r.k !== "brack" || l.items.length !== r.items.length || !l.items.every((t) => t.k === "sym")) return undefined;
  return { names: l.items.map((t) => (t as Extract<Node, { k: "sym" }>).name), values: r.items };
}

/**
 * A list of assignments against a tuple: by name when the other side names its components
 * (`(p,q,r)=(6,31,-1)`, or another list of assignments), otherwise in the order written.
 */
function assignmentsEqual(a: Node, b: Node, dl: Deadline): Match | undefined {
  const aa = assignments(a) ?? labeledTuple(a);
  const ab = assignments(b) ?? labeledTuple(b);
  if (!aa && !ab) return undefined;
  if (aa && ab) {
    if (aa.names.length !== ab.names.length || !aa.names.every((n) => ab.names.includes(n))) return false;
    return pairwise(aa.values, aa.names.map((n) => ab.values[ab.names.indexOf(n)]!), dl);
  }
  const named = (aa ?? ab)!;
  const other = aa ? b : a;
  if (other.k !== "brack" || other.open !== "(" || !assignments(aa ? a : b)) return undefined;
  return pairwise(named.values, other.items, dl);
}

/** The relation `l op r` as `d op' 0` with op' in {<, <=, !=, =}. */
function toZeroForm(n: Extract<Node, { k: "rel" }>): { d: Node; op: string } | undefined {
  if (n.ops.length !== 1) return undefined;
  const [l, r] = n.terms as [Node, Node];
  const op = n.ops[0]!;
  if (op === "in" || op === "~") return undefined;
  const diff: Node = { k: "add", a: [l, { k: "neg", a: r }] };
  if (op === ">" || op === ">=") return { d: { k: "neg", a: diff }, op: op === ">" ? "<" : "<=" };
  return { d: diff, op };
}

/**
 * Two relations state the same condition: equations whose differences are constant non-zero
 * multiples (`2y = 4x + 2` ≡ `y = 2x + 1`), inequalities whose differences are positive multiples
 * (`-x > -1` ≡ `x < 1`, `5 \ge x` ≡ `x \le 5`).
 */
function relationEqual(a: Extract<Node, { k: "rel" }>, b: Extract<Node, { k: "rel" }>, dl: Deadline): Match {
  const za = toZeroForm(a);
  const zb = toZeroForm(b);
  if (za && zb && za.op === zb.op) {
    const ratio = proportionality(za.d, zb.d, dl);
    if (ratio !== undefined && (za.op === "=" || za.op === "!=" || ratio > 0)) return ratio === 1 ? "exact" : "symbolic";
  }
  if (a.ops.length > 1 && a.ops.join() === b.ops.join()) return pairwise(a.terms, b.terms, dl);
  return false;
}

/**
 * The constant c with a ≡ c·b (real, non-zero), from exact values or sample points; undefined
 * when there is none.
 */
function proportionality(a: Node, b: Node, dl: Deadline): number | undefined {
  const vars = [...freeSymbols(a, freeSymbols(b))].sort();
  const real = !mentionsI(a) && !mentionsI(b);
  let ratio: C | undefined;
  let agreed = 0;
  const points = vars.length ? samplePoints(vars, 0x5eed) : [new Map<string, C>()];
  for (const env of points) {
    dl.check();
    const r = cDiv(evalC(a, env, dl, real), evalC(b, env, dl, real));
    if (!finite(r)) continue;
    if (ratio === undefined) ratio = r;
    else if (!close(r, ratio)) return undefined;
    agreed++;
  }
  if (ratio === undefined || agreed < Math.min(MIN_AGREEING_POINTS, points.length)) return undefined;
  if (Math.abs(ratio.im) > 1e-9 || Math.abs(ratio.re) < 1e-9) return undefined;
  return Math.abs(ratio.re - 1) <= NUMERIC_TOLERANCE ? 1 : ratio.re;
}

/**
 * Set equality of two collections: every item of each has an equal item in the other
 * (duplicates count once, as in a set).
 */
function matchAll(as: Node[], bs: Node[], dl: Deadline): Match {
  let kind: Exclude<Match, false> = "exact";
  const covered = new Array<boolean>(bs.length).fill(false);
  for (const x of as) {
    let found = false;
    for (let j = 0; j < bs.length; j++) {
      const m = answersEqual(x, bs[j]!, dl);
      if (m) {
        covered[j] = true;
        found = true;
        kind = weaker(kind, m);
        // Keep looking only for items not yet covered.
        if (covered.every(Boolean)) break;
      }
    }
    if (!found) return false;
  }
  for (let j = 0; j < bs.length; j++) {
    if (covered[j]) continue;
    const m = as.some((x) => answersEqual(x, bs[j]!, dl));
    if (!m) return false;
  }
  return kind;
}

/** Every item of `items` equals `one`. */
function sameValue(one: Node, items: Node[], dl: Deadline): Match {
  let kind: Exclude<Match, false> = "exact";
  for (const item of items) {
    const m = answersEqual(one, item, dl);
    if (!m) return false;
    kind = weaker(kind, m);
  }
  return kind;
}

function pairwise(as: Node[], bs: Node[], dl: Deadline): Match {
  if (as.length !== bs.length) return false;
  let kind: Exclude<Match, false> = "exact";
  for (let j = 0; j < as.length; j++) {
    const m = answersEqual(as[j]!, bs[j]!, dl);
    if (!m) return false;
    kind = weaker(kind, m);
  }
  return kind;
}

type Matrix = Node[][];

/**
 * Folds matrix arithmetic into one matrix: scalar × matrix, matrix + matrix, matrix × matrix,
 * matrix / scalar. Undefined when the node has no matrix or the shapes do not fit.
 */
function foldMatrix(n: Node): Matrix | undefined {
  switch (n.k) {
    case "matrix":
      return n.rows;
    case "neg": {
      const m = foldMatrix(n.a);
      return m?.map((r) => r.map((e): Node => ({ k: "neg", a: e })));
    }
    case "div": {
      const m = foldMatrix(n.a);
      if (!m || foldMatrix(n.b)) return undefined;
      return m.map((r) => r.map((e): Node => ({ k: "div", a: e, b: n.b })));
    }
    case "add": {
      const ms = n.a.map((t) => ({ t, m: foldMatrix(t) }));
      if (!ms.some((x) => x.m)) return undefined;
      if (!ms.every((x) => x.m)) return undefined;
      const first = ms[0]!.m!;
      if (!ms.every((x) => x.m!.length === first.length && x.m!.every((r, i) => r.length === first[i]!.length))) return undefined;
      return first.map((r, i) => r.map((_, j): Node => ({ k: "add", a: ms.map((x) => x.m![i]![j]!) })));
    }
    case "mul": {
      let acc: Matrix | undefined;
      const scalars: Node[] = [];
      for (const t of n.a) {
        const m = foldMatrix(t);
        if (!m) scalars.push(t);
        else if (!acc) acc = m;
        else {
          const inner = acc[0]?.length;
          if (inner !== m.length) return undefined;
          const left = acc;
          acc = left.map((row) => m[0]!.map((_, j): Node => ({ k: "add", a: row.map((e, k) => ({ k: "mul", a: [e, m[k]![j]!] }) as Node) })));
        }
      }
      if (!acc) return undefined;
      return scalars.length ? acc.map((r) => r.map((e): Node => ({ k: "mul", a: [...scalars, e] }))) : acc;
    }
    default:
      return undefined;
  }
}

/** A column or row vector's entries, for comparison with a tuple `(a, b, c)`. */
function vectorEntries(m: Matrix): Node[] | undefined {
  if (m.length === 1) return m[0];
  if (m.every((r) => r.length === 1)) return m.map((r) => r[0]!);
  return undefined;
}

/** `x\%` against a value: equal when x or x/100 equals it; both in percent: compare the numbers. */
function percentEqual(a: Node, b: Node, dl: Deadline): Match {
  if (a.k === "pct" && b.k === "pct") return answersEqual(a.a, b.a, dl);
  const pct = (a.k === "pct" ? a : b) as Extract<Node, { k: "pct" }>;
  const other = a.k === "pct" ? b : a;
  const hundredth: Node = { k: "div", a: pct.a, b: { k: "num", v: { n: 100n, d: 1n }, text: "100" } };
  return answersEqual(pct.a, other, dl) || answersEqual(hundredth, other, dl);
}

/** Structural equality of two parsed answers (gold first). */
export function answersEqual(a: Node, b: Node, dl: Deadline): Match {
  dl.check();
  if (a.k === "pct" || b.k === "pct") return percentEqual(a, b, dl);

  const assigned = assignmentsEqual(a, b, dl);
  if (assigned !== undefined) return assigned;

  if (a.k === "rel" || b.k === "rel") {
    if (a.k === "rel" && b.k === "rel") {
      const m = relationEqual(a, b, dl);
      if (m) return m;
    }
    const va = statedValue(a, false) ?? a;
    const vb = statedValue(b, true) ?? b;
    if (va !== a || vb !== b) return answersEqual(va, vb, dl);
    if (a.k === "rel" && b.k === "rel") return false;
  }

  // A tuple against a bare list (`(1,3)` vs `1, 3`): the list read in order.
  if (a.k === "brack" && a.open === "(" && b.k === "list" && a.items.length === b.items.length) return pairwise(a.items, b.items, dl);
  if (b.k === "brack" && b.open === "(" && a.k === "list" && a.items.length === b.items.length) return pairwise(a.items, b.items, dl);

  const ua = asUnordered(a);
  const ub = asUnordered(b);
  if (ua || ub) {
    const la = ua ?? [a];
    const lb = ub ?? [b];
    const m = matchAll(la, lb, dl);
    if (m) return m;
    // Alternative forms of one value (`\boxed{15\frac{39}{40}}` or `\boxed{\frac{639}{40}}`).
    const same = la.length === 1 && lb.length > 1 ? sameValue(la[0]!, lb, dl) : lb.length === 1 && la.length > 1 ? sameValue(lb[0]!, la, dl) : false;
    if (same) return same;
  }

  if (a.k === "union" || b.k === "union" || a.k === "setminus" || b.k === "setminus" || ua || ub) {
    if (a.k === "union" && b.k === "union") {
      const m = matchAll(a.a, b.a, dl);
      if (m) return m;
    }
    const sa = toSpans(a, dl);
    const sb = toSpans(b, dl);
    return sa && sb && spansEqual(sa, sb) ? "numeric" : false;
  }

  const ma = foldMatrix(a);
  const mb = foldMatrix(b);
  if (ma || mb) {
    if (ma && mb) {
      if (ma.length !== mb.length || !ma.every((r, i) => r.length === mb[i]!.length)) return false;
      return pairwise(ma.flat(), mb.flat(), dl);
    }
    const vector = vectorEntries((ma ?? mb)!);
    const other = ma ? b : a;
    if (!vector || other.k !== "brack") return false;
    return ma ? pairwise(vector, other.items, dl) : pairwise(other.items, vector, dl);
  }

  if (a.k === "ratio" || b.k === "ratio") return ratioEqual(a, b, dl);

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
  if (a.k === "set" || b.k === "set" || a.k === "list" || b.k === "list") return false;
  return exprEqual(a, b, dl);
}

type Interval = { lo: Node; hi: Node; loClosed: boolean; hiClosed: boolean };
const NEG_INF: Node = { k: "neg", a: { k: "const", name: "inf" } };
const POS_INF: Node = { k: "const", name: "inf" };

function asInterval(n: Node): Interval | undefined {
  if (n.k === "brack" && n.items.length === 2)
    return { lo: n.items[0]!, hi: n.items[1]!, loClosed: n.open === "[", hiClosed: n.close === "]" };
  const bounds = inequalityBounds(n);
  return bounds && { lo: bounds.lo ?? NEG_INF, hi: bounds.hi ?? POS_INF, loClosed: bounds.loClosed, hiClosed: bounds.hiClosed };
}

/** `7:32` against `7:32`, `14:64` or `\frac{7}{32}`: proportional terms, or the quotient of a two-term ratio. */
function ratioEqual(a: Node, b: Node, dl: Deadline): Match {
  if (a.k === "ratio" && b.k === "ratio") {
    if (a.terms.length !== b.terms.length) return false;
    // a_i / a_0 = b_i / b_0 for every term.
    const quotients = (r: Node[]) => r.slice(1).map((t): Node => ({ k: "div", a: t, b: r[0]! }));
    return pairwise(quotients(a.terms), quotients(b.terms), dl);
  }
  const r = (a.k === "ratio" ? a : b) as Extract<Node, { k: "ratio" }>;
  const other = a.k === "ratio" ? b : a;
  if (r.terms.length !== 2) return false;
  const q: Node = { k: "div", a: r.terms[0]!, b: r.terms[1]! };
  return a.k === "ratio" ? answersEqual(q, other, dl) : answersEqual(other, q, dl);
}
