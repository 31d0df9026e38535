/** @infialign/train-sft — Two-phase curriculum SFT with packing, AdamW, checkpoints and TRL metric names. Planned; see the package README. */
export const PACKAGE_STATUS = "planned" as const;
