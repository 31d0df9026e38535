import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderInChromium } from "@infialign/test-utils/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareRuns } from "../src/compare/compareRuns.js";
import { renderMarkdownTable } from "../src/report/markdownTable.js";
import { renderReportHtml } from "../src/report/reportHtml.js";
import { endpointRunner } from "../src/run/endpointRunner.js";
import { type LoadedRun, loadRun } from "../src/run/runDir.js";
import { runEvaluation } from "../src/run/runEvaluation.js";
import type { BenchmarkResult, EvalRunResult } from "../src/types.js";
import { fakeMathServer, mathBench, protocol } from "./runHelpers.js";

function result(model: string, cells: Record<string, number>): EvalRunResult {
  const benchmarks: BenchmarkResult[] = Object.entries(cells).map(([column, avgAtN]) => ({ benchmark: column.toLowerCase(), title: column, column, items: 1, samplesPerItem: 1, avgAtN, stderr: 0, passAtK: {}, majAtK: {}, perItem: { "1": avgAtN }, reasons: {} }));
  const average = benchmarks.reduce((s, b) => s + b.avgAtN, 0) / benchmarks.length;
  return { model, protocol: protocol(1), benchmarks, average, createdAt: "" };
}

describe("renderMarkdownTable", () => {
  it("lays out the paper's columns with blanks, extra benchmarks after them, and Avg", () => {
    const md = renderMarkdownTable([result("Qwen|7B", { AIME24: 0.5, MATH500: 0.925 }), result("ours", { AIME25: 0.25, GSM8K: 1 })]);
    expect(md.trim().split("\n")).toEqual([
      "| Model | AIME25 | AIME24 | MATH500 | GPQA | MMLU-Pro | LiveCodeBench | GSM8K | Avg |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
      "| Qwen\\|7B |  | 50.0 | 92.5 |  |  |  |  | 71.3 |",
      "| ours | 25.0 |  |  |  |  |  | 100.0 | 62.5 |",
    ]);
  });
});

describe("renderReportHtml", () => {
  const dirs: string[] = [];
  let runs: LoadedRun[] = [];
  let html = "";

  beforeAll(async () => {
    for (const bias of [0, 1]) {
      const server = await fakeMathServer(bias);
      const runner = endpointRunner({ baseUrl: server.url, model: `model-${bias}`, sleep: async () => {} });
      const spec = mathBench("toy<b>");
      const dir = mkdtempSync(join(tmpdir(), "eval-report-"));
      dirs.push(dir);
      await runEvaluation({ benchmarks: [{ spec, items: await spec.load() }], protocol: protocol(2), runner, outDir: dir, progress: false });
      await runner.close?.();
      await server.close();
      runs.push(await loadRun(dir));
    }
    html = renderReportHtml(runs, { title: "Report <&>", comparison: await compareRuns(runs[0]!, runs[1]!), maxItemsPerBenchmark: 4, maxChars: 30 });
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    runs = [];
  });

  it("is self-contained, escapes text, and has the accuracy, difficulty and flip charts and capped sample logs", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    // accuracy + one difficulty chart (one benchmark) + flips; 2 samples per item so per-item accuracies (and the stderr) vary
    expect((html.match(/<svg /g) ?? []).length).toBe(3);
    expect((html.match(/class="errorbar"/g) ?? []).length).toBe(2);
    expect(html).toContain("Report &#60;&#38;&#62;");
    expect(html).toContain("Toy toy&#60;b&#62;");
    expect(html).not.toContain("toy<b>");
    expect((html.match(/<details class="item">/g) ?? []).length).toBe(2 * 4);
    expect(html).toContain("2 more items not shown");
    expect(html).toMatch(/more characters<\/em>/);
    expect(html).toContain("correct→wrong");
  });

  it("renders in headless Chromium with the charts in the DOM and no console errors", async (ctx) => {
    const page = await renderInChromium(html, "the eval HTML report", ctx);
    expect((page.dom.match(/<svg /g) ?? []).length).toBe(3);
    expect(page.dom).toContain("<rect");
    expect(page.dom).toContain("Accuracy by difficulty");
    expect((page.dom.match(/<details class="item">/g) ?? []).length).toBe(8);
    expect(page.consoleErrors).toEqual([]);
  });
});
