import { renderInChromium } from "@infialign/test-utils/vitest";
import { describe, expect, it } from "vitest";
import { difficultyBuckets } from "../src/select/difficulty.js";
import { buildSelectionReport } from "../src/select/report.js";
import { renderSelectionReportHtml } from "../src/select/reportHtml.js";
import { type SelectionItem, selectSubset } from "../src/select/selectSubset.js";

// Deterministic pool: 3 domains, a few clusters, long-tailed difficulty.
const items: SelectionItem[] = [...Array(300)].map((_, i) => ({
  index: i,
  domain: ["math/algebra", "math/geometry", "code"][i % 3]!,
  cluster: (i * 7) % 5,
  difficulty: Math.round(20 * Math.exp(((i * 37) % 100) / 25)),
  ...(i % 10 === 0 && { passRate: ((i * 13) % 11) / 10 }),
}));
const config = { budget: 60, seed: 1 };
const result = selectSubset(items, config);
const report = buildSelectionReport({
  items,
  result,
  config,
  clustering: { "math/algebra": { k: 5, inertia: 12.5, sizes: [20, 20, 20, 20, 20] } },
  difficultyMetric: "response_tokens",
  tokenizer: "qwen2.5",
});

describe("difficultyBuckets", () => {
  it("puts ~1/k of the values in each quantile bucket", () => {
    const b = difficultyBuckets([...Array(100)].map((_, i) => i), 4);
    expect(b.edges).toEqual([24, 49, 74]);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 100; i++) counts[b.bucketOf(i)]!++;
    expect(counts).toEqual([25, 25, 25, 25]);
    expect(b.labels[0]).toBe("Q1 ≤ 24");
  });
});

describe("buildSelectionReport", () => {
  it("accounts for every record before and after", () => {
    const sum = (r: Record<string, number[]>) => Object.values(r).flat().reduce((a, b) => a + b, 0);
    expect(sum(report.composition.before)).toBe(300);
    expect(sum(report.composition.after)).toBe(60);
    expect(report.difficulty.histogram.before.reduce((a, b) => a + b, 0)).toBe(300);
    expect(report.difficulty.histogram.after.reduce((a, b) => a + b, 0)).toBe(60);
    expect(report.budget).toEqual({ requested: 60, asked: 60, achieved: 60, pool: 300 });
    expect(report.drops.over_cluster_quota! + report.drops.over_domain_quota!).toBe(240);
    const algebra = report.domains.find((d) => d.domain === "math/algebra")!;
    expect(algebra).toMatchObject({ before: 100, after: 20, clusters: 5, clustersCovered: 5, coverage: 1, inertia: 12.5 });
    expect(report.difficulty.withPassRate.before).toBe(30);
  });

  it("selection shifts difficulty up (hardest first)", () => {
    const topBefore = Object.values(report.composition.before).reduce((a, v) => a + v[3]!, 0) / 300;
    const topAfter = Object.values(report.composition.after).reduce((a, v) => a + v[3]!, 0) / 60;
    expect(topAfter).toBeGreaterThan(topBefore);
  });

  it("records the config, order included", () => {
    expect(report.config).toEqual({ domainQuotas: "balanced", clusterAllocation: "balanced", order: "hardest", seed: 1 });
    const random = buildSelectionReport({ items, result, config: { ...config, order: "random", domainQuotas: "proportional" } });
    expect(random.config).toMatchObject({ order: "random", domainQuotas: "proportional" });
    expect(renderSelectionReportHtml(random)).toContain("Domain quotas: proportional; cluster allocation: balanced; order within clusters: random (seeded); seed 1.");
  });

  it("is JSON-serializable", () => {
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });
});

describe("renderSelectionReportHtml", () => {
  const html = renderSelectionReportHtml(report, { title: "Test <report>", extraDrops: { answer_mismatch: 7 } });

  it("is self-contained with inline SVG charts and escaped text", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    expect((html.match(/<svg /g) ?? []).length).toBe(4 + report.domains.length);
    expect(html).toContain("Test &#60;report&#62;");
    expect(html).toContain("answer_mismatch");
    expect(html).toContain("order within clusters: hardest first");
  });

  it("renders in headless Chromium with the charts in the DOM", async (ctx) => {
    const page = await renderInChromium(html, "the selection HTML report", ctx);
    expect((page.dom.match(/<svg /g) ?? []).length).toBe(4 + report.domains.length);
    expect(page.dom).toContain("<rect");
    expect(page.dom).toContain("Drops by reason");
    expect(page.consoleErrors).toEqual([]);
  });
});
