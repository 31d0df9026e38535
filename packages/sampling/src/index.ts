/** @infialign/sampling — Diversity and difficulty sampling: domain labels, embeddings, spherical k-means, quotas and budgets. Planned; see the package README. */
export const PACKAGE_STATUS = "planned" as const;
