// The SFT run report: loss / eval loss, learning rate, gradient norm and throughput over the whole curriculum (phase k's
// steps follow phase k−1's), the batching efficiency of every phase and the run config.
import type { MetricsRecord } from "../core/metrics.js";
import type { SftRunSummary } from "../trainer/summary.js";
import { type ChartMarker, type LineChartBlock, type LineSeries, REPORT_PALETTE, renderTrainingReportHtml } from "./trainingReport.js";

/** The metrics.jsonl records of one phase. */
export interface SftPhaseMetrics {
  phase: string;
  records: readonly MetricsRecord[];
}

/** Flattens nested config objects into `a.b.c` rows (arrays of scalars joined with ", "). */
export function flattenConfig(value: unknown, prefix = ""): [string, string][] {
  if (value === null || typeof value !== "object") return [[prefix || "(value)", String(value)]];
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== "object")) return [[prefix, value.join(", ")]];
  return Object.entries(value).flatMap(([k, v]) => flattenConfig(v, prefix ? `${prefix}.${k}` : k));
}

/** The SFT report page ({@link renderTrainingReportHtml}); `metrics` in phase order. */
export function renderSftReportHtml(summary: SftRunSummary, metrics: readonly SftPhaseMetrics[]): string {
  // Global x axis: a phase's steps start where the previous phase ended.
  const offsets = new Map<string, number>();
  let offset = 0;
  for (const p of summary.phases) {
    offsets.set(p.name, offset);
    offset += p.steps;
  }
  const markers: ChartMarker[] = summary.phases.map((p) => ({ x: offsets.get(p.name) ?? 0, label: p.name }));
  const series = (key: string, options: { suffix?: string; dashed?: boolean; dots?: boolean; shade?: number } = {}): LineSeries[] =>
    metrics
      .map((m, i) => {
        const base = offsets.get(m.phase) ?? 0;
        const points = m.records.filter((r) => typeof r[key] === "number").map((r) => [base + r.step, r[key] as number] as const);
        return {
          name: `${m.phase} ${key}${options.suffix ?? ""}`,
          points,
          color: REPORT_PALETTE[(2 * i + (options.shade ?? 0)) % REPORT_PALETTE.length] as string,
          ...(options.dashed ? { dashed: true } : {}),
          ...(options.dots ? { dots: true } : {}),
        };
      })
      .filter((s) => s.points.length > 0);
  const chart = (title: string, yLabel: string, lines: LineSeries[], logY = false): LineChartBlock => ({ kind: "line", title, yLabel, series: lines, markers, ...(logY ? { logY } : {}) });

  const phaseRows = summary.phases.map((p) => [
    p.name,
    p.selection.kept,
    p.trainSamples,
    p.evalSamples,
    `${p.steps}/${p.maxSteps}`,
    p.tokens,
    p.finalTrainLoss,
    p.finalEvalLoss,
    p.tokensPerSecond,
    p.seconds,
    p.finalDir === undefined ? "interrupted" : p.resumedFromStep !== undefined ? `resumed at ${p.resumedFromStep}` : "complete",
  ]);
  const packingRows = summary.phases.map((p) => {
    const b = p.batching;
    return [p.name, b.strategy, b.maxLength, b.rows, b.realTokens, b.paddedTokens, `${(100 * b.efficiency).toFixed(1)}%`, b.packing ? `${(100 * b.packing.efficiency).toFixed(1)}%` : undefined, b.truncatedTokens];
  });
  const status = summary.interrupted ? "interrupted (resume with --resume)" : `final model in ${summary.finalDir ?? ""}`;
  return renderTrainingReportHtml({
    title: `SFT report: ${summary.config.outputDir}`,
    summary: `${summary.phases.length} of ${summary.config.phases.length} phase(s), engine ${summary.engine} (tfjs backend ${summary.backend}); ${status}.`,
    sections: [
      {
        heading: "Loss",
        blocks: [chart("Training loss (solid) and eval loss (dashed) per phase; dashed vertical lines mark phase starts", "loss (nats/token)", [...series("loss"), ...series("eval_loss", { dashed: true, dots: true, shade: 1 })])],
      },
      {
        heading: "Optimisation",
        blocks: [
          chart("Learning rate", "learning rate", series("learning_rate")),
          chart("Gradient norm (before clipping)", "grad_norm", series("grad_norm"), true),
          chart("Mean token accuracy (train solid, eval dashed)", "accuracy", [...series("mean_token_accuracy"), ...series("eval_mean_token_accuracy", { dashed: true, dots: true, shade: 1 })]),
        ],
      },
      { heading: "Throughput", blocks: [chart("Real tokens per second", "tokens/s", series("tokens_per_second"))] },
      {
        heading: "Phases",
        blocks: [
          { kind: "table", caption: "Phases", columns: ["phase", "samples", "train", "eval", "steps", "tokens", "final loss", "final eval loss", "tokens/s", "seconds", "status"], rows: phaseRows },
          {
            kind: "table",
            caption: "Batching efficiency (real tokens / token slots of the micro-batches, padding included)",
            columns: ["phase", "packing", "max length", "rows", "real tokens", "token slots", "efficiency", "packer efficiency (vs rows × max length)", "truncated tokens"],
            rows: packingRows,
          },
        ],
      },
      { heading: "Run config", blocks: [{ kind: "table", columns: ["field", "value"], rows: flattenConfig(summary.config) }] },
    ],
  });
}
