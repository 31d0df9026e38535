/** @infialign/verify — Answer verification: math equivalence, multiple choice, sandboxed code execution, LLM judge. Planned; see the package README. */
export const PACKAGE_STATUS = "planned" as const;
