import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { waterFill } from "../src/select/quotas.js";
import { type SelectionItem, selectSubset } from "../src/select/selectSubset.js";

const itemArb = fc.record({
  domain: fc.constantFrom("a", "b", "c", "d"),
  cluster: fc.integer({ min: 0, max: 5 }),
  difficulty: fc.integer({ min: 0, max: 50 }),
});
const poolArb = fc.array(itemArb, { maxLength: 120 }).map((xs) => xs.map((x, index): SelectionItem => ({ ...x, index })));

const count = (items: readonly SelectionItem[], pred: (i: SelectionItem) => boolean) => items.filter(pred).length;

describe("waterFill", () => {
  it("gives a small bin's surplus to the others", () => {
    const out = waterFill(
      [
        { key: "x", capacity: 2, weight: 1 },
        { key: "y", capacity: 100, weight: 1 },
        { key: "z", capacity: 100, weight: 1 },
      ],
      30,
    );
    expect(Object.fromEntries(out)).toEqual({ x: 2, y: 14, z: 14 });
  });

  it("sums to min(total, capacity) and respects capacities", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ capacity: fc.integer({ min: 0, max: 40 }), weight: fc.double({ min: 0, max: 5, noNaN: true }) }), { maxLength: 8 }),
        fc.integer({ min: 0, max: 200 }),
        (bins, total) => {
          const keyed = bins.map((b, i) => ({ ...b, key: `k${i}` }));
          const out = waterFill(keyed, total, 3);
          const cap = keyed.filter((b) => b.weight > 0).reduce((a, b) => a + b.capacity, 0);
          const sum = [...out.values()].reduce((a, b) => a + b, 0);
          return sum === Math.min(total, cap) && keyed.every((b) => out.get(b.key)! <= b.capacity && (b.weight > 0 || out.get(b.key) === 0));
        },
      ),
    );
  });
});

describe("selectSubset", () => {
  it("takes the hardest of each cluster and spreads over clusters (balanced)", () => {
    const items: SelectionItem[] = [
      { index: 0, domain: "m", cluster: 0, difficulty: 10 },
      { index: 1, domain: "m", cluster: 0, difficulty: 30 },
      { index: 2, domain: "m", cluster: 0, difficulty: 20 },
      { index: 3, domain: "m", cluster: 1, difficulty: 5 },
      { index: 4, domain: "m", cluster: 1, difficulty: 1 },
    ];
    const r = selectSubset(items, { budget: 2 });
    expect(r.selected).toEqual([1, 3]);
    expect(r.dropped).toEqual([
      { index: 0, reason: "over_cluster_quota" },
      { index: 2, reason: "over_cluster_quota" },
      { index: 4, reason: "over_cluster_quota" },
    ]);
    expect(r.domains[0]).toMatchObject({ clusters: 2, clustersCovered: 2, quota: 2, selected: 2 });
  });

  it("prefers low pass rate when the whole cluster has one", () => {
    const items: SelectionItem[] = [
      { index: 0, domain: "m", cluster: 0, difficulty: 100, passRate: 0.9 },
      { index: 1, domain: "m", cluster: 0, difficulty: 10, passRate: 0.1 },
    ];
    expect(selectSubset(items, { budget: 1 }).selected).toEqual([1]);
    expect(selectSubset([items[0]!, { ...items[1]!, passRate: undefined }], { budget: 1 }).selected).toEqual([0]);
  });

  it("proportional cluster allocation follows cluster sizes", () => {
    const items: SelectionItem[] = [...Array(8)].map((_, i) => ({ index: i, domain: "m", cluster: i < 6 ? 0 : 1, difficulty: i }));
    const bal = selectSubset(items, { budget: 4 });
    const prop = selectSubset(items, { budget: 4, clusterAllocation: "proportional" });
    expect(count(items, (i) => bal.selected.includes(i.index) && i.cluster === 0)).toBe(2);
    expect(count(items, (i) => prop.selected.includes(i.index) && i.cluster === 0)).toBe(3);
  });

  it("proportion maps: left-out domains get nothing (over_domain_quota)", () => {
    const items: SelectionItem[] = [...Array(10)].map((_, i) => ({ index: i, domain: i % 2 ? "x" : "y", cluster: 0, difficulty: i }));
    const r = selectSubset(items, { budget: 4, domainQuotas: { x: 1 } });
    expect(r.selected.every((i) => i % 2 === 1)).toBe(true);
    expect(r.dropCounts.over_domain_quota).toBe(5);
  });

  it("fractions of the pool and validation", () => {
    const items: SelectionItem[] = [...Array(10)].map((_, i) => ({ index: i, domain: "m", cluster: 0, difficulty: i }));
    expect(selectSubset(items, { budget: 0.3 }).selected).toEqual([7, 8, 9]);
    expect(() => selectSubset(items, { budget: 2.5, domainQuotas: { x: -1 } })).toThrow(/budget.*domainQuotas\.x/);
  });

  it('domainQuotas "proportional" keeps the pool\'s domain shares; "balanced" gives equal shares', () => {
    // Imbalanced pool: a 600, b 300, c 100 records, 4 clusters each.
    const sizes: Record<string, number> = { a: 600, b: 300, c: 100 };
    const items: SelectionItem[] = Object.entries(sizes)
      .flatMap(([domain, n]) => [...Array(n)].map((_, i) => ({ domain, cluster: i % 4, difficulty: i })))
      .map((x, index) => ({ ...x, index }));
    const per = (r: ReturnType<typeof selectSubset>) => Object.fromEntries(r.domains.map((d) => [d.domain, d.selected]));
    for (const budget of [100, 77, 0.25]) {
      const asked = budget < 1 ? Math.round(budget * items.length) : budget;
      const prop = selectSubset(items, { budget, domainQuotas: "proportional", seed: 3 });
      expect(prop.selected).toHaveLength(asked);
      for (const [d, n] of Object.entries(sizes)) expect(Math.abs(per(prop)[d]! - (asked * n) / items.length)).toBeLessThan(1);
      const bal = selectSubset(items, { budget, domainQuotas: "balanced", seed: 3 });
      for (const d of Object.keys(sizes)) expect(Math.abs(per(bal)[d]! - asked / 3)).toBeLessThan(1);
    }
    expect(per(selectSubset(items, { budget: 100, domainQuotas: "proportional" }))).toEqual({ a: 60, b: 30, c: 10 });
    expect(per(selectSubset(items, { budget: 99, domainQuotas: "balanced" }))).toEqual({ a: 33, b: 33, c: 33 });
    // Same as the explicit map of the pool's sizes.
    expect(selectSubset(items, { budget: 77, domainQuotas: "proportional", seed: 5 })).toEqual(selectSubset(items, { budget: 77, domainQuotas: sizes, seed: 5 }));
  });

  it('order "random": a different, seed-deterministic subset with lower mean difficulty, same quotas', () => {
    const items: SelectionItem[] = [...Array(400)].map((_, i) => ({
      index: i,
      id: `r${i}`,
      domain: i % 2 ? "x" : "y",
      cluster: i % 5,
      difficulty: (i * 37) % 101,
    }));
    const mean = (sel: number[]) => sel.reduce((a, i) => a + items[i]!.difficulty, 0) / sel.length;
    const hard = selectSubset(items, { budget: 60, seed: 1 });
    const rand = selectSubset(items, { budget: 60, seed: 1, order: "random" });
    expect(selectSubset(items, { budget: 60, seed: 1, order: "hardest" })).toEqual(hard);
    expect(rand.selected).toHaveLength(60);
    expect(rand.selected).not.toEqual(hard.selected);
    expect(mean(rand.selected)).toBeLessThan(mean(hard.selected));
    // Diversity sampling is unchanged: same domain quotas and cluster coverage.
    expect(rand.domains).toEqual(hard.domains);
    // Deterministic for a seed, different for another seed.
    expect(selectSubset(items, { budget: 60, seed: 1, order: "random" })).toEqual(rand);
    expect(selectSubset(items, { budget: 60, seed: 2, order: "random" }).selected).not.toEqual(rand.selected);
    // The order is the seeded hash of the id: renumbering the pool does not change which ids win.
    const shifted = items.map((it) => ({ ...it, index: it.index + 1000 }));
    const again = selectSubset(shifted, { budget: 60, seed: 1, order: "random" });
    expect(again.selected.map((i) => i - 1000)).toEqual(rand.selected);
  });

  it("names the invalid field: domainQuotas and order", () => {
    const items: SelectionItem[] = [{ index: 0, domain: "m", cluster: 0, difficulty: 1 }];
    const bad = (config: object) => () => selectSubset(items, { budget: 1, ...config } as never);
    expect(bad({ domainQuotas: "uniform" })).toThrow(
      '[infialign/sampling] select: invalid config (domainQuotas must be "balanced", "proportional" or a map of proportions (got "uniform"))',
    );
    expect(bad({ domainQuotas: null })).toThrow(/domainQuotas must be "balanced", "proportional" or a map of proportions \(got null\)/);
    expect(bad({ domainQuotas: [1, 2] })).toThrow(/domainQuotas must be .* \(got an array\)/);
    expect(bad({ order: "easiest" })).toThrow('[infialign/sampling] select: invalid config (order must be "hardest" or "random" (got "easiest"))');
    expect(bad({ order: "random", domainQuotas: "proportional" })).not.toThrow();
    expect(bad({ budget: 0, order: 1 })).toThrow(/budget must be .*; order must be "hardest" or "random" \(got 1\)/);
  });

  it("properties: exact budget, balanced quotas, no duplicates, a reason for every drop, determinism", () => {
    fc.assert(
      fc.property(poolArb, fc.integer({ min: 1, max: 150 }), fc.integer({ min: 0, max: 1000 }), fc.boolean(), (items, budget, seed, proportional) => {
        const config = { budget, seed, clusterAllocation: proportional ? ("proportional" as const) : ("balanced" as const) };
        const r = selectSubset(items, config);
        expect(r.selected.length).toBe(Math.min(budget, items.length));
        expect(new Set(r.selected).size).toBe(r.selected.length);
        expect(r.selected.length + r.dropped.length).toBe(items.length);
        const sel = new Set(r.selected);
        for (const d of r.dropped) expect(sel.has(d.index)).toBe(false);
        expect([...r.selected]).toEqual([...r.selected].sort((a, b) => a - b));
        // Balanced: a domain below the largest share is fully taken.
        const per = r.domains.map((d) => d.selected);
        const maxPer = Math.max(0, ...per);
        for (const d of r.domains) {
          expect(d.selected).toBe(d.quota);
          if (d.selected < maxPer - 1) expect(d.selected).toBe(d.available);
        }
        // Inside a cluster, nothing dropped is harder than something selected.
        for (const d of r.dropped) {
          const it = items[d.index]!;
          const harderLost = items.some((o) => sel.has(o.index) && o.domain === it.domain && o.cluster === it.cluster && o.difficulty < it.difficulty);
          expect(harderLost).toBe(false);
        }
        expect(selectSubset(items, config)).toEqual(r);
        // order "random" changes which records fill the slots, not the quotas.
        const random = selectSubset(items, { ...config, order: "random" });
        expect(random.domains).toEqual(r.domains);
        expect(random.dropCounts).toEqual(r.dropCounts);
      }),
      { numRuns: 300 },
    );
  });
});
