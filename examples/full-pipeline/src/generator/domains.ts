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
 * A column procedure from the ones column: `column(x, y, carry)` gives the line written for one column, its result
 * digit and the carry (or borrow) passed to the next column; a final carry is written in front of the answer.
 */
function columns(a: string, b: string | number, column: (x: number, y: number, carry: number) => { line: string; digit: number; carry: number }): { steps: string[]; answer: string } {
  const steps: string[] = [];
  let carry = 0;
  let out = "";
  for (let i = a.length - 1; i >= 0; i--) {
    const step = column(Number(a[i]), typeof b === "number" ? b : Number(b[i]), carry);
    steps.push(step.line);
    out = String(step.digit) + out;
    carry = step.carry;
  }
  return { steps, answer: stripZeros(`${carry || ""}${out}`) };
}

/** `x+y+carry=sum` per column. The flawed teacher never carries, so each overflowing column loses 10. */
const columnAddition = (a: string, b: string, carries: boolean) =>
  columns(a, b, (x, y, c) => ({ line: `${x}+${y}+${c}=${x + y + c}`, digit: (x + y + c) % 10, carry: carries ? Math.floor((x + y + c) / 10) : 0 }));

/**
 * `x-y-borrow=d` per column (a ≥ b); a column that goes below zero borrows ten and is written `1x-y-borrow=d`. The
 * flawed teacher borrows ten but never pays the borrow back in the next column. No final carry: a ≥ b.
 */
const columnSubtraction = (a: string, b: string, repays: boolean) =>
  columns(a, b, (x, y, borrow) => {
    const lend = x - y - borrow < 0;
    const d = x - y - borrow + (lend ? 10 : 0);
    return { line: `${lend ? "1" : ""}${x}-${y}-${borrow}=${d}`, digit: d, carry: lend && repays ? 1 : 0 };
  });

/** `x*m+carry=p` per column. The flawed teacher drops the carry. */
const columnMultiplication = (a: string, m: number, carries: boolean) =>
  columns(a, m, (x, y, c) => ({ line: `${x}*${y}+${c}=${x * y + c}`, digit: (x * y + c) % 10, carry: carries ? Math.floor((x * y + c) / 10) : 0 }));

const addition: DomainSpec = {
  flaw: "never carries",
  draw(rng, digits) {
    const a = number(rng, digits);
    const b = number(rng, digits);
    return { problem: `What is ${a} + ${b}?`, ...columnAddition(a, b, true), flawed: columnAddition(a, b, false) };
  },
};

const subtraction: DomainSpec = {
  flaw: "borrows without paying back",
  draw(rng, digits) {
    let a = number(rng, digits);
    let b = number(rng, digits);
    if (Number(a) < Number(b)) [a, b] = [b, a];
    return { problem: `What is ${a} - ${b}?`, ...columnSubtraction(a, b, true), flawed: columnSubtraction(a, b, false) };
  },
};

const multiplication: DomainSpec = {
  flaw: "drops the carry",
  draw(rng, digits) {
    const a = number(rng, digits);
    const m = randInt(rng, 2, 9);
    return { problem: `What is ${a} * ${m}?`, ...columnMultiplication(a, m, true), flawed: columnMultiplication(a, m, false) };
  },
};

/** Two numbers of the same length that agree up to a random column; digits compared from the left until they differ. */
const comparison: DomainSpec = {
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
