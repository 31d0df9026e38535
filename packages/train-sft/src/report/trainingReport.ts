// A self-contained HTML training report: line charts of metric series by step (inline SVG, phase markers) and tables,
// styled like @infialign/sampling's selection report. Shared by the SFT and DPO trainers.

/** One line of a chart: (step, value) points; non-finite values are skipped. */
export interface LineSeries {
  name: string;
  points: readonly (readonly [number, number])[];
  /** @default a colour of the built-in palette, by series index */
  color?: string;
  /** Dashed line (e.g. eval curves beside train curves). @default false */
  dashed?: boolean;
  /** Draw a dot at every point (sparse series such as evaluations). @default false */
  dots?: boolean;
}

/** A vertical line at `x` with a label (a phase boundary). */
export interface ChartMarker {
  x: number;
  label: string;
}

export interface LineChartBlock {
  kind: "line";
  title: string;
  series: readonly LineSeries[];
  markers?: readonly ChartMarker[];
  /** @default "step" */
  xLabel?: string;
  /** @default "" */
  yLabel?: string;
  /** Logarithmic y axis (all values must be > 0; others are skipped). @default false */
  logY?: boolean;
}

export interface TableBlock {
  kind: "table";
  caption?: string;
  columns: readonly string[];
  /** Cells: numbers are formatted (integers with separators, others with 4 significant digits); undefined is empty. */
  rows: readonly (readonly (string | number | undefined)[])[];
}

export interface TextBlock {
  kind: "text";
  text: string;
}

export type ReportBlock = LineChartBlock | TableBlock | TextBlock;

export interface ReportSection {
  heading: string;
  blocks: readonly ReportBlock[];
}

export interface TrainingReportOptions {
  title: string;
  /** A paragraph under the title. @default none */
  summary?: string;
  sections: readonly ReportSection[];
}

/** Colour-blind-safe palette (Tableau 10). */
export const REPORT_PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"] as const;

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Numbers for tables and axes: integers with separators, small/large values in exponent form, else 4 significant digits. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** A line chart as an inline SVG `<figure>`. */
export function lineChartSvg(block: LineChartBlock): string {
  const w = 720;
  const h = 260;
  const left = 64;
  const right = 16;
  const top = 28;
  const bottom = 40;
  const plotW = w - left - right;
  const plotH = h - top - bottom;
  const ty = (v: number) => (block.logY ? Math.log10(v) : v);
  const usable = (p: readonly [number, number]) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!block.logY || p[1] > 0);
  const series = block.series.map((s, i) => ({ ...s, color: s.color ?? REPORT_PALETTE[i % REPORT_PALETTE.length], points: s.points.filter(usable) }));
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<figure><figcaption>${escapeHtml(block.title)}</figcaption><p>No data.</p></figure>`;
  const xs = [...all.map((p) => p[0]), ...(block.markers ?? []).map((m) => m.x)];
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  let y0 = Math.min(...all.map((p) => ty(p[1])));
  let y1 = Math.max(...all.map((p) => ty(p[1])));
  if (y1 === y0) [y0, y1] = [y0 - (Math.abs(y0) || 1) * 0.05, y1 + (Math.abs(y1) || 1) * 0.05];
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * plotW;
  const py = (y: number) => top + plotH - ((ty(y) - y0) / (y1 - y0)) * plotH;
  const label = (v: number) => escapeHtml(formatNumber(block.logY ? 10 ** v : v));
  const parts: string[] = [];
  parts.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="#fafafa" stroke="#ccc"/>`);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const y = top + plotH - t * plotH;
    parts.push(`<line x1="${left}" y1="${y.toFixed(1)}" x2="${left + plotW}" y2="${y.toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 4}" y="${(y + 4).toFixed(1)}" text-anchor="end">${label(y0 + t * (y1 - y0))}</text>`);
    const x = left + t * plotW;
    parts.push(`<text x="${x.toFixed(1)}" y="${top + plotH + 14}" text-anchor="middle">${escapeHtml(formatNumber(Math.round(x0 + t * (x1 - x0))))}</text>`);
  }
  parts.push(`<text x="${left + plotW / 2}" y="${h - 6}" text-anchor="middle">${escapeHtml(block.xLabel ?? "step")}</text>`);
  if (block.yLabel) parts.push(`<text x="12" y="${top + plotH / 2}" transform="rotate(-90 12 ${top + plotH / 2})" text-anchor="middle">${escapeHtml(block.yLabel)}</text>`);
  for (const m of block.markers ?? []) {
    const x = px(m.x).toFixed(1);
    parts.push(`<line class="marker" x1="${x}" y1="${top}" x2="${x}" y2="${top + plotH}" stroke="#888" stroke-dasharray="4 3"><title>${escapeHtml(m.label)}</title></line>`);
    parts.push(`<text x="${(Number(x) + 3).toFixed(1)}" y="${top + 10}" fill="#555">${escapeHtml(m.label)}</text>`);
  }
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i === 0 ? "M" : "L"}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join("");
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 3"' : ""}><title>${escapeHtml(s.name)}</title></path>`);
    if (s.dots || s.points.length === 1) {
      for (const p of s.points) {
        parts.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="2.5" fill="${s.color}"><title>${escapeHtml(`${s.name} @ ${formatNumber(p[0])}: ${formatNumber(p[1])}`)}</title></circle>`);
      }
    }
  }
  let lx = left;
  for (const s of series) {
    parts.push(`<rect x="${lx}" y="8" width="12" height="4" fill="${s.color}"/><text x="${lx + 16}" y="14">${escapeHtml(s.name)}</text>`);
    lx += 24 + s.name.length * 6.5;
  }
  return `<figure><figcaption>${escapeHtml(block.title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeHtml(block.title)}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-size="11" font-family="sans-serif">${parts.join("")}</svg></figure>`;
}

function tableHtml(block: TableBlock): string {
  const cell = (v: string | number | undefined) => (v === undefined ? "" : typeof v === "number" ? escapeHtml(formatNumber(v)) : escapeHtml(v));
  const head = block.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = block.rows.map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join("")}</tr>`).join("");
  return `<table>${block.caption ? `<caption>${escapeHtml(block.caption)}</caption>` : ""}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function blockHtml(block: ReportBlock): string {
  if (block.kind === "line") return lineChartSvg(block);
  if (block.kind === "table") return tableHtml(block);
  return `<p>${escapeHtml(block.text)}</p>`;
}

/** The report as one self-contained HTML page: inline SVG and styles, no scripts, nothing fetched. */
export function renderTrainingReportHtml(options: TrainingReportOptions): string {
  const sections = options.sections.map((s) => `<h2>${escapeHtml(s.heading)}</h2>\n${s.blocks.map(blockHtml).join("\n")}`).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(options.title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;margin:1em 0}caption{font-weight:bold;text-align:left;margin-bottom:.4em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}figcaption{font-weight:bold;margin-bottom:.4em}</style>
</head><body>
<h1>${escapeHtml(options.title)}</h1>
${options.summary ? `<p>${escapeHtml(options.summary)}</p>\n` : ""}${sections}
</body></html>
`;
}
