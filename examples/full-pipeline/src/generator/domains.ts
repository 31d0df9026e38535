import type { Rng } from "@infialign/kernels";

/** Problem families of the embedded data set. */
export const DOMAINS = ["arithmetic", "linear", "percent", "modular", "sequence", "counting"] as const;
export type Domain = (typeof DOMAINS)[number];

/** A drawn problem before it gets an id: the statement, one line per reasoning step, and the answer. */
export interface DrawnProblem {
  problem: string;
  /** Each line is one true computation; the last one ends in `= <answer>`. */
  steps: string[];
  answer: number;
  /**
   * What makes two problems the same, when more than the wording: the numbers of a price
   * change whatever the item, the multiset of sizes of a pick. @default the canonical text
   */
  key?: string;
}

interface DomainSpec {
  /** Difficulty levels (= number of steps) the family can express within the length limits. */
  difficulties: readonly number[];
  /** A problem with exactly `difficulty` steps, or undefined when this draw failed a constraint (the caller redraws). */
  draw(rng: Rng, difficulty: number): DrawnProblem | undefined;
}

/** Uniform integer in [lo, hi]. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + rng.nextInt(hi - lo + 1);
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.nextInt(items.length)] as T;
}

// Intermediate values stay below this so a byte-level model sees short numbers.
const MAX_VALUE = 200;

type Op = "+" | "-" | "*" | "/";
const INVERSE: Record<Op, Op> = { "+": "-", "-": "+", "*": "/", "/": "*" };

function apply(v: number, op: Op, b: number): number {
  if (op === "+") return v + b;
  if (op === "-") return v - b;
  if (op === "*") return v * b;
  return v / b;
}

/** One random operation on `v` whose result stays a whole number in [1, MAX_VALUE]. */
function drawOp(rng: Rng, v: number): { op: Op; b: number } {
  const options: { op: Op; b: number }[] = [];
  if (v + 1 <= MAX_VALUE) options.push({ op: "+", b: randInt(rng, 1, Math.min(20, MAX_VALUE - v)) });
  if (v >= 2) options.push({ op: "-", b: randInt(rng, 1, Math.min(20, v - 1)) });
  if (v * 2 <= MAX_VALUE) options.push({ op: "*", b: randInt(rng, 2, Math.min(5, Math.floor(MAX_VALUE / v))) });
  const divisors = [2, 3, 4, 5, 6, 7, 8, 9].filter((d) => v % d === 0 && v > d);
  if (divisors.length) options.push({ op: "/", b: pick(rng, divisors) });
  return pick(rng, options);
}

/** Whether `op b` undoes the previous step (`* 3` then `/ 3`): a wasted step. */
function undoes(prev: { op: Op; b: number } | undefined, op: Op, b: number): boolean {
  return prev !== undefined && prev.b === b && INVERSE[prev.op] === op;
}

/** `(…) op b`, bracketing the left side once it is itself an operation. */
function wrap(expr: string, op: Op, b: number, depth: number): string {
  return depth === 0 ? `${expr} ${op} ${b}` : `(${expr}) ${op} ${b}`;
}

const arithmetic: DomainSpec = {
  difficulties: [1, 2, 3, 4, 5],
  draw(rng, d) {
    let v = randInt(rng, 2, 20);
    let expr = String(v);
    const steps: string[] = [];
    let prev: { op: Op; b: number } | undefined;
    for (let k = 0; k < d; k++) {
      const { op, b } = drawOp(rng, v);
      if (undoes(prev, op, b)) return undefined;
      prev = { op, b };
      const r = apply(v, op, b);
      steps.push(`${v} ${op} ${b} = ${r}`);
      expr = wrap(expr, op, b, k);
      v = r;
    }
    return { problem: `Compute ${expr}.`, steps, answer: v };
  },
};

/** x → d operations → value; the solution undoes them one per line, outermost first. */
const linear: DomainSpec = {
  difficulties: [1, 2, 3, 4, 5],
  draw(rng, d) {
    const x = randInt(rng, 1, 20);
    const sides = ["x"];
    const values = [x];
    const ops: { op: Op; b: number }[] = [];
    for (let k = 0; k < d; k++) {
      const v = values[k] as number;
      const o = drawOp(rng, v);
      if (undoes(ops.at(-1), o.op, o.b)) return undefined;
      ops.push(o);
      values.push(apply(v, o.op, o.b));
      sides.push(wrap(sides[k] as string, o.op, o.b, k));
    }
    const steps: string[] = [];
    for (let k = d; k >= 1; k--) {
      const { op, b } = ops[k - 1] as { op: Op; b: number };
      steps.push(`${sides[k - 1]} = ${values[k]} ${INVERSE[op]} ${b} = ${values[k - 1]}`);
    }
    // The right-hand side first: a varying number at the very end would make siblings look alike to MinHash.
    return { problem: `Solve ${values[d]} = ${sides[d]} for x.`, steps, answer: x };
  },
};

const ITEMS = ["lamp", "shirt", "book", "bike", "chair", "phone", "coat", "desk"] as const;
const PERCENTS = [5, 10, 15, 20, 25, 30, 40, 50, 60, 75] as const;

/** A price changed by d percentages in turn; every intermediate price must be whole. */
const percent: DomainSpec = {
  difficulties: [1, 2, 3, 4],
  draw(rng, d) {
    const start = 20 * randInt(rng, 1, 10);
    let v = start;
    const changes: string[] = [];
    const steps: string[] = [];
    for (let k = 0; k < d; k++) {
      const p = pick(rng, PERCENTS);
      const up = rng.nextInt(2) === 0;
      if ((v * p) % 100 !== 0) return undefined;
      const delta = (v * p) / 100;
      const r = up ? v + delta : v - delta;
      if (r <= 0 || r > 2 * MAX_VALUE) return undefined;
      changes.push(`${up ? "rises" : "drops"} ${p}%`);
      steps.push(`${v} ${up ? "+" : "-"} ${v} * ${p} / 100 = ${r}`);
      v = r;
    }
    const item = pick(rng, ITEMS);
    return {
      problem: `A ${item} costs ${start} dollars. Its price ${changes.join(", then ")}. What is the new price?`,
      steps,
      answer: v,
      key: `percent ${start} ${changes.join(" ")}`,
    };
  },
};

/**
 * a * b^d mod m, reducing after every multiplication (one line per multiplication). The
 * residues must not repeat: a repeated line would read as degenerate repetition to quality
 * filters and teaches nothing.
 */
const modular: DomainSpec = {
  difficulties: [1, 2, 3, 4, 5],
  draw(rng, d) {
    const m = randInt(rng, 5, 17);
    const b = randInt(rng, 2, Math.min(9, m - 1));
    const a = randInt(rng, 2, 20);
    let v = a;
    const seen = new Set([a % m]);
    const steps: string[] = [];
    for (let k = 0; k < d; k++) {
      const p = v * b;
      const r = p % m;
      if (seen.has(r)) return undefined;
      seen.add(r);
      steps.push(`${v} * ${b} = ${p}, ${p} mod ${m} = ${r}`);
      v = r;
    }
    return { problem: `Divide ${a} * ${b}^${d} by ${m}. What is the remainder?`, steps, answer: v };
  },
};

/** Arithmetic progressions: nth term (1-2 steps), sum of the first n (3), sum of a range of terms (5). */
const sequence: DomainSpec = {
  difficulties: [1, 2, 3, 5],
  draw(rng, d) {
    const a = randInt(rng, 1, 20);
    const c = randInt(rng, 2, 9);
    const n = randInt(rng, 5, 15);
    const term = (i: number) => a + (i - 1) * c;
    const listed = `The sequence ${a}, ${a + c}, ${a + 2 * c}, ... is arithmetic.`;
    const diff = `d = ${a + c} - ${a} = ${c}`;
    const nth = (i: number) => `a_${i} = ${a} + (${i} - 1) * ${c} = ${term(i)}`;
    if (d === 1) return { problem: `An arithmetic sequence has first term ${a} and common difference ${c}. What is term ${n}?`, steps: [nth(n)], answer: term(n) };
    if (d === 2) return { problem: `${listed} What is term ${n}?`, steps: [diff, nth(n)], answer: term(n) };
    if (d === 3) {
      const s = (n * (a + term(n))) / 2;
      if (s > 2 * MAX_VALUE) return undefined;
      return { problem: `${listed} What is the sum of the first ${n} terms?`, steps: [diff, nth(n), `S = ${n} * (${a} + ${term(n)}) / 2 = ${s}`], answer: s };
    }
    const k = randInt(rng, 2, n - 2);
    const count = n - k + 1;
    const s = (count * (term(k) + term(n))) / 2;
    if (s > 2 * MAX_VALUE) return undefined;
    return {
      problem: `${listed} What is the sum of terms ${k} through ${n}?`,
      steps: [diff, nth(k), nth(n), `count = ${n} - ${k} + 1 = ${count}`, `S = ${count} * (${term(k)} + ${term(n)}) / 2 = ${s}`],
      answer: s,
    };
  },
};

const THINGS = ["hats", "shirts", "scarves", "belts", "rings"] as const;

/**
 * Counting: one step is the size of a range of whole numbers or a product of two choices;
 * d ≥ 2 is the product rule over d + 1 independent choices (d multiplications).
 */
const counting: DomainSpec = {
  difficulties: [1, 2, 3, 4],
  draw(rng, d) {
    if (d === 1 && rng.nextInt(2) === 0) {
      const a = randInt(rng, 1, 60);
      const b = a + randInt(rng, 5, 150);
      const n = b - a + 1;
      return { problem: `How many whole numbers are there from ${a} to ${b}?`, steps: [`${b} - ${a} + 1 = ${n}`], answer: n };
    }
    const sizes = Array.from({ length: d + 1 }, () => randInt(rng, 2, 9));
    const parts = sizes.map((s, i) => `${s} ${THINGS[i]}`);
    const listed = `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
    let v = sizes[0] as number;
    const steps: string[] = [];
    for (const s of sizes.slice(1)) {
      steps.push(`${v} * ${s} = ${v * s}`);
      v *= s;
    }
    if (v > 2 * MAX_VALUE) return undefined;
    return {
      problem: `Pick one of each: ${listed}. How many different picks are there?`,
      steps,
      answer: v,
      // The same sizes in another order are the same problem.
      key: `counting ${[...sizes].sort((x, y) => x - y).join(" ")}`,
    };
  },
};

export const DOMAIN_SPECS: Readonly<Record<Domain, DomainSpec>> = { arithmetic, linear, percent, modular, sequence, counting };
