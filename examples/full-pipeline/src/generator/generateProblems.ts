import { tokenizeForMatch } from "@infialign/decontam";
import { createRng } from "@infialign/kernels";
import { DOMAIN_SPECS, DOMAINS, type Domain, pick } from "./domains.js";

/** One generated problem with its worked solution; the answer is computed, never typed. */
export interface Problem {
  /** `p-00042`: the problem's index in generation order. */
  id: string;
  domain: Domain;
  /** Number of reasoning steps (lines of `steps`), 1-5. */
  difficulty: number;
  problem: string;
  /** One true computation per line. */
  steps: string[];
  /** `steps`, one per line, then `The answer is \boxed{<answer>}.` */
  solution: string;
  answer: string;
}

export interface GenerateProblemsOptions {
  /** Seed of the problem stream (integer in [0, 2^32)); the same seed gives the same problems. */
  seed: number;
  /** How many problems. */
  count: number;
  /** Families to draw from, in turn (problem i is of `domains[i % domains.length]`). @default every domain in DOMAINS */
  domains?: readonly Domain[];
  /** Difficulty levels allowed (each domain draws uniformly among those it supports). @default [1, 2, 3, 4, 5] */
  difficulties?: readonly number[];
}

/** Final line of every clean solution. */
export function answerLine(answer: string): string {
  return `The answer is \\boxed{${answer}}.`;
}

/** Text as decontamination and MinHash see it (lowercase words and numbers): two problems equal here are the same problem. */
export function canonicalText(text: string): string {
  return tokenizeForMatch(text).join(" ");
}

// Redraws allowed per problem before the domain × difficulty space counts as exhausted.
const MAX_DRAWS = 1000;

/**
 * Deterministic stream of distinct problems. Problem i has domain `domains[i % n]` and a
 * difficulty drawn uniformly among the allowed levels that domain supports; no two problems
 * share a `canonicalText` (or a domain's sameness key, see `DrawnProblem.key`). The stream is prefix-stable: the first k problems of a larger
 * `count` are the problems of `count = k`.
 */
export function generateProblems(options: GenerateProblemsOptions): Problem[] {
  const { seed, count } = options;
  const domains = options.domains ?? DOMAINS;
  const difficulties = options.difficulties ?? [1, 2, 3, 4, 5];
  const problems: string[] = [];
  if (!Number.isInteger(count) || count < 0) problems.push(`count must be a whole number ≥ 0 (got ${count})`);
  const unknown = domains.filter((d) => !(DOMAINS as readonly string[]).includes(d));
  if (unknown.length) problems.push(`unknown domains ${unknown.join(", ")} (known: ${DOMAINS.join(", ")})`);
  if (!domains.length) problems.push("domains must not be empty");
  const levelsOf = new Map<Domain, number[]>();
  for (const d of domains) {
    if (unknown.includes(d)) continue;
    const levels = DOMAIN_SPECS[d].difficulties.filter((l) => difficulties.includes(l));
    if (!levels.length) problems.push(`domain "${d}" supports difficulties ${DOMAIN_SPECS[d].difficulties.join(", ")}, none of ${difficulties.join(", ") || "(none)"}`);
    levelsOf.set(d, levels);
  }
  if (problems.length) throw new Error(`[infialign/example-full-pipeline] generator: invalid options (${problems.join("; ")})`);

  const rng = createRng(seed);
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (let i = 0; i < count; i++) {
    const domain = domains[i % domains.length] as Domain;
    const spec = DOMAIN_SPECS[domain];
    let made: Problem | undefined;
    const levels = levelsOf.get(domain) as number[];
    const wanted = pick(rng, levels);
    for (let attempt = 0; attempt < MAX_DRAWS && !made; attempt++) {
      // Redraw at the chosen level first, so levels whose draws often fail a constraint are not
      // under-sampled; switch level only once that level looks exhausted.
      const difficulty = attempt < MAX_DRAWS / 2 ? wanted : pick(rng, levels);
      const drawn = spec.draw(rng, difficulty);
      if (!drawn) continue;
      const key = drawn.key ?? canonicalText(drawn.problem);
      if (seen.has(key)) continue;
      seen.add(key);
      const answer = String(drawn.answer);
      made = {
        id: `p-${String(i).padStart(5, "0")}`,
        domain,
        difficulty,
        problem: drawn.problem,
        steps: drawn.steps,
        solution: [...drawn.steps, answerLine(answer)].join("\n"),
        answer,
      };
    }
    if (!made) {
      throw new Error(
        `[infialign/example-full-pipeline] generator: no new distinct "${domain}" problem after ${MAX_DRAWS} draws (problem ${i}); lower count or allow more difficulties/domains.`,
      );
    }
    out.push(made);
  }
  return out;
}
