import { makeSample, type Sample } from "@infialign/data";
import { describe, expect, it } from "vitest";
import { nearDupStage, resolveNearDupParams } from "../src/select/stages/nearDupStage.js";
import { collect, fakeCtx, from } from "./helpers.js";

const base =
  "A rectangular garden is twice as long as it is wide and its perimeter is sixty meters so the gardener wants to know the area of the garden in square meters before planting tomatoes along every side of it";
const s = (prompt: string, response = "\\boxed{200}"): Sample => makeSample({ source: "t", prompt, response });
const pool = [
  s(base),
  s(base.replace("tomatoes", "carrots")), // one word changed: near-duplicate of 0
  s("Compute the sum of the first one hundred positive odd integers and explain each step of the computation carefully"),
  s(`${base} today`), // one word appended: near-duplicate of 0
  s("Find all real x such that x squared minus five x plus six equals zero and list them in increasing order please"),
  s(""),
  s(""),
];

describe("nearDupStage", () => {
  it("drops near-duplicates of kept records and keeps distinct ones", async () => {
    const { ctx, duplicates } = fakeCtx();
    const stage = nearDupStage();
    const out = await collect(stage.run(from(pool), ctx));
    expect(out.map((x) => x.id)).toEqual([pool[0]!.id, pool[2]!.id, pool[4]!.id, pool[5]!.id, pool[6]!.id]);
    expect(duplicates).toEqual([
      { id: pool[1]!.id, of: pool[0]!.id },
      { id: pool[3]!.id, of: pool[0]!.id },
    ]);
    expect(await stage.finish!()).toMatchObject({ kept: 5, duplicates: 2 });
  });

  it("a threshold of 1 keeps everything that is not identical", async () => {
    const { ctx, duplicates } = fakeCtx();
    await collect(nearDupStage({ threshold: 1 }).run(from(pool), ctx));
    expect(duplicates).toHaveLength(0);
  });

  it("prompt+response compares the whole record", async () => {
    const a = s(base, `${"first we note the width w and length 2w ".repeat(3)} \\boxed{200}`);
    const b = s(base, "completely different reasoning about many unrelated matters until the answer appears at last \\boxed{200}");
    const { ctx, duplicates } = fakeCtx();
    await collect(nearDupStage({ field: "prompt+response" }).run(from([a, b]), ctx));
    expect(duplicates).toHaveLength(0);
    const second = fakeCtx();
    await collect(nearDupStage().run(from([a, b]), second.ctx));
    expect(second.duplicates).toHaveLength(1);
  });

  it("restore rebuilds the index from the kept output (resume ≡ uninterrupted)", async () => {
    const whole = fakeCtx();
    const all = await collect(nearDupStage().run(from(pool), whole.ctx));
    const first = await collect(nearDupStage().run(from(pool.slice(0, 3)), fakeCtx().ctx));
    const resumed = nearDupStage();
    await resumed.restore!(from(first));
    const rest = fakeCtx();
    const tail = await collect(resumed.run(from(pool.slice(3)), rest.ctx));
    expect([...first, ...tail].map((x) => x.id)).toEqual(all.map((x) => x.id));
    expect(rest.duplicates).toEqual(whole.duplicates.filter((d) => d.id === pool[3]!.id));
  });

  it("validates options, naming every problem", () => {
    expect(() => resolveNearDupParams({ threshold: 2, field: "x" as never })).toThrow(/field.*threshold/);
    expect(resolveNearDupParams().threshold).toBeCloseTo((1 / 14) ** (1 / 8));
  });
});
