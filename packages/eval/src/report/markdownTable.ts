import type { EvalRunResult } from "../types.js";

/** Columns of the InfiAlign paper's results table, in its order. */
export const PAPER_COLUMNS = ["AIME25", "AIME24", "MATH500", "GPQA", "MMLU-Pro", "LiveCodeBench"] as const;

/** Cell text: avg@n in percent with one decimal. */
function pct(x: number): string {
  return (100 * x).toFixed(1);
}

/**
 * A Markdown table laid out like the InfiAlign paper: one row per model; columns AIME25, AIME24, MATH500, GPQA,
 * MMLU-Pro, LiveCodeBench (blank where a run lacks the benchmark), then any other benchmark the runs have (by its
 * column label), then Avg. Cells are avg@n (= pass@1 as R1 reports it) in percent; Avg is the run's `average`, the
 * mean over every benchmark it evaluated, so rows are comparable only when they cover the same benchmarks.
 */
export function renderMarkdownTable(runs: readonly EvalRunResult[]): string {
  const extra: string[] = [];
  for (const run of runs) {
    for (const b of run.benchmarks) {
      if (!(PAPER_COLUMNS as readonly string[]).includes(b.column) && !extra.includes(b.column)) extra.push(b.column);
    }
  }
  const columns = [...PAPER_COLUMNS, ...extra];
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
  const lines = [`| Model | ${columns.join(" | ")} | Avg |`, `|---|${columns.map(() => "---:|").join("")}---:|`];
  for (const run of runs) {
    const values = columns.map((c) => {
      const b = run.benchmarks.find((r) => r.column === c);
      return b ? pct(b.avgAtN) : "";
    });
    lines.push(`| ${cell(run.model)} | ${values.join(" | ")} | ${run.benchmarks.length ? pct(run.average) : ""} |`);
  }
  return `${lines.join("\n")}\n`;
}
