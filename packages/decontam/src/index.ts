/** @infialign/decontam — Benchmark decontamination: n-gram index, MinHash/LSH near-duplicates, embedding similarity. Planned; see the package README. */
export const PACKAGE_STATUS = "planned" as const;
