import { tokenizeForMatch } from "@infialign/decontam";
import { createRng, type Rng } from "@infialign/kernels";
import { DIFFICULTIES, DOMAIN_SPECS, DOMAINS, type Domain, pick } from "./domains.js";

/** One generated problem with its worked solution; the answer is computed, never typed. */
export interface Problem {
  /** `p-00042`: the problem's index in generation order. */
  id: string;
  domain: Domain;
  /** Digits per operand = reasoning steps of the procedure. */
  difficulty: number;
  problem: string;
  /** One column of the procedure per line. */
  steps: string[];
  /** `steps`, one per line, then `\boxed{<answer>}`. */
  solution: string;
  answer: string;
  /** The flawed teacher's version (families with a systematic-error variant). */
  flawed?: { steps: string[]; answer: string; solution: string };
}

export interface GenerateProblemsOptions {
  /** Seed of the problem stream (integer in [0, 2^32)); the same seed gives the same problems. */
  seed: number;
  /** How many problems. */
  count: number;
  /** Families to draw from. @default every domain in DOMAINS */
  domains?: readonly Domain[];
  /** Relative frequency of each family (missing = 1). Without weights, problem i is of `domains[i % n]` (exact balance). */
  domainWeights?: Partial<Record<Domain, number>>;
  /** Difficulty levels allowed. @default DIFFICULTIES */
  difficulties?: readonly number[];
  /** Relative frequency of each level (missing = 1). Without weights, levels cycle within each family (exact balance). */
  difficultyWeights?: Readonly<Record<number, number>>;
  /** Problems (canonical text) that must not be drawn again: another split's. */
  exclude?: ReadonlySet<string>;
}

/** Final line of every clean solution. */
export function answerLine(answer: string): string {
  return `\\boxed{${answer}}`;
}

/** Text as decontamination and MinHash see it (lowercase words and numbers): two problems equal here are the same problem. */
export function canonicalText(text: string): string {
  return tokenizeForMatch(text).join(" ");
}

// Redraws allowed per problem before a domain × difficulty cell counts as exhausted.
const MAX_DRAWS = 400;

function weighted<T>(rng: Rng, items: readonly T[], weight: (item: T) => number): T {
  const total = items.reduce((a, it) => a + weight(it), 0);
  let r = rng.nextFloat() * total;
  for (const it of items) {
    r -= weight(it);
    if (r < 0) return it;
  }
  return items.at(-1) as T;
}

/**
 * Deterministic stream of distinct problems (no two share a `canonicalText`). Without weights the stream is exactly
 * balanced over families and, within each family, over difficulty levels (held-out and dev splits); with weights it
 * draws the pool's skewed shape. A cell whose distinct problems run out (2-digit multiplication has 720) gives way to
 * another level of the same family.
 */
export function generateProblems(options: GenerateProblemsOptions): Problem[] {
  const { seed, count } = options;
  const domains = options.domains ?? DOMAINS;
  const difficulties = options.difficulties ?? DIFFICULTIES;
  const problems: string[] = [];
  if (!Number.isInteger(count) || count < 0) problems.push(`count must be a whole number ≥ 0 (got ${count})`);
  const unknown = domains.filter((d) => !(DOMAINS as readonly string[]).includes(d));
  if (unknown.length) problems.push(`unknown domains ${unknown.join(", ")} (known: ${DOMAINS.join(", ")})`);
  if (!domains.length) problems.push("domains must not be empty");
  const bad = difficulties.filter((d) => !(DIFFICULTIES as readonly number[]).includes(d));
  if (bad.length || !difficulties.length) problems.push(`difficulties must be a non-empty subset of ${DIFFICULTIES.join(", ")} (got ${difficulties.join(", ") || "none"})`);
  for (const [k, w] of Object.entries({ ...options.domainWeights, ...options.difficultyWeights })) if (!(Number(w) >= 0)) problems.push(`weight of ${k} must be ≥ 0 (got ${w})`);
  if (problems.length) throw new Error(`[infialign/example-full-pipeline] generator: invalid options (${problems.join("; ")})`);

  const rng = createRng(seed);
  const seen = new Set<string>();
  const exhausted = new Set<string>();
  const perDomain = new Map<Domain, number>();
  const out: Problem[] = [];
  for (let i = 0; i < count; i++) {
    const domain = options.domainWeights ? weighted(rng, domains, (d) => options.domainWeights?.[d] ?? 1) : (domains[i % domains.length] as Domain);
    const nth = perDomain.get(domain) ?? 0;
    perDomain.set(domain, nth + 1);
    const open = difficulties.filter((d) => !exhausted.has(`${domain}/${d}`));
    if (!open.length) throw new Error(`[infialign/example-full-pipeline] generator: every "${domain}" level is out of distinct problems (problem ${i}); lower count.`);
    let level = options.difficultyWeights ? weighted(rng, open, (d) => options.difficultyWeights?.[d] ?? 1) : (difficulties[nth % difficulties.length] as number);
    let made: Problem | undefined;
    while (!made) {
      if (exhausted.has(`${domain}/${level}`)) level = pick(rng, difficulties.filter((d) => !exhausted.has(`${domain}/${d}`)));
      for (let attempt = 0; attempt < MAX_DRAWS && !made; attempt++) {
        const drawn = DOMAIN_SPECS[domain].draw(rng, level);
        const key = canonicalText(drawn.problem);
        if (seen.has(key) || options.exclude?.has(key)) continue;
        seen.add(key);
        made = {
          id: `p-${String(i).padStart(5, "0")}`,
          domain,
          difficulty: level,
          problem: drawn.problem,
          steps: drawn.steps,
          solution: [...drawn.steps, answerLine(drawn.answer)].join("\n"),
          answer: drawn.answer,
          ...(drawn.flawed ? { flawed: { ...drawn.flawed, solution: [...drawn.flawed.steps, answerLine(drawn.flawed.answer)].join("\n") } } : {}),
        };
      }
      if (!made) {
        exhausted.add(`${domain}/${level}`);
        if (difficulties.every((d) => exhausted.has(`${domain}/${d}`))) {
          throw new Error(`[infialign/example-full-pipeline] generator: every "${domain}" level is out of distinct problems (problem ${i}); lower count.`);
        }
      }
    }
    out.push(made);
  }
  return out;
}
