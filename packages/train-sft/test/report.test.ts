import { renderInChromium } from "@infialign/test-utils/vitest";
import { describe, expect, it } from "vitest";
import type { MetricsRecord } from "../src/core/metrics.js";
import { resolveCurriculumConfig } from "../src/curriculum.js";
import { flattenConfig, renderSftReportHtml } from "../src/report/sftReport.js";
import { formatNumber, lineChartSvg, renderTrainingReportHtml } from "../src/report/trainingReport.js";
import type { SftPhaseSummary, SftRunSummary } from "../src/trainer.js";

const config = resolveCurriculumConfig({
  model: "base<&>",
  outputDir: "out/run",
  phases: [
    { name: "phase1", data: { files: ["a.jsonl"] }, packing: "bfd" },
    { name: "phase2", data: { files: ["b.jsonl"] } },
  ],
});

function phase(name: string, steps: number, strategy: "bfd" | "none"): SftPhaseSummary {
  return {
    name,
    selection: { files: 1, read: 10, dropped: { difficulty: 0, domain: 0, source: 0, maxSamples: 0 }, kept: 10 },
    trainSamples: 9,
    evalSamples: 1,
    droppedNoLossTokens: 0,
    batching: { strategy, maxLength: 128, rows: 5, realTokens: 500, paddedTokens: 640, efficiency: 500 / 640, truncatedTokens: 3 },
    steps,
    maxSteps: steps,
    tokens: 1000,
    finalTrainLoss: 1.5,
    finalEvalLoss: 1.7,
    tokensPerSecond: 1234.5,
    seconds: 2,
    dir: `out/run/${name}`,
    finalDir: `out/run/${name}/final`,
    skippedSteps: 0,
  };
}

const summary: SftRunSummary = { config, backend: "wasm", engine: "onnxruntime", phases: [phase("phase1", 6, "bfd"), phase("phase2", 4, "none")], interrupted: false, finalDir: "out/run/final", runJson: "out/run/run.json", reportHtml: "out/run/report.html" };
const records = (n: number, start: number): MetricsRecord[] => [
  ...Array.from({ length: n }, (_, i) => ({ step: i + 1, loss: start - 0.3 * i, learning_rate: 1e-4 * (1 - i / n), grad_norm: 2 / (i + 1), mean_token_accuracy: 0.1 * i, tokens_per_second: 1000 + i, num_tokens: 100 * (i + 1) })),
  { step: n, eval_loss: start - 0.2 * n, eval_mean_token_accuracy: 0.4 },
];
const html = renderSftReportHtml(summary, [
  { phase: "phase1", records: records(6, 5) },
  { phase: "phase2", records: records(4, 3) },
]);

describe("training report", () => {
  it("escapes text, formats numbers and skips non-finite points", () => {
    const page = renderTrainingReportHtml({ title: "<b>x</b>", sections: [{ heading: "a&b", blocks: [{ kind: "text", text: "'q'" }, { kind: "table", columns: ["<c>"], rows: [[1234567], [0.000123], [undefined]] }] }] });
    expect(page).toContain("&#60;b&#62;x&#60;/b&#62;");
    expect(page).toContain("a&#38;b");
    expect(page).toContain("<td>1,234,567</td>");
    expect(page).toContain("<td>1.23e-4</td>");
    expect(page).not.toContain("<b>x");
    expect(formatNumber(0.123456)).toBe("0.1235");
    const svg = lineChartSvg({ kind: "line", title: "t", series: [{ name: "s", points: [[1, 2], [2, Number.NaN], [3, 4]] }] });
    // Two finite points: one path with a move and one line segment.
    expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+L[\d.]+,[\d.]+" /);
    expect(lineChartSvg({ kind: "line", title: "empty", series: [{ name: "s", points: [] }] })).toContain("No data.");
  });

  it("has the SFT charts, phase markers and tables", () => {
    expect((html.match(/<svg /g) ?? []).length).toBe(5);
    // One marker per phase, phase 2 starting after phase 1's 6 steps.
    expect((html.match(/class="marker"/g) ?? []).length).toBe(5 * 2);
    expect(html).toContain("phase2 eval_loss");
    expect(html).toContain("78.1%");
    expect(html).toContain("base&#60;&#38;&#62;");
    expect(flattenConfig({ a: { b: 1, c: ["x", "y"] } })).toEqual([
      ["a.b", "1"],
      ["a.c", "x, y"],
    ]);
  });

  it("renders in headless Chromium without console errors", async (ctx) => {
    const page = await renderInChromium(html, "the SFT report", ctx);
    expect((page.dom.match(/<svg /g) ?? []).length).toBe(5);
    expect(page.dom).toContain("<path");
    expect(page.dom).toContain("Batching efficiency");
    expect(page.consoleErrors).toEqual([]);
  }, 40_000);
});
