// The CLI's pipeline recipe: workers of the `processes` and `bullmq` executors rebuild the CLI's stages from it.
import type { Stage } from "../runtime/types.js";
import { type ExactDedupParams, exactDedupStage } from "../stages/exactDedupStage.js";
import { type NormalizeOptions, normalizeStage } from "../stages/normalizeStage.js";
import { statsStage } from "../stages/statsStage.js";

/** One CLI stage and its options, as JSON. */
export type CliStageSpec = { kind: "normalize"; options: NormalizeOptions } | { kind: "dedup"; options: ExactDedupParams } | { kind: "stats" };

export function cliStages(specs: CliStageSpec[]): Stage<never, never, unknown>[] {
  return specs.map((spec): Stage<never, never, unknown> => {
    if (spec.kind === "normalize") return normalizeStage(spec.options) as Stage<never, never, unknown>;
    if (spec.kind === "dedup") return exactDedupStage(spec.options) as Stage<never, never, unknown>;
    return statsStage() as Stage<never, never, unknown>;
  });
}
