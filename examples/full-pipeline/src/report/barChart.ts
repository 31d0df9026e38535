// Grouped bar chart as inline SVG (the training report's lineChartSvg covers curves; bars are the funnel, the
// composition and the results with error bars).
import { escapeHtml, formatNumber, REPORT_PALETTE } from "@infialign/train-sft";

export interface BarGroup {
  label: string;
  /** One value per series, in series order; `error` draws ± error bars. */
  values: ReadonlyArray<{ value: number; error?: number }>;
}

export interface BarChartOptions {
  title: string;
  series: readonly string[];
  groups: readonly BarGroup[];
  yLabel?: string;
}

export function barChartSvg(options: BarChartOptions): string {
  const { series, groups } = options;
  if (groups.length === 0) return `<figure><figcaption>${escapeHtml(options.title)}</figcaption><p>No data.</p></figure>`;
  const w = 720;
  const h = 280;
  const left = 64;
  const right = 16;
  const top = 28;
  const bottom = 56;
  const plotW = w - left - right;
  const plotH = h - top - bottom;
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.values.map((v) => v.value + (v.error ?? 0))));
  const y = (v: number) => top + plotH - (Math.max(0, v) / max) * plotH;
  const groupW = plotW / groups.length;
  const barW = Math.max(2, (groupW * 0.8) / Math.max(1, series.length));
  const parts: string[] = [];
  for (let t = 0; t <= 4; t++) {
    const v = (max * t) / 4;
    parts.push(`<line x1="${left}" x2="${w - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11">${escapeHtml(formatNumber(Number(v.toPrecision(3))))}</text>`);
  }
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + groupW * 0.1;
    g.values.forEach((v, si) => {
      const x = x0 + si * barW;
      const color = REPORT_PALETTE[si % REPORT_PALETTE.length];
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(v.value).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${(top + plotH - y(v.value)).toFixed(1)}" fill="${color}"><title>${escapeHtml(`${g.label} · ${series[si] ?? ""}: ${formatNumber(v.value)}${v.error ? ` ± ${formatNumber(v.error)}` : ""}`)}</title></rect>`);
      if (v.error) {
        const cx = (x + barW / 2).toFixed(1);
        parts.push(`<line x1="${cx}" x2="${cx}" y1="${y(v.value + v.error).toFixed(1)}" y2="${y(v.value - v.error).toFixed(1)}" stroke="#222"/>`);
      }
    });
    parts.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" font-size="11">${escapeHtml(g.label)}</text>`);
  });
  const legend = series.map((s, i) => `<rect x="${left + i * 140}" y="${h - 18}" width="10" height="10" fill="${REPORT_PALETTE[i % REPORT_PALETTE.length]}"/><text x="${left + i * 140 + 14}" y="${h - 9}" font-size="11">${escapeHtml(s)}</text>`);
  const yLabel = options.yLabel ? `<text x="14" y="${top + plotH / 2}" font-size="11" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">${escapeHtml(options.yLabel)}</text>` : "";
  return `<figure><figcaption>${escapeHtml(options.title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeHtml(options.title)}"><line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#888"/><line x1="${left}" x2="${w - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#888"/>${parts.join("")}${legend.join("")}${yLabel}</svg></figure>`;
}
