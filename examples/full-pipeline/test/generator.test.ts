import { createRng } from "@infialign/kernels";
import { verifyMath } from "@infialign/verify";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DIFFICULTIES, DOMAIN_SPECS, DOMAINS, type Domain, domainOfProblem } from "../src/generator/domains.js";
import { answerLine, canonicalText, generateProblems, type Problem } from "../src/generator/generateProblems.js";
import { lightlyReformat, reformat, shingleJaccard } from "../src/generator/rewrite.js";

/** The operands of a problem statement and the true answer, computed from the text alone (BigInt), not from the solution. */
function operands(problem: string): { domain: Domain; a: string; b: string; truth: string } {
  const op = /^What is (\d+) ([-+*]) (\d+)\?$/.exec(problem);
  if (op) {
    const [, a, sign, b] = op as unknown as [string, string, string, string];
    const x = BigInt(a);
    const y = BigInt(b);
    if (sign === "+") return { domain: "addition", a, b, truth: String(x + y) };
    if (sign === "-") return { domain: "subtraction", a, b, truth: String(x - y) };
    return { domain: "multiplication", a, b, truth: String(x * y) };
  }
  const cmp = /^Which is larger, (\d+) or (\d+)\?$/.exec(problem);
  if (!cmp) throw new Error(`unrecognised problem: ${problem}`);
  const [, a, b] = cmp as unknown as [string, string, string];
  return { domain: "comparison", a, b, truth: BigInt(a) > BigInt(b) ? a : b };
}

const digit = (s: string, fromRight: number) => Number(s[s.length - 1 - fromRight]);
const parse = (re: RegExp, line: string) => {
  const m = re.exec(line);
  if (!m) throw new Error(`line does not match ${re}: ${line}`);
  return m.slice(1).map((g) => (g === "" || g === undefined ? 0 : Number(g)));
};

/**
 * Replays a column procedure line by line and checks each line's arithmetic and its carry/borrow chain.
 * `carries` false checks the flawed teacher: every column adds carry (or pays borrow) 0.
 * Returns the answer the lines spell (digits of the columns, plus the final carry), and whether any column carried or borrowed.
 */
function replay(domain: Domain, a: string, b: string, steps: readonly string[], carries: boolean): { answer: string; carried: boolean } {
  let out = "";
  let carried = false;
  if (domain === "comparison") {
    steps.forEach((line, i) => {
      const [x, rel, y] = /^(\d)([=<>])(\d)$/.exec(line)?.slice(1) ?? [];
      expect([x, y], line).toEqual([a[i], b[i]]);
      expect(rel, line).toBe(x === y ? "=" : Number(x) > Number(y) ? ">" : "<");
      // Digits are compared from the left until the first difference, and no further.
      expect(rel === "=", `${a} vs ${b}: ${steps.join(" | ")}`).toBe(i < steps.length - 1);
    });
    return { answer: steps.at(-1)?.includes(">") ? a : b, carried };
  }
  expect(steps, `${a} ${domain} ${b}`).toHaveLength(a.length);
  let carry = 0;
  steps.forEach((line, i) => {
    if (domain === "addition") {
      const [x, y, c, s] = parse(/^(\d)\+(\d)\+(\d)=(\d+)$/, line) as [number, number, number, number];
      expect([x, y, c], line).toEqual([digit(a, i), digit(b, i), carry]);
      expect(s, line).toBe(x + y + c);
      out = String(s % 10) + out;
      if (s >= 10) carried = true;
      carry = carries ? Math.floor(s / 10) : 0;
    } else if (domain === "subtraction") {
      const [lend, x, y, c, d] = parse(/^(1?)(\d)-(\d)-(\d)=(\d)$/, line) as [number, number, number, number, number];
      expect([x, y, c], line).toEqual([digit(a, i), digit(b, i), carry]);
      // `1x` exactly when the column goes below zero, and then it borrows ten.
      expect(lend === 1, line).toBe(x - y - c < 0);
      expect(d, line).toBe(10 * lend + x - y - c);
      out = String(d) + out;
      if (lend) carried = true;
      carry = carries ? lend : 0;
    } else {
      const [x, m, c, p] = parse(/^(\d)\*(\d)\+(\d)=(\d+)$/, line) as [number, number, number, number];
      expect([x, m, c], line).toEqual([digit(a, i), Number(b), carry]);
      expect(p, line).toBe(x * m + c);
      out = String(p % 10) + out;
      if (p >= 10) carried = true;
      carry = carries ? Math.floor(p / 10) : 0;
    }
  });
  return { answer: String(BigInt(`${carry}${out}`)), carried };
}

/** Checks a problem's clean solution and its flawed variant against the statement; returns whether the flaw shows. */
function checkProblem(
  p: Pick<Problem, "problem" | "steps" | "solution" | "answer"> & { domain?: Domain; difficulty?: number; flawed?: { steps: string[]; answer: string; solution?: string } },
): boolean {
  const { domain, a, b, truth } = operands(p.problem);
  if (p.domain) expect(p.domain).toBe(domain);
  expect(domainOfProblem(p.problem)).toBe(domain);
  if (p.difficulty !== undefined) {
    expect(a).toHaveLength(p.difficulty);
    if (domain === "multiplication") expect(Number(b)).toBeGreaterThanOrEqual(2);
    else expect(b).toHaveLength(p.difficulty);
    if (domain === "comparison") expect(p.steps.length).toBeLessThanOrEqual(p.difficulty);
    else expect(p.steps).toHaveLength(p.difficulty);
  }
  for (const n of [a, b]) expect(n, p.problem).toMatch(/^[1-9]\d*$/);
  if (domain === "subtraction") expect(BigInt(a) >= BigInt(b), p.problem).toBe(true);
  if (domain === "comparison") expect(a).not.toBe(b);

  const clean = replay(domain, a, b, p.steps, true);
  expect(p.answer, p.problem).toBe(truth);
  expect(clean.answer, `${p.problem}\n${p.solution}`).toBe(truth);
  expect(p.solution).toBe([...p.steps, answerLine(p.answer)].join("\n"));
  expect(p.solution.split("\n").at(-1)).toBe(`\\boxed{${truth}}`);

  if (domain === "comparison") {
    expect(p.flawed).toBeUndefined();
    return false;
  }
  const flawed = p.flawed as NonNullable<typeof p.flawed>;
  expect(flawed).toBeDefined();
  const wrong = replay(domain, a, b, flawed.steps, false);
  expect(flawed.answer, flawed.steps.join(" | ")).toBe(wrong.answer);
  // The flawed teacher never pays a carry or borrow forward.
  const zeroCarry = domain === "subtraction" ? /-0=\d$/ : /\+0=\d+$/;
  for (const line of flawed.steps) expect(line).toMatch(zeroCarry);
  if (domain === "subtraction") {
    flawed.steps.forEach((line, i) => {
      if (/^1\d-/.test(line) && i + 1 < flawed.steps.length) expect(flawed.steps[i + 1]).not.toMatch(/-1=/);
    });
  }
  // The flaw shows in the answer exactly when the true procedure carries or borrows.
  expect(flawed.answer !== truth, `${p.problem}: ${p.steps.join(" | ")} vs ${flawed.steps.join(" | ")}`).toBe(clean.carried);
  if (flawed.solution !== undefined) expect(flawed.solution).toBe([...flawed.steps, answerLine(flawed.answer)].join("\n"));
  return clean.carried;
}

describe("task world: each family's procedure", () => {
  it("the checker catches a wrong line, a wrong carry and a wrong answer", () => {
    const ok = { problem: "What is 58 + 67?", steps: ["8+7+0=15", "5+6+1=12"], solution: "8+7+0=15\n5+6+1=12\n\\boxed{125}", answer: "125" };
    // The flawed teacher drops every carry, the last one too.
    const flawed = { steps: ["8+7+0=15", "5+6+0=11"], answer: "15", solution: "8+7+0=15\n5+6+0=11\n\\boxed{15}" };
    expect(checkProblem({ ...ok, flawed })).toBe(true);
    expect(() => checkProblem({ ...ok, steps: ["8+7+0=15", "5+6+0=11"], flawed })).toThrow();
    expect(() => checkProblem({ ...ok, steps: ["8+7+0=14", "5+6+1=12"], flawed })).toThrow();
    expect(() => checkProblem({ ...ok, answer: "124", solution: "8+7+0=15\n5+6+1=12\n\\boxed{124}", flawed })).toThrow();
    expect(() => checkProblem({ ...ok, flawed: { ...flawed, steps: ["8+7+0=15", "5+6+1=12"] } })).toThrow();
    const sub = { problem: "What is 52 - 37?", steps: ["12-7-0=5", "5-3-1=1"], solution: "12-7-0=5\n5-3-1=1\n\\boxed{15}", answer: "15" };
    expect(checkProblem({ ...sub, flawed: { steps: ["12-7-0=5", "5-3-0=2"], answer: "25", solution: "12-7-0=5\n5-3-0=2\n\\boxed{25}" } })).toBe(true);
    expect(() => checkProblem({ ...sub, flawed: { steps: ["12-7-0=5", "5-3-1=1"], answer: "15", solution: "12-7-0=5\n5-3-1=1\n\\boxed{15}" } })).toThrow();
    expect(() => checkProblem({ problem: "Which is larger, 123 or 124?", steps: ["1=1", "2=2", "3<4"], solution: "1=1\n2=2\n3<4\n\\boxed{123}", answer: "123" })).toThrow();
    expect(() => checkProblem({ problem: "Which is larger, 153 or 124?", steps: ["1=1", "5>2", "3<4"], solution: "1=1\n5>2\n3<4\n\\boxed{153}", answer: "153" })).toThrow();
  });

  it("every draw is correct and its flawed variant is wrong exactly when a column carries or borrows (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(...DOMAINS), fc.constantFrom(...DIFFICULTIES), (seed, domain, digits) => {
        const rng = createRng(seed);
        for (let k = 0; k < 20; k++) {
          const drawn = DOMAIN_SPECS[domain].draw(rng, digits);
          const solution = [...drawn.steps, answerLine(drawn.answer)].join("\n");
          checkProblem({ ...drawn, solution, domain, difficulty: digits });
        }
      }),
      { numRuns: 150, seed: 42 },
    );
  });

  it("generated problems are correct for any seed and difficulty (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.subarray([...DIFFICULTIES], { minLength: 1 }), (seed, difficulties) => {
        for (const p of generateProblems({ seed, count: 24, difficulties })) {
          checkProblem(p);
          expect(difficulties).toContain(p.difficulty);
        }
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it("both outcomes of each flaw occur, and Math-Verify reads the boxed answers", () => {
    const shows = new Map<Domain, { yes: number; no: number }>();
    for (const p of generateProblems({ seed: 4, count: 1200 })) {
      const s = shows.get(p.domain) ?? { yes: 0, no: 0 };
      if (checkProblem(p)) s.yes++;
      else s.no++;
      shows.set(p.domain, s);
      expect(verifyMath(p.answer, p.solution).correct, p.solution).toBe(true);
      if (p.flawed && p.flawed.answer !== p.answer) expect(verifyMath(p.answer, p.flawed.solution).correct, p.flawed.solution).toBe(false);
    }
    for (const d of ["addition", "subtraction", "multiplication"] as const) {
      expect(shows.get(d)?.yes, d).toBeGreaterThan(0);
      expect(shows.get(d)?.no, d).toBeGreaterThan(0);
    }
    expect(shows.get("comparison")).toEqual({ yes: 0, no: 300 });
  });

  it("the flaws are described for the report, comparison has none", () => {
    expect(DOMAIN_SPECS.addition.flaw).toMatch(/carr/);
    expect(DOMAIN_SPECS.subtraction.flaw).toMatch(/borrow/);
    expect(DOMAIN_SPECS.multiplication.flaw).toMatch(/carry/);
    expect(DOMAIN_SPECS.comparison.flaw).toBeUndefined();
  });
});

describe("generateProblems", () => {
  const problems = generateProblems({ seed: 11, count: 1200 });

  it("is deterministic and prefix-stable", () => {
    expect(generateProblems({ seed: 11, count: 1200 })).toEqual(problems);
    expect(generateProblems({ seed: 11, count: 300 })).toEqual(problems.slice(0, 300));
    expect(generateProblems({ seed: 12, count: 300 })).not.toEqual(problems.slice(0, 300));
    const weighted = { seed: 3, count: 400, domainWeights: { addition: 3 }, difficultyWeights: { 2: 2 } };
    expect(generateProblems(weighted)).toEqual(generateProblems(weighted));
  });

  it("numbers problems in order and keeps their canonical texts distinct", () => {
    expect(problems.map((p) => p.id)).toEqual(problems.map((_, i) => `p-${String(i).padStart(5, "0")}`));
    expect(new Set(problems.map((p) => canonicalText(p.problem))).size).toBe(problems.length);
    const skewed = generateProblems({ seed: 5, count: 1500, domains: ["addition", "subtraction"], difficulties: [2] });
    expect(new Set(skewed.map((p) => canonicalText(p.problem))).size).toBe(skewed.length);
  });

  it("is exactly balanced over families and, within each family, over difficulty levels", () => {
    expect(problems.map((p) => p.domain)).toEqual(problems.map((_, i) => DOMAINS[i % DOMAINS.length]));
    const cells = new Map<string, number>();
    for (const p of problems) cells.set(`${p.domain}/${p.difficulty}`, (cells.get(`${p.domain}/${p.difficulty}`) ?? 0) + 1);
    expect(cells.size).toBe(DOMAINS.length * DIFFICULTIES.length);
    for (const n of cells.values()) expect(n).toBe(1200 / 12);
    // Levels cycle within each family.
    for (const d of DOMAINS) {
      const levels = problems.filter((p) => p.domain === d).map((p) => p.difficulty);
      expect(levels, d).toEqual(levels.map((_, k) => DIFFICULTIES[k % DIFFICULTIES.length]));
    }
  });

  it("difficulty is the number of steps of the procedure (digits of the operands)", () => {
    for (const p of problems) {
      if (p.domain === "comparison") {
        expect(p.steps.length).toBeGreaterThanOrEqual(1);
        expect(p.steps.length).toBeLessThanOrEqual(p.difficulty);
      } else expect(p.steps, p.problem).toHaveLength(p.difficulty);
      expect(operands(p.problem).a).toHaveLength(p.difficulty);
    }
  });

  it("draws the weighted shape with domainWeights and difficultyWeights", () => {
    const domainWeights = { addition: 0.6, subtraction: 0.14, multiplication: 0.13, comparison: 0.13 };
    const difficultyWeights = { 2: 0.5, 3: 0.3, 4: 0.2 };
    const drawn = generateProblems({ seed: 9, count: 3000, domainWeights, difficultyWeights });
    const share = (pred: (p: Problem) => boolean) => drawn.filter(pred).length / drawn.length;
    for (const d of DOMAINS) expect(Math.abs(share((p) => p.domain === d) - domainWeights[d]), d).toBeLessThan(0.05);
    for (const l of DIFFICULTIES) expect(Math.abs(share((p) => p.difficulty === l) - difficultyWeights[l]), String(l)).toBeLessThan(0.05);
    expect(new Set(drawn.map((p) => canonicalText(p.problem))).size).toBe(drawn.length);
    // A missing weight counts 1; weight 0 leaves a family (or level) out.
    const some = generateProblems({ seed: 2, count: 600, domainWeights: { comparison: 0 }, difficultyWeights: { 4: 0 } });
    expect(some.some((p) => p.domain === "comparison")).toBe(false);
    expect(some.some((p) => p.difficulty === 4)).toBe(false);
    expect(new Set(some.map((p) => p.domain))).toEqual(new Set(["addition", "subtraction", "multiplication"]));
  });

  it("honours domains, difficulties and exclude", () => {
    const some = generateProblems({ seed: 3, count: 60, domains: ["multiplication", "comparison"], difficulties: [2, 4] });
    expect(new Set(some.map((p) => p.domain))).toEqual(new Set(["multiplication", "comparison"]));
    expect(new Set(some.map((p) => p.difficulty))).toEqual(new Set([2, 4]));
    const first = generateProblems({ seed: 1, count: 400, domains: ["multiplication"], difficulties: [2] });
    const exclude = new Set(first.map((p) => canonicalText(p.problem)));
    const second = generateProblems({ seed: 2, count: 300, domains: ["multiplication"], difficulties: [2], exclude });
    for (const p of second) expect(exclude.has(canonicalText(p.problem)), p.problem).toBe(false);
    // 90 two-digit numbers × 8 multipliers: 720 distinct problems, 400 of them excluded.
    expect(() => generateProblems({ seed: 2, count: 400, domains: ["multiplication"], difficulties: [2], exclude })).toThrow(/every "multiplication" level is out of distinct problems/);
  });

  it("gives way to another level of the family when a cell runs out", () => {
    const many = generateProblems({ seed: 6, count: 800, domains: ["multiplication"], difficulties: [2, 3], difficultyWeights: { 2: 1, 3: 0 } });
    expect(many).toHaveLength(800);
    const two = many.filter((p) => p.difficulty === 2).length;
    expect(two).toBeLessThanOrEqual(720);
    expect(two).toBeGreaterThan(600);
    expect(new Set(many.map((p) => canonicalText(p.problem))).size).toBe(800);
    expect(() => generateProblems({ seed: 6, count: 800, domains: ["multiplication"], difficulties: [2] })).toThrow(/every "multiplication" level is out of distinct problems/);
  });

  it("rejects invalid options, naming each", () => {
    expect(() => generateProblems({ seed: 1, count: -1 })).toThrow(/invalid options \(count must be a whole number ≥ 0 \(got -1\)\)/);
    expect(() => generateProblems({ seed: 1, count: 2.5 })).toThrow(/count must be a whole number/);
    expect(() => generateProblems({ seed: 1, count: 5, domains: ["addition", "nope" as Domain] })).toThrow(/unknown domains nope \(known: addition, subtraction, multiplication, comparison\)/);
    expect(() => generateProblems({ seed: 1, count: 5, domains: [] })).toThrow(/domains must not be empty/);
    expect(() => generateProblems({ seed: 1, count: 5, difficulties: [1, 5] })).toThrow(/difficulties must be a non-empty subset of 2, 3, 4 \(got 1, 5\)/);
    expect(() => generateProblems({ seed: 1, count: 5, difficulties: [] })).toThrow(/difficulties must be a non-empty subset of 2, 3, 4 \(got none\)/);
    expect(() => generateProblems({ seed: 1, count: 5, domainWeights: { addition: -1 } })).toThrow(/weight of addition must be ≥ 0 \(got -1\)/);
    expect(() => generateProblems({ seed: 1, count: 5, difficultyWeights: { 3: Number.NaN } })).toThrow(/weight of 3 must be ≥ 0 \(got NaN\)/);
    // Every problem at once.
    expect(() => generateProblems({ seed: 1, count: -1, domains: ["nope" as Domain], difficulties: [7] })).toThrow(/count must be.*; unknown domains nope.*; difficulties must be/);
    expect(generateProblems({ seed: 1, count: 0 })).toEqual([]);
  });

  it("domainOfProblem recovers every problem's family, also reformatted or prefixed", () => {
    const rng = createRng(8);
    for (const p of problems) {
      expect(domainOfProblem(p.problem), p.problem).toBe(p.domain);
      expect(domainOfProblem(reformat(p.problem)), reformat(p.problem)).toBe(p.domain);
      for (let k = 0; k < 4; k++) {
        const light = lightlyReformat(rng, p.problem);
        expect(domainOfProblem(light), light).toBe(p.domain);
      }
    }
    expect(domainOfProblem("Tell me a joke.")).toBeUndefined();
  });
});

describe("rewrites", () => {
  const problems = generateProblems({ seed: 21, count: 600 });

  it("reformatting keeps the canonical text; light reformatting keeps the full word sequence", () => {
    const rng = createRng(4);
    for (const p of problems) {
      expect(reformat(p.problem)).not.toBe(p.problem);
      expect(canonicalText(reformat(p.problem))).toBe(canonicalText(p.problem));
      expect(shingleJaccard(reformat(p.problem), p.problem)).toBe(1);
      expect(canonicalText(lightlyReformat(rng, p.problem))).toContain(canonicalText(p.problem));
    }
    expect(shingleJaccard("a b c d e f", "a b c d e g")).toBeCloseTo(1 / 3);
  });
});
