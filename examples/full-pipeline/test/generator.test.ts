import { createRng } from "@infialign/kernels";
import { verifyMath } from "@infialign/verify";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DOMAIN_SPECS, DOMAINS } from "../src/generator/domains.js";
import { generateProblems, type Problem } from "../src/generator/generateProblems.js";
import { lightlyReformat, MIN_SIBLING_JACCARD, reformat, rewordSibling, shingleJaccard } from "../src/generator/rewrite.js";

/** Tiny independent evaluator: integers, + - * /, parentheses and `x`; exact (throws on a non-integer division). */
function evaluate(expr: string, x?: number): number {
  const tokens = expr.match(/\d+|[-+*/()x]/g) ?? [];
  let i = 0;
  const atom = (): number => {
    const t = tokens[i++];
    if (t === "(") {
      const v = sum();
      i++;
      return v;
    }
    if (t === "x") {
      if (x === undefined) throw new Error("x without a value");
      return x;
    }
    return Number(t);
  };
  const product = (): number => {
    let v = atom();
    while (tokens[i] === "*" || tokens[i] === "/") {
      const op = tokens[i++];
      const r = atom();
      if (op === "/" && v % r !== 0) throw new Error(`${v} / ${r} is not whole`);
      v = op === "*" ? v * r : v / r;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (tokens[i] === "+" || tokens[i] === "-") v = tokens[i++] === "+" ? v + product() : v - product();
    return v;
  };
  return sum();
}

/** The answer recomputed from the problem statement alone, not from the solution. */
function solveIndependently(p: Problem): number {
  const nums = (p.problem.match(/\d+/g) ?? []).map(Number);
  switch (p.domain) {
    case "arithmetic":
      return evaluate(p.problem.slice("Compute ".length, -1));
    case "linear": {
      const [, rhs, lhs] = /^Solve (\d+) = (.+) for x\.$/.exec(p.problem) as unknown as [string, string, string];
      const roots = [];
      for (let x = -50; x <= 300; x++) {
        try {
          if (evaluate(lhs, x) === Number(rhs)) roots.push(x);
        } catch {
          // x makes a division inexact: not a whole-number solution.
        }
      }
      expect(roots).toHaveLength(1);
      return roots[0] as number;
    }
    case "percent": {
      let price = nums[0] as number;
      for (const [, dir, pct] of p.problem.matchAll(/(rises|drops) (\d+)%/g)) price = dir === "rises" ? price * (1 + Number(pct) / 100) : price * (1 - Number(pct) / 100);
      return Math.round(price * 1e6) / 1e6;
    }
    case "modular": {
      const [a, b, e, m] = nums as [number, number, number, number];
      return Number((BigInt(a) * BigInt(b) ** BigInt(e)) % BigInt(m));
    }
    case "sequence": {
      const [a, second] = p.problem.startsWith("An arithmetic") ? [nums[0] as number, (nums[0] as number) + (nums[1] as number)] : [nums[0] as number, nums[1] as number];
      const terms = Array.from({ length: 40 }, (_, k) => a + k * (second - a));
      const range = /sum of terms (\d+) through (\d+)/.exec(p.problem);
      if (range) return terms.slice(Number(range[1]) - 1, Number(range[2])).reduce((s, t) => s + t, 0);
      const first = /sum of the first (\d+) terms/.exec(p.problem);
      if (first) return terms.slice(0, Number(first[1])).reduce((s, t) => s + t, 0);
      return terms[Number(/term (\d+)\?/.exec(p.problem)?.[1]) - 1] as number;
    }
    case "counting": {
      const range = /from (\d+) to (\d+)\?/.exec(p.problem);
      if (range) return Array.from({ length: 400 }, (_, k) => k).filter((k) => k >= Number(range[1]) && k <= Number(range[2])).length;
      return nums.reduce((s, n) => s * n, 1);
    }
  }
}

/** Every `lhs = rhs` in a step line whose sides are plain arithmetic must hold (labels like `a_5`, `x + 3`, `d` are skipped). */
function checkStep(line: string): void {
  for (const clause of line.split(", ")) {
    const sides = clause.split(" = ").map((s) => s.replace(/(\d+) mod (\d+)/g, (_, a, m) => String(Number(a) % Number(m))));
    const values = sides.map((s) => (/^[\d\s+\-*/()]+$/.test(s) ? evaluate(s) : undefined));
    for (let k = 1; k < values.length; k++) {
      if (values[k - 1] !== undefined && values[k] !== undefined) expect(values[k], `${line}`).toBe(values[k - 1]);
    }
  }
}

describe("generateProblems", () => {
  const problems = generateProblems({ seed: 11, count: 1200 });

  it("is deterministic and prefix-stable", () => {
    expect(generateProblems({ seed: 11, count: 1200 })).toEqual(problems);
    expect(generateProblems({ seed: 11, count: 300 })).toEqual(problems.slice(0, 300));
    expect(generateProblems({ seed: 12, count: 300 })).not.toEqual(problems.slice(0, 300));
  });

  it("cycles domains, uses only supported difficulties and keeps problems distinct", () => {
    problems.forEach((p, i) => {
      expect(p.domain).toBe(DOMAINS[i % DOMAINS.length]);
      expect(DOMAIN_SPECS[p.domain].difficulties).toContain(p.difficulty);
      expect(p.steps).toHaveLength(p.difficulty);
    });
    expect(new Set(problems.map((p) => p.problem.toLowerCase())).size).toBe(problems.length);
    const levels = new Set(problems.map((p) => `${p.domain}/${p.difficulty}`));
    expect(levels.size).toBe(Object.values(DOMAIN_SPECS).reduce((n, s) => n + s.difficulties.length, 0));
  });

  it("keeps problems and solutions short enough for a tiny byte-level model", () => {
    for (const p of problems) {
      expect(p.problem.length, p.problem).toBeLessThanOrEqual(120);
      expect(p.solution.length, p.solution).toBeLessThanOrEqual(300);
      expect(Math.abs(Number(p.answer))).toBeLessThanOrEqual(400);
    }
  });

  it("answers match an independent solution of the statement, and Math-Verify accepts every solution", () => {
    for (const p of problems) {
      expect(Number(p.answer), p.problem).toBe(solveIndependently(p));
      expect(p.solution.endsWith(`\\boxed{${p.answer}}.`)).toBe(true);
      expect(verifyMath(p.answer, p.solution).correct, p.solution).toBe(true);
    }
  });

  it("writes one true computation per step, ending in the answer", () => {
    for (const p of problems) {
      for (const line of p.steps) checkStep(line);
      expect(p.steps.at(-1)?.endsWith(`= ${p.answer}`)).toBe(true);
    }
    // The checker can fail.
    expect(() => checkStep("3 + 4 = 8")).toThrow();
  });

  it("honours domains and difficulties, and rejects impossible options naming each problem", () => {
    const some = generateProblems({ seed: 3, count: 60, domains: ["modular", "sequence"], difficulties: [2, 3] });
    expect(new Set(some.map((p) => p.domain))).toEqual(new Set(["modular", "sequence"]));
    expect(some.every((p) => p.difficulty === 2 || p.difficulty === 3)).toBe(true);
    expect(() => generateProblems({ seed: 1, count: -1, domains: ["percent", "nope" as never], difficulties: [5] })).toThrow(
      /count must be a whole number.*unknown domains nope.*"percent" supports difficulties 1, 2, 3, 4/,
    );
    expect(() => generateProblems({ seed: 1, count: 10_000, domains: ["counting"], difficulties: [1] })).toThrow(/no new distinct "counting" problem/);
  });

  it("holds for any seed (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed) => {
        for (const p of generateProblems({ seed, count: 24 })) {
          expect(Number(p.answer), p.problem).toBe(solveIndependently(p));
          for (const line of p.steps) checkStep(line);
          expect(verifyMath(p.answer, p.solution).correct).toBe(true);
        }
      }),
      { numRuns: 40, seed: 42 },
    );
  });
});

describe("rewrites", () => {
  const problems = generateProblems({ seed: 21, count: 600 });

  it("reworded siblings differ from the original yet share most shingles", () => {
    const rng = createRng(3);
    for (const p of problems) {
      const sibling = rewordSibling(rng, p.problem);
      expect(sibling).not.toBe(p.problem);
      expect(shingleJaccard(sibling, p.problem), sibling).toBeGreaterThanOrEqual(MIN_SIBLING_JACCARD);
    }
  });

  it("reformatting keeps every word and number; light reformatting keeps the full word sequence", () => {
    const rng = createRng(4);
    for (const p of problems) {
      expect(reformat(p.problem)).not.toBe(p.problem);
      expect(shingleJaccard(reformat(p.problem), p.problem)).toBe(1);
      const light = lightlyReformat(rng, p.problem).toLowerCase().replace(/[^a-z0-9]+/g, " ");
      expect(light).toContain(p.problem.toLowerCase().replace(/[^a-z0-9]+/g, " ").trim());
    }
    expect(shingleJaccard("a b c d e f", "a b c d e g")).toBeCloseTo(1 / 3);
  });
});
