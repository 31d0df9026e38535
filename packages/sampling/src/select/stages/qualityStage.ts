import type { Sample, Stage } from "@infialign/data";
import type { Judge } from "@infialign/verify";
import { checkQualityResolved, type QualityOptions, type QualityReason, type ResolvedQualityOptions, resolveQualityOptions } from "../quality.js";

export interface QualityStageOptions extends QualityOptions {
  /**
   * Judge used to fill in `meta.scores.judge` when `minJudgeScore` is set and the record has
   * no score yet (one `scoreRubric` call per record, in order). Not hashed into the params.
   * @default undefined (records without a score pass the judge check)
   */
  judge?: Pick<Judge, "scoreRubric">;
  /** Rubric given to the judge. @default "Is the response correct, complete and clearly reasoned?" */
  judgeRubric?: string;
}

const DEFAULT_RUBRIC = "Is the response correct, complete and clearly reasoned?";

/**
 * Streaming quality control: each record is checked with `checkQuality` and either
 * forwarded or rejected with its `QualityReason` as the code. No buffering, no state,
 * so the default `resume: "skip"` applies, and sharded executors split it by input shard
 * (its stats are counts, which add up across shards).
 */
export function qualityStage(options: QualityStageOptions = {}): Stage<Sample, Sample, ResolvedQualityOptions & { judgeRubric?: string }> {
  const { judge, judgeRubric, ...rest } = options;
  const resolved = resolveQualityOptions(rest);
  const rubric = judgeRubric ?? DEFAULT_RUBRIC;
  const dropped: Partial<Record<QualityReason, number>> = {};
  let kept = 0;
  let judged = 0;
  return {
    name: "quality",
    version: "1",
    params: judge && resolved.minJudgeScore !== undefined ? { ...resolved, judgeRubric: rubric } : resolved,
    async *run(records, ctx) {
      for await (const input of records) {
        let sample = input;
        if (judge && resolved.minJudgeScore !== undefined && sample.meta.scores?.judge === undefined && sample.response?.trim()) {
          const r = await judge.scoreRubric(sample.prompt, sample.response, rubric);
          judged++;
          ctx.count("quality_judged");
          if (r.score !== null) sample = { ...sample, meta: { ...sample.meta, scores: { ...sample.meta.scores, judge: r.score } } };
        }
        const verdict = checkQualityResolved(sample, resolved);
        if (verdict.keep) {
          kept++;
          yield sample;
          continue;
        }
        dropped[verdict.reason] = (dropped[verdict.reason] ?? 0) + 1;
        ctx.count(`quality_${verdict.reason}`);
        ctx.reject(sample, verdict.reason, verdict.message, { id: sample.id });
      }
    },
    finish: () => ({ kept, judged, dropped: { ...dropped } }),
    sharding: { kind: "records" },
  };
}
