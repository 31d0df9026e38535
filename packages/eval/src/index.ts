/** @infialign/eval — Benchmark evaluation: AIME, MATH500, GPQA, MMLU-Pro, LiveCodeBench; avg@n, pass@k; reports. Planned; see the package README. */
export const PACKAGE_STATUS = "planned" as const;
