// The embedded default data of the full pipeline: a seeded task world of procedural arithmetic skills.

export type { Domain, DrawnProblem } from "./domains.js";
export { DIFFICULTIES, DOMAIN_SPECS, DOMAINS, domainOfProblem } from "./domains.js";
export type { GenerateProblemsOptions, Problem } from "./generateProblems.js";
export { answerLine, canonicalText, generateProblems } from "./generateProblems.js";
export { lightlyReformat, reformat, shingleJaccard } from "./rewrite.js";
export type { DefectCounts, DefectEntry, DefectKind, HeldOutItem, Source, SourceCounts, SourcesManifest, WriteSourcesOptions } from "./writeSources.js";
export { DEFAULT_COMPOSITION, DEFAULT_DEFECT_RATES, DEFECT_KINDS, resolveSourceCounts, SOURCES, writeSources } from "./writeSources.js";
