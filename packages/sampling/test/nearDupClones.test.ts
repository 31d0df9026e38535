import { makeSample, type Positioned, type Sample } from "@infialign/data";
import { describe, expect, it } from "vitest";
import type { NearDupEdge } from "../src/select/nearDup.js";
import { nearDupStage } from "../src/select/stages/nearDupStage.js";
import { collect, fakeCtx, from } from "./helpers.js";

/** The streaming pass: kept ids and duplicates. */
async function streaming(records: Sample[]) {
  const { ctx, duplicates } = fakeCtx();
  const kept = await collect(nearDupStage().run(from(records), ctx));
  return { kept: kept.map((r) => r.id), duplicates };
}

/** The sharded plan called phase by phase, rows and edges through JSON as between tasks; also counts the edges. */
async function sharded(records: Sample[]) {
  const plan = nearDupStage().sharding;
  if (plan?.kind !== "global") throw new Error("near-dup has no global plan");
  const positioned = (): AsyncIterable<Positioned<Sample>> => from(records.map((record, position) => ({ record, position })));
  const rows = new Map<number, string[]>();
  const phase = fakeCtx().ctx;
  await plan.map!(positioned(), (p, row) => (rows.get(p) ?? rows.set(p, []).get(p)!).push(JSON.stringify(row)), undefined, phase);
  const reduced: NearDupEdge[] = [];
  for (let p = 0; p < (plan.partitions ?? 1); p++) {
    const out = await plan.reduce!(from((rows.get(p) ?? []).map((r) => JSON.parse(r))), p, undefined, phase);
    for (const edge of out.decisions) reduced.push(JSON.parse(JSON.stringify(edge)));
  }
  const merged = await plan.merge!(from(reduced), undefined, phase);
  const decisions = new Map(merged.decisions);
  const { ctx, duplicates } = fakeCtx();
  const kept = await collect(plan.apply(positioned(), (p) => decisions.get(p), undefined, ctx));
  // Each pair once, whatever number of bands (partitions) it collides in.
  const pairs = new Set(reduced.map(([later, link]) => `${later}>${"cloneOf" in link ? link.cloneOf : link.order}`));
  expect(pairs.size).toBe(reduced.length);
  return { result: { kept: kept.map((r) => r.id), duplicates }, edges: reduced.length };
}

const s = (prompt: string, i: number) => makeSample({ source: "t", prompt, response: `answer ${i}` });
// A ~ B and B ~ C, A ≁ C (see sharding.test.ts): B is a duplicate of A, C is kept.
const A = "one two three four five six seven eight";
const B = `${A} nine`;
const C = `${A} nine ten eleven`;
const P = "Solve the following problem carefully and show every step: a train leaves the station at noon travelling at sixty miles per hour toward the city";

describe("near-dup sharded plan over clusters of copies", () => {
  it("equals the streaming pass on 3,000 copies, near variants and a chain, with edges linear in the records", async () => {
    const records: Sample[] = [];
    const texts = [A, B, C];
    for (let i = 0; i < 3000; i++) {
      records.push(s(P, records.length));
      // Near variants of P (duplicates of it), copies of the chain (B's copies: B is dropped, so they point to the
      // better of A and C) and empty prompts (never matched, all kept).
      if (i % 500 === 7) records.push(s(`${P} quickly`, records.length));
      if (i % 400 === 3) records.push(s(texts[(i / 400) % 3 | 0]!, records.length));
      if (i % 700 === 11) records.push(s("", records.length));
    }
    records.unshift(s(C, -3), s(B, -2), s(A, -1));
    const [want, got] = [await streaming(records), await sharded(records)];
    expect(want.duplicates.length).toBeGreaterThan(3000);
    expect(got.result).toEqual(want);
    expect(got.edges).toBeLessThan(5 * records.length);
  });

  it("equals the streaming pass on random prompts from a small vocabulary, copies included (seeded)", async () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const base = Array.from({ length: 12 }, () => Array.from({ length: 10 + rand(6) }, () => `w${rand(40)}`));
    const records = Array.from({ length: 800 }, (_, i) => {
      const words = [...base[rand(base.length)]!];
      for (let k = rand(3); k > 0; k--) words[rand(words.length)] = `w${rand(40)}`;
      return s(rand(10) === 0 ? "" : words.join(" "), i);
    });
    const [want, got] = [await streaming(records), await sharded(records)];
    expect(want.duplicates.length).toBeGreaterThan(200);
    expect(got.result).toEqual(want);
  });
});
