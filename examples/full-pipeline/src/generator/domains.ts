import type { Rng } from "@infialign/kernels";

/**
 * Problem families of the embedded task world: procedural skills a ~1M-parameter model learns from worked solutions
 * in minutes (column addition, subtraction with borrows, multiplication by one digit, comparison). Each solution is
 * one short, regular line per digit column; difficulty is the number of digits, hence of steps.
 */
export const DOMAINS = ["addition", "subtraction", "multiplication", "comparison"] as const;
export type Domain = (typeof DOMAINS)[number];

/** Digits per operand: the difficulty axis (2 = easy … 4 = hard). */
export const DIFFICULTIES = [2, 3, 4] as const;

/** A drawn problem before it gets an id: the statement, one line per reasoning step, and the answer. */
export interface DrawnProblem {
  problem: string;
  /** Each line is one column of the procedure. */
  steps: string[];
  answer: string;
  /** The same problem worked by a teacher with a systematic procedural error (see {@link DomainSpec.flawed}). */
  flawed?: { steps: string[]; answer: string };
}

interface DomainSpec {
  difficulties: readonly number[];
  /** A problem with `digits`-digit operands. */
  draw(rng: Rng, digits: number): DrawnProblem;
  /** Which rule the flawed teacher breaks, for the report. Undefined when the family has no flawed variant. */
  flaw?: string;
}

/** Uniform integer in [lo, hi]. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + rng.nextInt(hi - lo + 1);
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.nextInt(items.length)] as T;
}

/** A `digits`-digit number without a leading zero, as text. */
function number(rng: Rng, digits: number): string {
  let s = String(randInt(rng, 1, 9));
  for (let i = 1; i < digits; i++) s += String(rng.nextInt(10));
  return s;
}

const stripZeros = (s: string) => s.replace(/^0+(?=\d)/, "");

/**
 * Column addition from the ones column: `x+y+carry=sum` per column, then the answer. The flawed teacher never carries
 * (every column adds carry 0), so each column that overflows loses 10 in the next one.
 */
function columnAddition(a: string, b: string, carries: boolean): { steps: string[]; answer: string } {
  const steps: string[] = [];
  let carry = 0;
  let out = "";
  for (let i = a.length - 1; i >= 0; i--) {
    const x = Number(a[i]);
    const y = Number(b[i]);
    const s = x + y + carry;
    steps.push(`${x}+${y}+${carry}=${s}`);
    out = String(s % 10) + out;
    carry = carries ? Math.floor(s / 10) : 0;
  }
  return { steps, answer: stripZeros(`${carry || ""}${out}`) };
}

/**
 * Column subtraction (a ≥ b): `x-y-borrow=d` per column; a column that goes below zero borrows ten and is written
 * `1x-y-borrow=d`. The flawed teacher borrows ten but never pays the borrow back in the next column.
 */
function columnSubtraction(a: string, b: string, repays: boolean): { steps: string[]; answer: string } {
  const steps: string[] = [];
  let borrow = 0;
  let out = "";
  for (let i = a.length - 1; i >= 0; i--) {
    const x = Number(a[i]);
    const y = Number(b[i]);
    let d = x - y - borrow;
    const lend = d < 0;
    if (lend) d += 10;
    steps.push(`${lend ? "1" : ""}${x}-${y}-${borrow}=${d}`);
    out = String(d) + out;
    borrow = lend && repays ? 1 : 0;
  }
  return { steps, answer: stripZeros(out) };
}

/** Multiplication by one digit: `x*m+carry=p` per column. The flawed teacher drops the carry. */
function columnMultiplication(a: string, m: number, carries: boolean): { steps: string[]; answer: string } {
  const steps: string[] = [];
  let carry = 0;
  let out = "";
  for (let i = a.length - 1; i >= 0; i--) {
    const x = Number(a[i]);
    const p = x * m + carry;
    steps.push(`${x}*${m}+${carry}=${p}`);
    out = String(p % 10) + out;
    carry = carries ? Math.floor(p / 10) : 0;
  }
  return { steps, answer: stripZeros(`${carry || ""}${out}`) };
}

const addition: DomainSpec = {
  difficulties: DIFFICULTIES,
  flaw: "never carries",
  draw(rng, digits) {
    const a = number(rng, digits);
    const b = number(rng, digits);
    return { problem: `What is ${a} + ${b}?`, ...columnAddition(a, b, true), flawed: columnAddition(a, b, false) };
  },
};

const subtraction: DomainSpec = {
  difficulties: DIFFICULTIES,
  flaw: "borrows without paying back",
  draw(rng, digits) {
    let a = number(rng, digits);
    let b = number(rng, digits);
    if (Number(a) < Number(b)) [a, b] = [b, a];
    return { problem: `What is ${a} - ${b}?`, ...columnSubtraction(a, b, true), flawed: columnSubtraction(a, b, false) };
  },
};

const multiplication: DomainSpec = {
  difficulties: DIFFICULTIES,
  flaw: "drops the carry",
  draw(rng, digits) {
    const a = number(rng, digits);
    const m = randInt(rng, 2, 9);
    return { problem: `What is ${a} * ${m}?`, ...columnMultiplication(a, m, true), flawed: columnMultiplication(a, m, false) };
  },
};

/** Two numbers of the same length that agree up to a random column; digits compared from the left until they differ. */
const comparison: DomainSpec = {
  difficulties: DIFFICULTIES,
  draw(rng, digits) {
    const a = number(rng, digits);
    const b = a.split("");
    const k = rng.nextInt(digits);
    let d = rng.nextInt(10);
    if (d === Number(b[k])) d = (d + 1 + rng.nextInt(9)) % 10;
    if (k === 0 && d === 0) d = Number(b[0]) === 1 ? 2 : 1;
    b[k] = String(d);
    for (let i = k + 1; i < digits; i++) b[i] = String(rng.nextInt(10));
    const [u, v] = rng.nextInt(2) === 0 ? [a, b.join("")] : [b.join(""), a];
    const steps: string[] = [];
    for (let i = 0; i <= k; i++) {
      const x = Number(u[i]);
      const y = Number(v[i]);
      steps.push(`${x}${x === y ? "=" : x > y ? ">" : "<"}${y}`);
    }
    return { problem: `Which is larger, ${u} or ${v}?`, steps, answer: Number(u) > Number(v) ? u : v };
  },
};

export const DOMAIN_SPECS: Readonly<Record<Domain, DomainSpec>> = { addition, subtraction, multiplication, comparison };

/** The family of a problem statement, read from its wording (the example's own domain labeler). */
export function domainOfProblem(problem: string): Domain | undefined {
  if (/^(?:\w+: )?which is larger/i.test(problem)) return "comparison";
  const op = problem.match(/\d+\s*([-+*])\s*\d+/)?.[1];
  return op === "+" ? "addition" : op === "-" ? "subtraction" : op === "*" ? "multiplication" : undefined;
}
