import type { Sample } from "@infialign/data";
import { type Domain, isDomain } from "./taxonomy.js";

/**
 * Subject names sources put in `domain`, `meta.type` or `meta.subject`, lowercased. The MATH
 * adapter stores the lowercased `type`/`subject` as `sample.domain`; the GSM8K adapter
 * stores "arithmetic word problems".
 */
const SUBJECT_TO_DOMAIN: Readonly<Record<string, Domain>> = {
  algebra: "math/algebra",
  "intermediate algebra": "math/algebra",
  prealgebra: "math/algebra",
  "counting & probability": "math/combinatorics_probability",
  "counting and probability": "math/combinatorics_probability",
  combinatorics: "math/combinatorics_probability",
  probability: "math/combinatorics_probability",
  geometry: "math/geometry",
  "number theory": "math/number_theory",
  precalculus: "math/precalculus",
  calculus: "math/calculus_analysis",
  analysis: "math/calculus_analysis",
  "arithmetic word problems": "math/arithmetic_word_problems",
  physics: "science/physics",
  chemistry: "science/chemistry",
  biology: "science/biology",
  code: "code",
  coding: "code",
  programming: "code",
};

/** Sources (or adapters) whose every record is a grade-school word problem. */
const WORD_PROBLEM_SOURCES = new Set(["gsm8k"]);

/** The domain a record's metadata states, or undefined when it states none we know. */
export function labelFromMetadata(sample: Pick<Sample, "domain" | "source" | "meta">): Domain | undefined {
  if (isDomain(sample.domain)) return sample.domain;
  const meta = sample.meta ?? {};
  for (const value of [sample.domain, meta.type, meta.subject]) {
    if (typeof value !== "string") continue;
    const mapped = SUBJECT_TO_DOMAIN[value.trim().toLowerCase()];
    if (mapped) return mapped;
  }
  const source = sample.source.toLowerCase();
  if (WORD_PROBLEM_SOURCES.has(source) || (typeof meta.adapter === "string" && WORD_PROBLEM_SOURCES.has(meta.adapter))) return "math/arithmetic_word_problems";
  return undefined;
}
