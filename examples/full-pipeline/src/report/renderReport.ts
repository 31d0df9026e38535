// runs/demo/report.html: one self-contained page (inline CSS and SVG, no scripts, no external resources).
import { type GroupedBarChartOptions, groupedBarChart } from "@infialign/eval";
import { escapeHtml, formatNumber, lineChartSvg } from "@infialign/train-sft";
import type { AblationResult } from "../steps/ablation.js";
import type { Composition, CurateResult, FunnelRow } from "../steps/curate.js";
import type { DpoResult } from "../steps/dpo.js";
import type { EvaluateResult } from "../steps/evaluate.js";
import type { SftResult } from "../steps/sft.js";

export interface DemoReportData {
  title: string;
  /** Injected defects of the generator, by kind. */
  defects: Record<string, number>;
  curate: CurateResult;
  sft: SftResult;
  dpo: DpoResult;
  evaluation: EvaluateResult;
  /** Seconds per step (as first computed). */
  timings: Record<string, number>;
  ablation?: AblationResult;
}

/** Which stage should catch a kind of injected defect, matched on the generator's defect name. */
const DEFECT_STAGES: ReadonlyArray<[RegExp, string]> = [
  [/malformed|answerless/i, "normalize"],
  [/near/i, "near-dup"],
  [/dup/i, "dedup"],
  [/contam/i, "decontam"],
  [/wrong/i, "quality"],
];

export function stageForDefect(defect: string): string | undefined {
  return DEFECT_STAGES.find(([re]) => re.test(defect))?.[1];
}

type Cell = string | number | undefined;

function table(columns: readonly string[], rows: ReadonlyArray<readonly Cell[]>, caption?: string): string {
  const cell = (v: Cell) => (v === undefined ? "" : typeof v === "number" ? escapeHtml(formatNumber(v)) : escapeHtml(v));
  return `<table>${caption ? `<caption>${escapeHtml(caption)}</caption>` : ""}<thead><tr>${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}`;

function stageRow(funnel: readonly FunnelRow[], stage: string): FunnelRow | undefined {
  return funnel.find((f) => f.stage === stage) ?? funnel.find((f) => f.stage.startsWith(stage));
}

function funnelSection(data: DemoReportData): string {
  const { funnel } = data.curate;
  const rows = funnel.map((f) => [f.stage, f.in, f.out, f.rejected, f.deduplicated, Object.entries(f.rejectedByReason).map(([r, n]) => `${r}: ${n}`).join(", ") || "—", f.seconds]);
  const defects = Object.entries(data.defects).map(([kind, injected]) => {
    const stage = stageForDefect(kind);
    const row = stage ? stageRow(funnel, stage) : undefined;
    return [kind, injected, stage ?? "—", row ? row.rejected + row.deduplicated : undefined];
  });
  const contamination = Object.entries(data.curate.contaminationByBenchmark).map(([b, n]) => [b, n]);
  return [
    "<h2>Data funnel</h2>",
    "<p>Every stage accounts for each record: in = out + rejected + deduplicated (checked before its manifest is written). Rejected records are in each stage's <code>rejects.jsonl</code> with their reason.</p>",
    table(["stage", "in", "out", "rejected", "deduplicated", "rejected by reason", "seconds"], rows, "Records per stage"),
    barFigure({ title: "Records in and out per stage", groups: funnel.map((f) => f.stage), series: [{ name: "in", values: funnel.map((f) => f.in) }, { name: "out", values: funnel.map((f) => f.out) }], yLabel: "records" }),
    table(["injected defect (generator)", "injected", "stage meant to catch it", "removed by that stage (all causes)"], defects, "Injected defects beside what each stage caught"),
    contamination.length ? table(["benchmark", "records removed"], contamination, "Decontamination matches by benchmark") : "",
  ].join("\n");
}

/** A captioned grouped bar chart (@infialign/eval's, which the evaluation report draws too). */
function barFigure(o: GroupedBarChartOptions): string {
  const caption = `<figcaption>${escapeHtml(o.title)}</figcaption>`;
  if (o.groups.length === 0) return `<figure>${caption}<p>No data.</p></figure>`;
  return `<figure>${caption}${groupedBarChart({ width: 720, height: 280, format: (v) => formatNumber(Number(v.toPrecision(3))), ...o })}</figure>`;
}

function compositionTable(c: Composition, side: "before" | "after", caption: string): string {
  const rows = Object.entries(c[side])
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([domain, counts]) => [domain, ...counts, counts.reduce((a, b) => a + b, 0)]);
  return table(["domain \\ difficulty", ...c.difficultyLabels, "total"], rows, caption);
}

function compositionSection(data: DemoReportData): string {
  const c = data.curate.composition;
  const domains = [...new Set([...Object.keys(c.before), ...Object.keys(c.after)])].sort();
  const total = (side: "before" | "after", d: string) => (c[side][d] ?? []).reduce((a, b) => a + b, 0);
  const sides = ["before", "after"] as const;
  const byBucket = (side: "before" | "after", i: number) => Object.values(c[side]).reduce((a, counts) => a + (counts[i] ?? 0), 0);
  return [
    "<h2>Composition before and after selection</h2>",
    `<p>Pool offered to selection: ${data.curate.counts.pool} records; selected: ${data.curate.counts.selected} (phase 1 easy: ${data.curate.counts.easy}, phase 2 hard: ${data.curate.counts.hard}). Domains are the selection stage's labels; difficulty is its quartile of ${escapeHtml(c.metric.replace(/_/g, " "))}.</p>`,
    barFigure({ title: "Records per domain", groups: domains.map((d) => d.replace(/^math\//, "")), series: sides.map((side) => ({ name: `${side} selection`, values: domains.map((d) => total(side, d)) })), yLabel: "records" }),
    barFigure({ title: "Records per difficulty bucket", groups: c.difficultyLabels, series: sides.map((side) => ({ name: `${side} selection`, values: c.difficultyLabels.map((_, i) => byBucket(side, i)) })), yLabel: "records" }),
    compositionTable(c, "before", "Before selection (domain × difficulty)"),
    compositionTable(c, "after", "After selection (domain × difficulty)"),
  ].join("\n");
}

function trainingSection(data: DemoReportData): string {
  const { sft, dpo } = data;
  const markers = sft.phases.slice(1).map((p, i) => ({ x: sft.phases[i]?.loss.at(-1)?.[0] ?? 0, label: p.name }));
  return [
    "<h2>Training</h2>",
    `<p>Qwen2 from scratch: ${formatNumber(sft.parameters)} parameters, byte-level tokenizer, ${escapeHtml(sft.backend)}.</p>`,
    table(
      ["phase", "samples", "steps", "tokens", "tokens/s", "seconds", "final loss"],
      sft.phases.map((p) => [p.name, p.trainSamples, p.steps, p.tokens, Math.round(p.tokensPerSecond), p.seconds, p.finalTrainLoss]),
      "SFT curriculum",
    ),
    lineChartSvg({ kind: "line", title: "SFT training loss", series: sft.phases.map((p) => ({ name: p.name, points: p.loss })), markers, yLabel: "loss" }),
    table(
      ["prompts", "pairs", "sampling engine", "sampling s", "steps", "train s", "dropped prompts by reason"],
      [[dpo.prompts, dpo.pairs, dpo.samplingEngine, dpo.samplingSeconds, dpo.steps, dpo.trainSeconds, Object.entries(dpo.rejectedByReason).map(([r, n]) => `${r}: ${n}`).join(", ") || "—"]],
      "DPO",
    ),
    lineChartSvg({ kind: "line", title: "DPO loss", series: [{ name: "loss", points: dpo.loss, dots: true }], yLabel: "loss" }),
    lineChartSvg({ kind: "line", title: "DPO rewards", series: [{ name: "rewards/margins", points: dpo.margins, dots: true }, { name: "rewards/accuracies", points: dpo.accuracies, dots: true }], yLabel: "" }),
  ].join("\n");
}

function resultsSection(data: DemoReportData): string {
  const { evaluation } = data;
  const p = evaluation.protocol;
  const difficulties = [...new Set(evaluation.results.flatMap((r) => Object.keys(r.byDifficulty)))].sort((a, b) => (Number(a) || 99) - (Number(b) || 99));
  return [
    "<h2>Results on the held-out split</h2>",
    `<p>Served by infialign-serve (${escapeHtml(evaluation.engine)}) over its OpenAI API; ${p.samples} sample(s) per item, temperature ${p.temperature}, top_p ${p.topP}, max ${p.maxTokens} tokens; graded with @infialign/verify's verifyMath. avg@n in %, ± one standard error over items.</p>`,
    table(
      ["model", "avg@n (%)", "± stderr", "items", "n", "no answer", ...difficulties.map((d) => `difficulty ${d}`)],
      evaluation.results.map((r) => [r.model, pct(r.avgAtN), pct(r.stderr), r.items, r.samplesPerItem, r.noAnswer, ...difficulties.map((d) => (r.byDifficulty[d] ? pct(r.byDifficulty[d].avgAtN) : undefined))]),
      "Accuracy",
    ),
    barFigure({ title: "avg@n with standard error", groups: evaluation.results.map((r) => r.model), series: [{ name: "avg@n (%)", values: evaluation.results.map((r) => 100 * r.avgAtN), errors: evaluation.results.map((r) => 100 * r.stderr) }], yLabel: "%" }),
    table(
      ["from → to", "wrong → correct", "correct → wrong", "both correct", "both wrong"],
      evaluation.flips.map((f) => [`${f.from} → ${f.to}`, f.wrongToCorrect, f.correctToWrong, f.bothCorrect, f.bothWrong]),
      "Answer flips (an item counts as solved when most of its samples are correct)",
    ),
  ].join("\n");
}

function ablationSection(ablation: AblationResult): string {
  return [
    "<h2>Ablation</h2>",
    `<p>Each arm trained and evaluated over seeds ${ablation.seeds.join(", ")}; mean ± spread (half the min–max range) of avg@n in %.</p>`,
    table(
      ["arm", "training samples", "mean avg@n (%)", "± spread", "per seed (%)"],
      ablation.arms.map((a) => [a.name, a.samples, pct(a.mean), pct(a.spread), a.perSeed.map(pct).join(", ")]),
      "Ablation",
    ),
    barFigure({ title: "Ablation: avg@n (mean ± spread over seeds)", groups: ablation.arms.map((a) => a.name), series: [{ name: "avg@n (%)", values: ablation.arms.map((a) => 100 * a.mean), errors: ablation.arms.map((a) => 100 * a.spread) }], yLabel: "%" }),
  ].join("\n");
}

export function renderDemoReport(data: DemoReportData): string {
  const timings = Object.entries(data.timings).map(([step, s]) => [step, Number(s.toFixed(1))]);
  const body = [
    `<h1>${escapeHtml(data.title)}</h1>`,
    table(["step", "seconds"], [...timings, ["total", Number(Object.values(data.timings).reduce((a, b) => a + b, 0).toFixed(1))]], "Step timings"),
    funnelSection(data),
    compositionSection(data),
    trainingSection(data),
    resultsSection(data),
    data.ablation ? ablationSection(data.ablation) : "",
  ].join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(data.title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;margin:1em 0}caption{font-weight:bold;text-align:left;margin-bottom:.4em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}figcaption{font-weight:bold;margin-bottom:.4em}code{background:#f4f4f4;padding:0 .2em}</style>
</head><body>
${body}
</body></html>
`;
}
