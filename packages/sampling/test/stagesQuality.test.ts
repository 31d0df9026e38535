import { makeSample, type Sample, type SampleInit } from "@infialign/data";
import { describe, expect, it } from "vitest";
import { qualityStage } from "../src/select/stages/qualityStage.js";
import { collect, fakeCtx, from } from "./helpers.js";

const sample = (init: Partial<SampleInit>): Sample => makeSample({ source: "t", prompt: "What is 6 times 7?", ...init });

describe("qualityStage", () => {
  it("forwards good records and rejects the rest with reason codes and per-reason counts", async () => {
    const input = [
      sample({ response: "\\boxed{42}", gold: "42" }),
      sample({ response: "\\boxed{41}", gold: "42" }),
      sample({ response: "" }),
      sample({ response: "no answer here", gold: "42" }),
      sample({ response: "\\boxed{42}", gold: "42", prompt: "again" }),
    ];
    const stage = qualityStage();
    const { ctx, rejects, counts } = fakeCtx();
    const out = await collect(stage.run(from(input), ctx));
    expect(out.map((s) => s.id)).toEqual([input[0]!.id, input[4]!.id]);
    expect(rejects.map((r) => r.code)).toEqual(["answer_mismatch", "no_response", "missing_final_answer"]);
    expect(counts).toEqual({ quality_answer_mismatch: 1, quality_no_response: 1, quality_missing_final_answer: 1 });
    expect(await stage.finish!()).toEqual({ kept: 2, judged: 0, dropped: { answer_mismatch: 1, no_response: 1, missing_final_answer: 1 } });
  });

  it("is streaming: yields a record before the next one is read", async () => {
    let read = 0;
    async function* counting() {
      for (const s of [sample({ response: "\\boxed{42}", gold: "42" }), sample({ response: "\\boxed{42}", gold: "42", prompt: "b" })]) {
        read++;
        yield s;
      }
    }
    const it = qualityStage().run(counting(), fakeCtx().ctx)[Symbol.asyncIterator]();
    await it.next();
    expect(read).toBe(1);
  });

  it("scores with an injected judge when minJudgeScore is set", async () => {
    const scores = [9, 3];
    const judge = { scoreRubric: async () => ({ score: scores.shift() ?? null, passed: true, samples: [], parseFailures: 0, requestErrors: 0 }) };
    const stage = qualityStage({ minJudgeScore: 7, judge });
    const { ctx, rejects } = fakeCtx();
    const out = await collect(stage.run(from([sample({ response: "\\boxed{42}", gold: "42" }), sample({ response: "\\boxed{42}", gold: "42", prompt: "x" })]), ctx));
    expect(out).toHaveLength(1);
    expect(out[0]!.meta.scores?.judge).toBe(9);
    expect(rejects.map((r) => r.code)).toEqual(["low_judge_score"]);
    expect(stage.params).toMatchObject({ minJudgeScore: 7, judgeRubric: expect.any(String) });
  });
});
