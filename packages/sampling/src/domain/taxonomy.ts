/**
 * Domains used for diversity quotas. Mathematics is split like the MATH benchmark's
 * subjects (Hendrycks et al. 2021) plus grade-school word problems (GSM8K); the rest is
 * coarse on purpose, since the InfiAlign mix is mostly mathematics.
 */
export const DOMAIN_TAXONOMY = [
  { id: "math/algebra", description: "Equations, inequalities, polynomials, functions and their graphs, sequences, exponents, radicals (MATH Algebra, Intermediate Algebra, Prealgebra)" },
  { id: "math/geometry", description: "Plane and solid figures: triangles, circles, polygons, areas, volumes, angles, coordinates of shapes" },
  { id: "math/number_theory", description: "Divisibility, primes, gcd/lcm, remainders and congruences, number bases, digits" },
  { id: "math/combinatorics_probability", description: "Counting, arrangements, binomial coefficients, probability, expected value" },
  { id: "math/calculus_analysis", description: "Limits, derivatives, integrals, series convergence, real analysis" },
  { id: "math/precalculus", description: "Trigonometry, vectors, matrices, complex numbers in polar form, parametric and polar curves" },
  { id: "math/arithmetic_word_problems", description: "Grade-school multi-step arithmetic stories: money, time, rates, quantities (GSM8K)" },
  { id: "code", description: "Programming: writing, fixing or explaining code, algorithms and data structures" },
  { id: "science/physics", description: "Mechanics, electromagnetism, thermodynamics, optics, quantum and modern physics" },
  { id: "science/chemistry", description: "Reactions, stoichiometry, molecules, bonding, acids and bases, thermochemistry" },
  { id: "science/biology", description: "Cells, genetics, evolution, physiology, ecology, biochemistry of organisms" },
  { id: "other", description: "Anything else: general instructions, writing, humanities, trivia" },
] as const satisfies readonly { id: string; description: string }[];

export type Domain = (typeof DOMAIN_TAXONOMY)[number]["id"];

/** Every taxonomy id, in taxonomy order. */
export const DOMAINS: readonly Domain[] = DOMAIN_TAXONOMY.map((d) => d.id);

const DOMAIN_SET: ReadonlySet<string> = new Set(DOMAINS);

export function isDomain(value: unknown): value is Domain {
  return typeof value === "string" && DOMAIN_SET.has(value);
}

/** Where a label came from, in the order `labelDomains` tries the sources. */
export type DomainSource = "metadata" | "keywords" | "llm" | "knn" | "default";

export interface DomainLabel {
  domain: Domain;
  source: DomainSource;
}
