// The embedded default data of the full pipeline: a seeded generator of verifiable multi-step math problems.

export type { Domain, DrawnProblem } from "./domains.js";
export { DOMAIN_SPECS, DOMAINS } from "./domains.js";
export type { GenerateProblemsOptions, Problem } from "./generateProblems.js";
export { answerLine, canonicalText, generateProblems } from "./generateProblems.js";
export { lightlyReformat, MIN_SIBLING_JACCARD, reformat, rewordSibling, shingleJaccard } from "./rewrite.js";
export type {
  DefectCounts,
  DefectEntry,
  DefectKind,
  HeldOutItem,
  Schema,
  SourceCounts,
  SourcesManifest,
  WriteSourcesOptions,
} from "./writeSources.js";
export {
  DEFAULT_DEFECT_RATES,
  DEFECT_KINDS,
  MAX_POOL_SIMILARITY,
  resolveSourceCounts,
  SCHEMAS,
  writeSources,
} from "./writeSources.js";
