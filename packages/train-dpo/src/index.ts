/** @infialign/train-dpo — DPO from the SFT model's own errors: pair construction, cleaning, TRL loss family. Planned; see the package README. */
export const PACKAGE_STATUS = "planned" as const;
