import { renderInChromium } from "@infialign/test-utils/vitest";
import { describe, expect, it } from "vitest";
import { type DemoReportData, renderDemoReport, stageForDefect } from "../src/report/renderReport.js";
import type { AblationReport, ArmRun } from "../src/steps/ablationStats.js";
import type { FunnelRow } from "../src/steps/curate.js";
import { compareModels } from "../src/steps/evaluate.js";
import { evaluationOf, type Verdicts } from "./evaluations.js";

const funnel: FunnelRow[] = [
  { stage: "normalize", in: 110, out: 100, rejected: 10, deduplicated: 0, rejectedByReason: { malformed_json: 4, missing_final_answer: 6 }, seconds: 0.1 },
  { stage: "dedup", in: 100, out: 95, rejected: 0, deduplicated: 5, rejectedByReason: {}, seconds: 0.1 },
  { stage: "decontam", in: 95, out: 90, rejected: 5, deduplicated: 0, rejectedByReason: { contaminated: 5 }, seconds: 0.1 },
  { stage: "quality", in: 90, out: 86, rejected: 4, deduplicated: 0, rejectedByReason: { answer_mismatch: 4 }, seconds: 0.1 },
  { stage: "near-dup", in: 86, out: 80, rejected: 0, deduplicated: 6, rejectedByReason: {}, seconds: 0.1 },
  { stage: "select", in: 80, out: 40, rejected: 40, deduplicated: 0, rejectedByReason: { over_cluster_quota: 40 }, seconds: 0.1 },
];
// Ten items × two samples, five of difficulty 1 then five of 2; `correct` of each half's ten samples are right, and the
// last sample of every model is unanswered.
const evaluation = (model: string, avg: number, correct: [number, number]) => {
  const verdicts: Verdicts = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`i${i}`, [0, 1].map((s) => ((i % 5) * 2 + s < correct[i < 5 ? 0 : 1] ? true : i === 9 && s === 1 ? null : false))]));
  return evaluationOf(model, verdicts, { difficulty: (id) => (Number(id.slice(1)) < 5 ? 1 : 2), byDomain: { "math/algebra": { items: 6, avgAtN: avg }, "math/<geometry>": { items: 4, avgAtN: avg / 2 } } });
};
const results = [evaluation("base", 0, [0, 0]), evaluation("sft", 0.2, [4, 2]), evaluation("dpo", 0.25, [5, 3])];

const run = (seed: number, accuracy: number): ArmRun => ({ seed, accuracy, perItem: { a: accuracy, b: accuracy }, tokens: 4000, seconds: 8 });
const arm = (name: string, description: string, accuracies: number[], mean: number, low: number, high: number) => ({ name, description, runs: accuracies.map((a, i) => run(i, a)), seeds: accuracies.length, items: 2, tokens: 4000, seconds: 8, mean, low, high });
const ABLATION: AblationReport = {
  seeds: [0, 1, 2],
  items: 2,
  arms: [arm("curated", "curated <subset>", [0.1, 0.2, 0.3], 0.2, 0.05, 0.4), arm("full", "whole pool", [0.1, 0.1, 0.1], 0.1, 0.02, 0.15)],
  verdicts: [
    { claim: "curated beats full", arms: ["curated", "full"], kind: "greater", margin: 0, difference: { mean: 0.1, low: 0.01, high: 0.2 }, verdict: "supported", detail: "curated − full = +10.0 pts (95% CI +1.0 … +20.0); 3 vs 3 seeds, 2 held-out items." },
    { claim: "curated is no worse than full", arms: ["curated", "full"], kind: "non-inferior", margin: 0.02, difference: { mean: -0.05, low: -0.1, high: -0.03 }, verdict: "not supported", detail: "curated − full = −5.0 pts" },
    { claim: "DPO beats SFT", arms: ["dpo", "sft"], kind: "greater", margin: 0, difference: { mean: 0, low: -0.1, high: 0.1 }, verdict: "inconclusive", detail: "dpo − sft = 0.0 pts" },
  ],
  contamination: { arm: "contaminated", leaked: { items: 1, accuracy: 0.9 }, unseen: { items: 1, accuracy: 0.3 }, difference: { mean: 0.6, low: 0.4, high: 0.8 } },
  scale: "Qwen2 123k parameters, 2 epochs",
  devSplit: "dev <split>",
};

export const REPORT_FIXTURE: DemoReportData = {
  title: "Test <report>",
  defects: { exactDuplicates: 5, nearDuplicates: 6, wrongSolutions: 4, answerless: 6, malformed: 4, contaminated: 5 },
  curate: {
    funnel,
    composition: { difficultyLabels: ["Q1 ≤ 48", "Q2 > 48"], metric: "response_tokens", before: { "math/algebra": [10, 20], other: [50, 0] }, after: { "math/algebra": [10, 10], other: [20, 0] } },
    files: { selected: "s", easy: "e", hard: "h", pool: "p", raw: "r", unverified: "u", unselected: "n" },
    counts: { selected: 40, easy: 20, hard: 20, pool: 80, raw: 100, unverified: 90, unselected: 40 },
    sizes: { raw: { records: 100, tokens: 9000 }, pool: { records: 80, tokens: 7000 }, selected: { records: 40, tokens: 2500 } },
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
  dpo: { finalDir: "d", prompts: 8, k: 4, passRateBand: [0.125, 0.75], pairs: 6, rejectedByReason: { too_easy: 1, length_ratio: 1 }, samplingEngine: "onnx", samplingSeconds: 1, trainSeconds: 1, trainTokens: 500, steps: 2, loss: [[1, 0.69], [2, 0.6]], margins: [[1, 0], [2, 0.2]], accuracies: [[1, 0.5], [2, 1]] },
  evaluation: {
    protocol: { samples: 2, temperature: 0.6, topP: 0.95, maxTokens: 64, seed: 0 },
    engine: "onnx",
    results,
    comparisons: await compareModels(results),
    verdicts: [{ claim: "DPO <main> adds accuracy", arms: ["dpo", "sft"], kind: "greater", margin: 0, difference: { mean: 0.05, low: -0.01, high: 0.11 }, verdict: "inconclusive", detail: "dpo − sft = +5.0 pts" }],
  },
  timings: { sources: 1, curate: 2, sft: 8, dpo: 2, evaluate: 3 },
  sources: {
    files: [],
    heldOut: "h",
    defects: {},
    records: 100,
    poolByDomain: { addition: 60, subtraction: 14, multiplication: 13, comparison: 13 },
    poolByDifficulty: { "2": 50, "3": 30, "4": 20 },
    flaws: { multiplication: "drops the <carry>" },
  },
  ablation: ABLATION,
};

// raw pool per family, funnel bars, composition by domain and by difficulty, SFT loss, DPO loss, DPO rewards, results bars, per-family bars, ablation bars
const CHARTS = 10;

describe("renderDemoReport", () => {
  const html = renderDemoReport(REPORT_FIXTURE);

  it("is self-contained, escapes text and shows every section", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    expect(html).toContain("Test &#60;report&#62;");
    expect((html.match(/<svg /g) ?? []).length).toBe(CHARTS);
    for (const text of ["Data funnel", "missing_final_answer: 6", "Injected defects", "After selection", "SFT training loss", "DPO rewards", "avg@n", "Answer flips", "Ablation"]) expect(html).toContain(text);
  });

  it("states the main run's DPO verdict, computed", () => {
    expect(html).toContain("DPO &#60;main&#62; adds accuracy");
    expect(html).toMatch(/class="badge inconclusive"[^<]*>inconclusive/);
  });

  it("shows the task world: pool shape, the teacher's flaw escaped, and the curated share of raw tokens", () => {
    expect(html).toContain("Task world");
    expect(html).toContain("<td>multiplication</td><td>drops the &#60;carry&#62;</td>");
    expect(html).toContain("<td>curated subset</td><td>40</td><td>2,500</td><td>27.8%</td>");
  });

  it("shows eval's comparison of each model with the next: accuracy change, paired stderr and flips", () => {
    // sft → dpo: two items rise from 0 to ½ (not a majority), so no flips; +10 points; per-item differences ½, ½ and
    // eight 0: sample variance 0.4/9, paired stderr √(0.4/9/10) = 6.7 points.
    const rows = ["<td>sft → dpo</td><td>10.0</td><td>6.7</td><td>0</td><td>0</td><td>3</td><td>7</td>", "<td>base → sft</td><td>30.0</td>"];
    for (const row of rows) expect(html).toContain(row);
  });

  it("states DPO's challenge selection, and a band other than InfiAlign's", () => {
    expect(html).toContain("of 8 prompts, 6 with an SFT pass rate in [0.125, 0.75] over 4 samples became pairs; 1 were too easy (above 0.75), 0 too hard (below 0.125). This is InfiAlign&#39;s band.");
    const widened = renderDemoReport({ ...REPORT_FIXTURE, dpo: { ...REPORT_FIXTURE.dpo, passRateBand: [0, 0.75] } });
    expect(widened).toContain("InfiAlign&#39;s band is [0.125, 0.75]; this run&#39;s dpo.passRateBand differs");
  });

  it("shows per-family and per-difficulty accuracy for every evaluated model", () => {
    const shown = [
      "Accuracy per family",
      "Accuracy per difficulty",
      // Families from the example's byDomain; difficulties from eval's byDifficulty (difficulty 2: 0, 2 and 3 of 10 right).
      "<td>math/&#60;geometry&#62;</td><td>4</td><td>0.0</td><td>10.0</td><td>12.5</td>",
      "<td>2</td><td>5</td><td>0.0</td><td>20.0</td><td>30.0</td>",
      "<title>avg@n per family (%)</title>",
    ];
    for (const text of shown) expect(html).toContain(text);
  });

  it("shows the ablation arms with intervals, computed verdict badges, the contamination check and the scale", () => {
    expect(html).toContain("curated &#60;subset&#62;");
    expect(html).toContain("<td>5.0 – 40.0</td>");
    expect(html).toContain("<td>0: 10.0, 1: 20.0, 2: 30.0</td>");
    expect(html).toContain("larger half-width of the 95% interval");
    expect(html).toContain('<span class="badge supported">supported</span> <strong>curated beats full</strong>');
    expect(html).toContain('<span class="badge not-supported">not supported</span>');
    expect(html).toContain('<span class="badge inconclusive">inconclusive</span>');
    expect(html).toContain("curated − full = +10.0 pts (95% CI +1.0 … +20.0)");
    expect(html).toContain("curated ≥ full − 2 pts");
    expect(html).toContain("Contamination check");
    expect(html).toContain("leaked − unseen = +60.0 pts (95% CI +40.0 … +80.0)");
    expect(html).toContain("Qwen2 123k parameters, 2 epochs");
    expect(html).toContain("Tuned on: <code>dev &#60;split&#62;</code>");
    expect(html).toContain("n = 2 held-out items");
    expect(html).toContain("seeded two-level bootstrap over seeds and items");
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
