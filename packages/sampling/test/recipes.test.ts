import { canonicalJson, exactDedupStage, normalizeStage } from "@infialign/data";
import { type BenchmarkItem, benchmarkDecontamStage } from "@infialign/decontam";
import { describe, expect, it } from "vitest";
import { infialignCurationStages } from "../src/recipes/index.js";
import { nearDupStage } from "../src/select/stages/nearDupStage.js";
import { qualityStage } from "../src/select/stages/qualityStage.js";
import { selectStage } from "../src/select/stages/selectStage.js";

const benchmarks: BenchmarkItem[] = [{ benchmark: "mine", id: "1", text: "What is the least prime greater than one hundred and ten?" }];
const chars = { name: "characters", count: (t: string) => t.length };
const summary = (stages: ReadonlyArray<{ name: string; version?: string; params: unknown }>) => stages.map((s) => [s.name, s.version, canonicalJson(s.params)]);

describe("infialignCurationStages", () => {
  it("is InfiAlign's stage order, each stage with the params it has when built alone", () => {
    const stages = infialignCurationStages({ benchmarks, select: { budget: 10, tokenizer: chars } });
    expect(summary(stages)).toEqual(
      summary([normalizeStage(), exactDedupStage(), benchmarkDecontamStage(benchmarks), qualityStage(), nearDupStage(), selectStage({ budget: 10, tokenizer: chars })]),
    );
    expect(typeof stages[5].report).toBe("function");
  });

  it("passes each stage its own options", () => {
    const options = {
      normalize: { adapter: "math" },
      dedup: { key: "prompt" },
      decontam: { fields: ["prompt", "response"] },
      quality: { noGold: "drop" },
      nearDup: { field: "prompt+response", threshold: 0.9 },
      select: { budget: 0.5, order: "random", tokenizer: chars },
    } as const;
    const stages = infialignCurationStages({ benchmarks, ...options });
    expect(summary(stages)).toEqual(
      summary([
        normalizeStage(options.normalize),
        exactDedupStage(options.dedup),
        benchmarkDecontamStage(benchmarks, { fields: [...options.decontam.fields] }),
        qualityStage(options.quality),
        nearDupStage(options.nearDup),
        selectStage(options.select),
      ]),
    );
    expect(summary(stages)).not.toEqual(summary(infialignCurationStages({ benchmarks, select: { budget: 0.5, tokenizer: chars } })));
  });
});
