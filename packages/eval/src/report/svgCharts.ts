/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Colour of series `i` (colour-blind-safe Okabe–Ito order). */
export function seriesColor(i: number): string {
  const palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  return palette[i % palette.length]!;
}

export interface BarSeries {
  name: string;
  /** One value per group; `undefined` leaves a gap. */
  values: (number | undefined)[];
  /** Half-width of the error bar per group (same unit as values). */
  errors?: (number | undefined)[];
  color?: string;
}

export interface GroupedBarChartOptions {
  /** Accessible name of the chart (`<title>`). */
  title: string;
  groups: string[];
  series: BarSeries[];
  /** Top of the y axis. @default the largest value (with error) rounded up, at least 1e-9 */
  yMax?: number;
  /** Formats tick and value labels. @default 2 decimals */
  format?: (v: number) => string;
  /** Label of the y axis, drawn rotated beside it. */
  yLabel?: string;
  /** @default 640 */
  width?: number;
  /** @default 260 */
  height?: number;
}

/** A grouped bar chart as an inline SVG: one cluster per group, one bar per series, optional error bars. */
export function groupedBarChart(o: GroupedBarChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 260;
  const fmt = o.format ?? ((v: number) => v.toFixed(2));
  const margin = { top: 16, right: 12, bottom: 48, left: 48 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const maxData = Math.max(1e-9, ...o.series.flatMap((s) => s.values.map((v, i) => (v ?? 0) + (s.errors?.[i] ?? 0))));
  const yMax = o.yMax ?? maxData;
  const y = (v: number) => margin.top + plotH - (Math.min(Math.max(v, 0), yMax) / yMax) * plotH;
  const groupW = plotW / Math.max(1, o.groups.length);
  const barW = Math.max(2, (groupW * 0.8) / Math.max(1, o.series.length));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img"><title>${escapeHtml(o.title)}</title>`);
  for (let t = 0; t <= 4; t++) {
    const v = (yMax * t) / 4;
    parts.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${margin.left - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="10">${escapeHtml(fmt(v))}</text>`);
  }
  o.groups.forEach((g, gi) => {
    const x0 = margin.left + gi * groupW + groupW * 0.1;
    o.series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === undefined || !Number.isFinite(v)) return;
      const x = x0 + si * barW;
      const color = s.color ?? seriesColor(si);
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${(margin.top + plotH - y(v)).toFixed(1)}" fill="${color}"><title>${escapeHtml(`${s.name} · ${g}: ${fmt(v)}`)}</title></rect>`);
      const e = s.errors?.[gi];
      if (e !== undefined && e > 0) {
        const cx = (x + (barW - 1) / 2).toFixed(1);
        parts.push(`<path class="errorbar" d="M${cx} ${y(v + e).toFixed(1)}V${y(v - e).toFixed(1)}M${(x + barW * 0.25).toFixed(1)} ${y(v + e).toFixed(1)}h${(barW * 0.5).toFixed(1)}M${(x + barW * 0.25).toFixed(1)} ${y(v - e).toFixed(1)}h${(barW * 0.5).toFixed(1)}" stroke="#333" fill="none"/>`);
      }
    });
    parts.push(`<text x="${(margin.left + gi * groupW + groupW / 2).toFixed(1)}" y="${height - margin.bottom + 14}" text-anchor="middle" font-size="11">${escapeHtml(g)}</text>`);
  });
  if (o.yLabel) {
    const cy = (margin.top + plotH / 2).toFixed(1);
    parts.push(`<text x="12" y="${cy}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${cy})">${escapeHtml(o.yLabel)}</text>`);
  }
  o.series.forEach((s, si) => {
    const lx = margin.left + si * 140;
    parts.push(`<rect x="${lx}" y="${height - 16}" width="10" height="10" fill="${s.color ?? seriesColor(si)}"/><text x="${lx + 14}" y="${height - 7}" font-size="11">${escapeHtml(s.name.slice(0, 20))}</text>`);
  });
  parts.push("</svg>");
  return parts.join("");
}
