import { renderInChromium } from "@infialign/test-utils/vitest";
import { describe, expect, it } from "vitest";
import { type DemoReportData, renderDemoReport, stageForDefect } from "../src/report/renderReport.js";
import type { FunnelRow } from "../src/steps/curate.js";

const funnel: FunnelRow[] = [
  { stage: "normalize", in: 110, out: 100, rejected: 10, deduplicated: 0, rejectedByReason: { malformed_json: 4, missing_final_answer: 6 }, seconds: 0.1 },
  { stage: "dedup", in: 100, out: 95, rejected: 0, deduplicated: 5, rejectedByReason: {}, seconds: 0.1 },
  { stage: "decontam", in: 95, out: 90, rejected: 5, deduplicated: 0, rejectedByReason: { contaminated: 5 }, seconds: 0.1 },
  { stage: "quality", in: 90, out: 86, rejected: 4, deduplicated: 0, rejectedByReason: { answer_mismatch: 4 }, seconds: 0.1 },
  { stage: "near-dup", in: 86, out: 80, rejected: 0, deduplicated: 6, rejectedByReason: {}, seconds: 0.1 },
  { stage: "select", in: 80, out: 40, rejected: 40, deduplicated: 0, rejectedByReason: { over_cluster_quota: 40 }, seconds: 0.1 },
];
const evaluation = (model: string, avg: number) => ({ model, items: 10, samplesPerItem: 2, avgAtN: avg, stderr: 0.05, byDifficulty: { "1": { items: 5, avgAtN: avg } }, perItem: {}, noAnswer: 1, seconds: 1 });

export const REPORT_FIXTURE: DemoReportData = {
  title: "Test <report>",
  defects: { exactDuplicates: 5, nearDuplicates: 6, wrongSolutions: 4, answerless: 6, malformed: 4, contaminated: 5 },
  curate: {
    funnel,
    composition: { difficultyLabels: ["Q1 ≤ 48", "Q2 > 48"], metric: "response_tokens", before: { "math/algebra": [10, 20], other: [50, 0] }, after: { "math/algebra": [10, 10], other: [20, 0] } },
    files: { selected: "s", easy: "e", hard: "h", pool: "p" },
    counts: { selected: 40, easy: 20, hard: 20, pool: 80 },
    contaminationByBenchmark: { heldout: 5 },
  },
  sft: {
    initDir: "i",
    finalDir: "f",
    parameters: 123456,
    backend: "wasm (1 thread)",
    phases: [
      { name: "phase1-easy", trainSamples: 20, steps: 4, tokens: 4000, tokensPerSecond: 1000, seconds: 4, finalTrainLoss: 3, loss: [[2, 4], [4, 3]] },
      { name: "phase2-hard", trainSamples: 20, steps: 4, tokens: 4000, tokensPerSecond: 1000, seconds: 4, finalTrainLoss: 2.5, loss: [[6, 2.8], [8, 2.5]] },
    ],
  },
  dpo: { finalDir: "d", prompts: 8, pairs: 6, rejectedByReason: { length_ratio: 2 }, samplingEngine: "onnx", samplingSeconds: 1, trainSeconds: 1, steps: 2, loss: [[1, 0.69], [2, 0.6]], margins: [[1, 0], [2, 0.2]], accuracies: [[1, 0.5], [2, 1]] },
  evaluation: {
    protocol: { samples: 2, temperature: 0.6, topP: 0.95, maxTokens: 64, seed: 0 },
    engine: "onnx",
    results: [evaluation("base", 0), evaluation("sft", 0.2), evaluation("dpo", 0.25)],
    flips: [{ from: "sft", to: "dpo", wrongToCorrect: 2, correctToWrong: 1, bothCorrect: 1, bothWrong: 6 }],
  },
  timings: { sources: 1, curate: 2, sft: 8, dpo: 2, evaluate: 3 },
  ablation: { seeds: [0, 1, 2], arms: [{ name: "curated", samples: 40, perSeed: [0.1, 0.2, 0.3], mean: 0.2, spread: 0.1 }] },
};

// funnel bars, composition by domain and by difficulty, SFT loss, DPO loss, DPO rewards, results bars, ablation bars
const CHARTS = 8;

describe("renderDemoReport", () => {
  const html = renderDemoReport(REPORT_FIXTURE);

  it("is self-contained, escapes text and shows every section", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    expect(html).toContain("Test &#60;report&#62;");
    expect((html.match(/<svg /g) ?? []).length).toBe(CHARTS);
    for (const text of ["Data funnel", "missing_final_answer: 6", "Injected defects", "After selection", "SFT training loss", "DPO rewards", "avg@n", "Answer flips", "Ablation"]) expect(html).toContain(text);
  });

  it("maps each injected defect to the stage meant to catch it", () => {
    expect(Object.keys(REPORT_FIXTURE.defects).map(stageForDefect)).toEqual(["dedup", "near-dup", "quality", "normalize", "normalize", "decontam"]);
  });

  it("renders in headless Chromium with the charts in the DOM and no console errors", async (ctx) => {
    const page = await renderInChromium(html, "the full-pipeline report", ctx);
    expect((page.dom.match(/<svg /g) ?? []).length).toBe(CHARTS);
    expect(page.dom).toContain("<rect");
    expect(page.dom).toContain("<path");
    expect(page.consoleErrors).toEqual([]);
  });
});
