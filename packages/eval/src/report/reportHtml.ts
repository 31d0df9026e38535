import type { RunComparison } from "../compare/compareRuns.js";
import type { EvalItem, EvalRunResult, SampleRecord } from "../types.js";
import { escapeHtml as esc, groupedBarChart } from "./svgCharts.js";

/** A run as the report shows it. */
export interface ReportRun {
  result: EvalRunResult;
  samples: SampleRecord[];
  /** Items by benchmark, then id (prompts and golds for the sample logs); without them logs show ids only. */
  items?: Map<string, Map<string, EvalItem>>;
}

export interface HtmlReportOptions {
  /** @default "Evaluation report" */
  title?: string;
  /** Flips between two runs, shown as a chart and a table (`compareRuns`). */
  comparison?: RunComparison;
  /** Items per benchmark and run in the sample logs. @default 50 */
  maxItemsPerBenchmark?: number;
  /** Samples shown per item. @default 8 */
  maxSamplesPerItem?: number;
  /** Characters of each prompt and completion shown; the rest is cut with a note. @default 4000 */
  maxChars?: number;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function cut(text: string, max: number): string {
  return text.length <= max ? esc(text) : `${esc(text.slice(0, max))}<em class="cut">… ${text.length - max} more characters</em>`;
}

/** 95% normal interval half-width from a standard error. */
const ci95 = (stderr: number) => 1.96 * stderr;

function accuracySection(runs: readonly ReportRun[]): string {
  const benchmarks = [...new Set(runs.flatMap((r) => r.result.benchmarks.map((b) => b.benchmark)))];
  const titleOf = (name: string) => runs.flatMap((r) => r.result.benchmarks).find((b) => b.benchmark === name)?.column ?? name;
  const chart = groupedBarChart({
    title: "Accuracy (avg@n) per benchmark with 95% intervals",
    groups: benchmarks.map(titleOf),
    series: runs.map((r) => ({
      name: r.result.model,
      values: benchmarks.map((n) => r.result.benchmarks.find((b) => b.benchmark === n)?.avgAtN),
      errors: benchmarks.map((n) => {
        const b = r.result.benchmarks.find((x) => x.benchmark === n);
        return b ? ci95(b.stderr) : undefined;
      }),
    })),
    yMax: 1,
    format: (v) => `${Math.round(100 * v)}%`,
  });
  const ks = [...new Set(runs.flatMap((r) => r.result.benchmarks.flatMap((b) => Object.keys(b.passAtK))))].sort((x, y) => Number(x) - Number(y));
  const rows = runs.flatMap((r) =>
    r.result.benchmarks.map(
      (b) =>
        `<tr><td>${esc(r.result.model)}</td><td>${esc(b.title)}</td><td>${b.items}</td><td>${b.samplesPerItem}</td><td>${pct(b.avgAtN)} ± ${pct(ci95(b.stderr))}</td>${ks.map((k) => `<td>${b.passAtK[k] === undefined ? "" : pct(b.passAtK[k])}</td><td>${b.majAtK[k] === undefined ? "" : pct(b.majAtK[k])}</td>`).join("")}</tr>`,
    ),
  );
  return `<section><h2>Accuracy</h2>${chart}
<table><thead><tr><th>Model</th><th>Benchmark</th><th>Items</th><th>Samples/item</th><th>avg@n ± 95%</th>${ks.map((k) => `<th>pass@${esc(k)}</th><th>maj@${esc(k)}</th>`).join("")}</tr></thead>
<tbody>${rows.join("\n")}</tbody></table></section>`;
}

function difficultySection(runs: readonly ReportRun[]): string {
  const charts: string[] = [];
  const benchmarks = [...new Set(runs.flatMap((r) => r.result.benchmarks.filter((b) => b.byDifficulty && Object.keys(b.byDifficulty).length).map((b) => b.benchmark)))];
  for (const name of benchmarks) {
    const levels = [...new Set(runs.flatMap((r) => Object.keys(r.result.benchmarks.find((b) => b.benchmark === name)?.byDifficulty ?? {})))];
    levels.sort((x, y) => (Number.isFinite(Number(x)) && Number.isFinite(Number(y)) ? Number(x) - Number(y) : x.localeCompare(y)));
    const title = runs.flatMap((r) => r.result.benchmarks).find((b) => b.benchmark === name)?.title ?? name;
    charts.push(
      `<h3>${esc(title)}</h3>${groupedBarChart({
        title: `${title}: accuracy by difficulty`,
        groups: levels,
        series: runs.map((r) => {
          const by = r.result.benchmarks.find((b) => b.benchmark === name)?.byDifficulty ?? {};
          return { name: r.result.model, values: levels.map((l) => by[l]?.avgAtN) };
        }),
        yMax: 1,
        format: (v) => `${Math.round(100 * v)}%`,
      })}`,
    );
  }
  return charts.length ? `<section><h2>Accuracy by difficulty</h2>${charts.join("\n")}</section>` : "";
}

function flipsSection(c: RunComparison): string {
  const chart = groupedBarChart({
    title: `Answer flips from ${c.modelA} to ${c.modelB}`,
    groups: c.benchmarks.map((b) => b.column),
    series: [
      { name: "correct → wrong", values: c.benchmarks.map((b) => b.correctToWrong.length), color: "#D55E00" },
      { name: "wrong → correct", values: c.benchmarks.map((b) => b.wrongToCorrect.length), color: "#009E73" },
    ],
    format: (v) => v.toFixed(0),
  });
  const kl = (b: RunComparison["benchmarks"][number]) => (b.kl.available ? `${b.kl.perToken.toFixed(4)} nats/token (${b.kl.completions} completions)` : `unavailable: ${esc(b.kl.reason)}`);
  const rows = c.benchmarks.map(
    (b) =>
      `<tr><td>${esc(b.title)}</td><td>${pct(b.accuracyA)}</td><td>${pct(b.accuracyB)}</td><td>${b.delta >= 0 ? "+" : ""}${(100 * b.delta).toFixed(1)}</td><td>${b.items}</td><td>${b.correctToWrong.length}</td><td>${b.wrongToCorrect.length}</td><td>${pct(b.flipRate)}</td><td>${kl(b)}</td></tr>`,
  );
  return `<section><h2>Comparison: ${esc(c.modelA)} → ${esc(c.modelB)}</h2>
<p>An item counts as correct ${c.by === "majority" ? "when more than half of its samples are" : "when its sample 0 is"}. Flips = items whose correctness changed / items (Dutta et al. 2024). Overall flip rate ${pct(c.flipRate)}; average accuracy change ${(100 * c.averageDelta).toFixed(1)} points.</p>
${chart}
<table><thead><tr><th>Benchmark</th><th>A</th><th>B</th><th>Δ (points)</th><th>Items</th><th>correct→wrong</th><th>wrong→correct</th><th>Flips</th><th>KL(A‖B)</th></tr></thead><tbody>${rows.join("\n")}</tbody></table></section>`;
}

function logsSection(runs: readonly ReportRun[], o: Required<Omit<HtmlReportOptions, "comparison" | "title">>): string {
  const blocks: string[] = [];
  for (const run of runs) {
    for (const b of run.result.benchmarks) {
      const byItem = new Map<string, SampleRecord[]>();
      for (const s of run.samples) {
        if (s.benchmark !== b.benchmark) continue;
        const list = byItem.get(s.itemId);
        if (list) list.push(s);
        else byItem.set(s.itemId, [s]);
      }
      const ids = [...byItem.keys()];
      const shown = ids.slice(0, o.maxItemsPerBenchmark);
      const items = shown.map((id) => {
        const samples = byItem.get(id)!.sort((x, y) => x.sampleIndex - y.sampleIndex);
        const correct = samples.filter((s) => s.grade.correct).length;
        const item = run.items?.get(b.benchmark)?.get(id);
        const prompt = item ? item.messages.map((m) => `[${m.role}] ${m.content}`).join("\n\n") : "";
        const difficulty = item?.meta.difficulty ?? item?.meta.level;
        const sampleBlocks = samples.slice(0, o.maxSamplesPerItem).map(
          (s) =>
            `<details class="sample"><summary>sample ${s.sampleIndex}: <span class="${s.grade.correct ? "ok" : "bad"}">${s.grade.correct ? "correct" : "wrong"}</span>, extracted ${s.grade.extracted === undefined ? "nothing" : `<code>${esc(s.grade.extracted.slice(0, 200))}</code>`}${s.grade.reason ? ` (${esc(s.grade.reason)})` : ""}, finish ${esc(s.finishReason)}${s.completionTokens !== undefined ? `, ${s.completionTokens} tokens` : ""}</summary><pre>${cut(s.completion, o.maxChars)}</pre></details>`,
        );
        const more = samples.length > o.maxSamplesPerItem ? `<p class="cut">${samples.length - o.maxSamplesPerItem} more samples not shown</p>` : "";
        return `<details class="item"><summary>${esc(id)}: ${correct}/${samples.length} correct${difficulty !== undefined ? `, difficulty ${esc(String(difficulty))}` : ""}</summary>${prompt ? `<h4>Prompt</h4><pre>${cut(prompt, o.maxChars)}</pre>` : ""}${item ? `<p>Gold: <code>${esc(item.gold || "(tests)")}</code></p>` : ""}${sampleBlocks.join("")}${more}</details>`;
      });
      const more = ids.length > shown.length ? `<p class="cut">${ids.length - shown.length} more items not shown</p>` : "";
      blocks.push(`<h3>${esc(run.result.model)} · ${esc(b.title)}</h3>${items.join("\n")}${more}`);
    }
  }
  return `<section><h2>Samples</h2>${blocks.join("\n")}</section>`;
}

/**
 * A self-contained HTML report (no scripts, no external resources): accuracy per benchmark with 95% intervals
 * (1.96 × standard error over problems) per run, accuracy by difficulty, flips between two runs when a comparison is
 * given, and per-item sample logs (prompt, each completion, extracted answer, verdict) in collapsible blocks. All text
 * is escaped and sizes are capped.
 */
export function renderReportHtml(runs: readonly ReportRun[], options: HtmlReportOptions = {}): string {
  const title = options.title ?? "Evaluation report";
  const caps = { maxItemsPerBenchmark: options.maxItemsPerBenchmark ?? 50, maxSamplesPerItem: options.maxSamplesPerItem ?? 8, maxChars: options.maxChars ?? 4000 };
  const protocol = runs[0]?.result.protocol;
  const summary = runs.map((r) => `<li>${esc(r.result.model)}: average ${pct(r.result.average)} over ${r.result.benchmarks.length} benchmark(s), ${esc(r.result.createdAt)}</li>`).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th:first-child,td:first-child{text-align:left}
pre{white-space:pre-wrap;background:#f6f6f6;padding:6px;max-height:30em;overflow:auto;font-size:12px}
details.item{border-bottom:1px solid #eee;padding:2px 0}details.sample{margin-left:1.5rem}
.ok{color:#007a3d;font-weight:600}.bad{color:#b00020;font-weight:600}.cut{color:#777;font-size:12px}
</style></head><body>
<h1>${esc(title)}</h1>
<ul>${summary}</ul>
${protocol ? `<p>Protocol: temperature ${protocol.temperature}, top-p ${protocol.topP}, max tokens ${protocol.maxTokens}, seed ${protocol.seed}, samples ${esc(JSON.stringify(protocol.samples))}.</p>` : ""}
${accuracySection(runs)}
${difficultySection(runs)}
${options.comparison ? flipsSection(options.comparison) : ""}
${logsSection(runs, caps)}
</body></html>
`;
}
