// runs/demo/report.html: one self-contained page (inline CSS and SVG, no scripts, no external resources).
import { type GroupedBarChartOptions, groupedBarChart } from "@infialign/eval";
import { DEFAULT_PAIR_CONFIG } from "@infialign/train-dpo";
import { escapeHtml, formatNumber, lineChartSvg } from "@infialign/train-sft";
import { type AblationReport, type ClaimVerdict, formatPoints } from "../steps/ablationStats.js";
import type { Composition, CurateResult, FunnelRow } from "../steps/curate.js";
import type { DpoResult } from "../steps/dpo.js";
import { type EvaluateResult, heldOutResult } from "../steps/evaluate.js";
import type { SftResult } from "../steps/sft.js";
import type { SourcesResult } from "../steps/sources.js";

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
  /** The generator's ground truth (pool shape, the teacher's flaws); the section is left out without it. */
  sources?: SourcesResult;
  ablation?: AblationReport;
}

function worldSection(data: DemoReportData): string {
  const src = data.sources;
  if (!src?.poolByDomain) return "";
  const { raw, selected } = data.curate.sizes;
  const flaws = Object.entries(src.flaws ?? {}).map(([family, flaw]) => [family, flaw]);
  return [
    "<h2>Task world</h2>",
    "<p>Four procedural skills a ~1M-parameter model learns from worked solutions in minutes: column addition, subtraction with borrows, multiplication by one digit, comparison; each solution is one line per digit column, then <code>\\boxed{}</code>. Difficulty = digits per operand (2–4). The raw pool is skewed the way real pools are (one family is 60%, easy items dominate); the held-out split is balanced over families × difficulties.</p>",
    barFigure({ title: "Raw pool problems per family", groups: Object.keys(src.poolByDomain), series: [{ name: "problems", values: Object.values(src.poolByDomain) }], yLabel: "problems" }),
    table(["difficulty (digits)", "raw pool problems"], Object.entries(src.poolByDifficulty ?? {}), "Raw pool problems per difficulty"),
    flaws.length ? table(["family", "the teacher source's systematic error"], flaws, "The flawed teacher (its records carry the dataset's gold answer, so verification can tell)") : "",
    table(
      ["data", "records", "tokens (bytes of prompt + response)", "share of raw tokens"],
      [
        ["raw pool (parseable records)", raw.records, raw.tokens, "100%"],
        ["curated subset", selected.records, selected.tokens, `${pct(raw.tokens ? selected.tokens / raw.tokens : 0)}%`],
      ],
      "Data efficiency: the curated subset against the raw pool",
    ),
  ].join("\n");
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
    `<p>Pool offered to selection: ${data.curate.counts.pool} records; selected: ${data.curate.counts.selected} (phase 1: the ${data.curate.counts.easy} easier records; phase 2: all of them, with the ${data.curate.counts.hard} harder ones). Domains are the selection stage's labels; difficulty is its quartile of ${escapeHtml(c.metric.replace(/_/g, " "))}.</p>`,
    barFigure({ title: "Records per domain", groups: domains.map((d) => d.replace(/^math\//, "")), series: sides.map((side) => ({ name: `${side} selection`, values: domains.map((d) => total(side, d)) })), yLabel: "records" }),
    barFigure({ title: "Records per difficulty bucket", groups: c.difficultyLabels, series: sides.map((side) => ({ name: `${side} selection`, values: c.difficultyLabels.map((_, i) => byBucket(side, i)) })), yLabel: "records" }),
    compositionTable(c, "before", "Before selection (domain × difficulty)"),
    compositionTable(c, "after", "After selection (domain × difficulty)"),
  ].join("\n");
}

/** What DPO's challenge selection kept, and how its band compares with InfiAlign's. */
function challengeSelection(dpo: DpoResult): string {
  const [lo, hi] = dpo.passRateBand;
  const [inLo, inHi] = DEFAULT_PAIR_CONFIG.passRateBand;
  const dropped = (code: string) => dpo.rejectedByReason[code] ?? 0;
  const kept = `DPO challenge selection: of ${dpo.prompts} prompts, ${dpo.pairs} with an SFT pass rate in [${lo}, ${hi}] over ${dpo.k} samples became pairs; ${dropped("too_easy")} were too easy (above ${hi}), ${dropped("too_hard")} too hard (below ${lo}).`;
  if (lo === inLo && hi === inHi) return `${kept} This is InfiAlign's band.`;
  return `${kept} InfiAlign's band is [${inLo}, ${inHi}]; this run's dpo.passRateBand differs (the --smoke preset sets [0, 0.75]: its one-epoch model solves no problem, so InfiAlign's band would leave no pair).`;
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
    `<p>${escapeHtml(challengeSelection(dpo))}</p>`,
    table(
      ["prompts", "pairs", "sampling engine", "sampling s", "steps", "train s", "dropped prompts by reason"],
      [[dpo.prompts, dpo.pairs, dpo.samplingEngine, dpo.samplingSeconds, dpo.steps, dpo.trainSeconds, Object.entries(dpo.rejectedByReason).map(([r, n]) => `${r}: ${n}`).join(", ") || "—"]],
      "DPO",
    ),
    lineChartSvg({ kind: "line", title: "DPO loss", series: [{ name: "loss", points: dpo.loss, dots: true }], yLabel: "loss" }),
    lineChartSvg({ kind: "line", title: "DPO rewards", series: [{ name: "rewards/margins", points: dpo.margins, dots: true }, { name: "rewards/accuracies", points: dpo.accuracies, dots: true }], yLabel: "" }),
  ].join("\n");
}

/** Groups (families or difficulties) × models accuracy table: items from the first model that has the group. */
function breakdownTable(label: string, groups: readonly string[], results: EvaluateResult["results"], pick: (r: EvaluateResult["results"][number]) => Record<string, { items: number; avgAtN: number }>, caption: string): string {
  const rows = groups.map((g) => [g, results.map((r) => pick(r)[g]?.items).find((n) => n !== undefined), ...results.map((r) => { const v = pick(r)[g]; return v ? pct(v.avgAtN) : undefined; })]);
  return table([label, "items", ...results.map((r) => `${r.model} (%)`)], rows, caption);
}

function resultsSection(data: DemoReportData): string {
  const { evaluation } = data;
  const { results } = evaluation;
  const held = results.map(heldOutResult);
  const p = evaluation.protocol;
  const difficulties = [...new Set(held.flatMap((r) => Object.keys(r.byDifficulty ?? {})))].sort((a, b) => (Number(a) || 99) - (Number(b) || 99));
  const families = [...new Set(results.flatMap((r) => Object.keys(r.byDomain ?? {})))].sort();
  return [
    "<h2>Results on the held-out split</h2>",
    `<p>Served by infialign-serve (${escapeHtml(evaluation.engine)}) over its OpenAI API; ${p.samples} sample(s) per item, temperature ${p.temperature}, top_p ${p.topP}, max ${p.maxTokens} tokens; graded with @infialign/verify's verifyMath. avg@n in %, ± one standard error over items.</p>`,
    table(
      ["model", "avg@n (%)", "± stderr", "items", "n", "no answer"],
      results.map((r, i) => [r.model, pct(held[i]!.avgAtN), pct(held[i]!.stderr), held[i]!.items, held[i]!.samplesPerItem, held[i]!.reasons.no_answer ?? 0]),
      "Accuracy",
    ),
    barFigure({ title: "avg@n with standard error", groups: results.map((r) => r.model), series: [{ name: "avg@n (%)", values: held.map((r) => 100 * r.avgAtN), errors: held.map((r) => 100 * r.stderr) }], yLabel: "%" }),
    evaluation.verdicts?.length ? `<ul class="verdicts">${evaluation.verdicts.map(verdictItem).join("")}</ul>` : "",
    families.length ? breakdownTable("family", families, results, (r) => r.byDomain ?? {}, "Accuracy per family (avg@n, %)") : "",
    families.length
      ? barFigure({ title: "avg@n per family (%)", groups: families.map((f) => f.replace(/^math\//, "")), series: results.map((r) => ({ name: r.model, values: families.map((f) => { const v = r.byDomain?.[f]; return v ? 100 * v.avgAtN : undefined; }) })), yLabel: "%" })
      : "",
    difficulties.length ? breakdownTable("difficulty", difficulties, results, (r) => heldOutResult(r).byDifficulty ?? {}, "Accuracy per difficulty (avg@n, %)") : "",
    table(
      ["from → to", "Δ avg@n (points)", "± paired stderr", "wrong → correct", "correct → wrong", "both correct", "both wrong"],
      evaluation.comparisons.flatMap((c) => c.benchmarks.map((b) => [`${c.modelA} → ${c.modelB}`, pct(b.delta), pct(b.deltaStderr), b.wrongToCorrect.length, b.correctToWrong.length, b.bothCorrect, b.bothWrong])),
      "Answer flips and accuracy change by @infialign/eval's compareRuns (an item counts as solved when most of its samples are correct; the paired standard error is that of the per-item differences)",
    ),
  ].join("\n");
}

const VERDICT_CLASS: Record<ClaimVerdict["verdict"], string> = { supported: "supported", "not supported": "not-supported", inconclusive: "inconclusive" };

function verdictItem(v: ClaimVerdict): string {
  const kind = v.kind === "greater" ? `${v.arms[0]} > ${v.arms[1]}` : `${v.arms[0]} ≥ ${v.arms[1]} − ${Number((100 * v.margin).toFixed(2))} pts`;
  return `<li><span class="badge ${VERDICT_CLASS[v.verdict]}">${escapeHtml(v.verdict)}</span> <strong>${escapeHtml(v.claim)}</strong> <span class="claim-kind">(${escapeHtml(kind)})</span><br>${escapeHtml(v.detail)}</li>`;
}

function ablationSection(ablation: AblationReport): string {
  const interval = (low: number, high: number) => `${pct(low)} – ${pct(high)}`;
  const c = ablation.contamination;
  const fewestSeeds = Math.min(...ablation.arms.map((a) => a.seeds));
  const seedCaveat =
    fewestSeeds <= 1
      ? " An arm with a single seed has no seed-to-seed variance in its interval: that interval reflects item sampling only."
      : fewestSeeds < 10
        ? ` With ${fewestSeeds} seeds the seed level of the bootstrap is coarse (and tends to be narrow), so read the intervals as approximate.`
        : "";
  return [
    "<h2>Ablation</h2>",
    `<p>${escapeHtml(ablation.scale)}</p>`,
    ablation.devSplit ? `<p>Tuned on: <code>${escapeHtml(ablation.devSplit)}</code> (never the held-out split).</p>` : "",
    `<p>Each arm trained over seeds ${escapeHtml(ablation.seeds.join(", "))} and evaluated on the same n = ${ablation.items} held-out items. Accuracy is the mean over seeds; 95% intervals come from a seeded two-level bootstrap over seeds and items (items paired across arms).${seedCaveat}</p>`,
    table(
      ["arm", "description", "seeds", "training tokens", "wall time (s)", "accuracy (%)", "95% interval (%)", "per seed (%)"],
      ablation.arms.map((a) => [a.name, a.description, a.seeds, Math.round(a.tokens), Number(a.seconds.toFixed(1)), pct(a.mean), interval(a.low, a.high), a.runs.map((r) => `${r.seed}: ${pct(r.accuracy)}`).join(", ")]),
      "Ablation arms",
    ),
    barFigure({
      title: "Ablation: accuracy (mean over seeds; error bars: larger half-width of the 95% interval, since the chart draws symmetric bars)",
      groups: ablation.arms.map((a) => a.name),
      series: [{ name: "accuracy (%)", values: ablation.arms.map((a) => 100 * a.mean), errors: ablation.arms.map((a) => 100 * Math.max(a.mean - a.low, a.high - a.mean, 0)) }],
      yLabel: "%",
    }),
    "<h3>Verdicts</h3>",
    ablation.verdicts.length
      ? `<p>Computed from the interval of the difference (a − b): "greater" is supported when the interval lies above 0 and not supported when it lies at or below 0; "non-inferior" is supported when it lies above −margin and not supported when it lies below −margin; otherwise inconclusive.</p><ul class="verdicts">${ablation.verdicts.map(verdictItem).join("")}</ul>`
      : "<p>No claims judged.</p>",
    c
      ? [
          "<h3>Contamination check</h3>",
          `<p>Arm ${escapeHtml(c.arm)}: accuracy on held-out items that leaked into its training data vs the rest; leaked − unseen = ${escapeHtml(formatPoints(c.difference.mean))} pts (95% CI ${escapeHtml(formatPoints(c.difference.low))} … ${escapeHtml(formatPoints(c.difference.high))}).</p>`,
          table(
            ["items", "count", "accuracy (%)"],
            [
              ["leaked", c.leaked.items, pct(c.leaked.accuracy)],
              ["unseen", c.unseen.items, pct(c.unseen.accuracy)],
            ],
            "Contamination check",
          ),
        ].join("\n")
      : "",
  ].join("\n");
}

export function renderDemoReport(data: DemoReportData): string {
  const timings = Object.entries(data.timings).map(([step, s]) => [step, Number(s.toFixed(1))]);
  const body = [
    `<h1>${escapeHtml(data.title)}</h1>`,
    table(["step", "seconds"], [...timings, ["total", Number(Object.values(data.timings).reduce((a, b) => a + b, 0).toFixed(1))]], "Step timings"),
    worldSection(data),
    funnelSection(data),
    compositionSection(data),
    trainingSection(data),
    resultsSection(data),
    data.ablation ? ablationSection(data.ablation) : "",
  ].join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(data.title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;margin:1em 0}caption{font-weight:bold;text-align:left;margin-bottom:.4em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}figcaption{font-weight:bold;margin-bottom:.4em}code{background:#f4f4f4;padding:0 .2em}.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.85em;font-weight:bold;color:#fff}.badge.supported{background:#1b7f3b}.badge.not-supported{background:#b3261e}.badge.inconclusive{background:#6b6b6b}ul.verdicts li{margin:.5em 0}.claim-kind{color:#555}</style>
</head><body>
${body}
</body></html>
`;
}
