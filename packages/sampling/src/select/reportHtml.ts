import type { SelectionReport } from "./report.js";

export interface SelectionReportHtmlOptions {
  /** Page title. @default "Selection report" */
  title?: string;
  /** Extra drop counts shown beside the selection's own (e.g. quality and near-dup rejects by reason). @default {} */
  extraDrops?: Readonly<Record<string, number>>;
}

const BEFORE = "#9ecae1";
const AFTER = "#3182bd";
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (n: number) => n.toLocaleString("en-US");
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
/** Reports written before `order` existed have none: they were hardest-first. */
const orderText = (order: string | undefined) => (order === "random" ? "random (seeded)" : order === undefined || order === "hardest" ? "hardest first" : order);

interface Series {
  name: string;
  color: string;
  values: number[];
  /** Tooltip text per value. */
  titles?: string[];
}

/** Vertical grouped bars (one group per category, one bar per series) as inline SVG. */
function groupedBars(title: string, categories: string[], series: Series[], yLabel: string, format: (v: number) => string): string {
  // Rotated category labels need room below and to the right (~6 px per character at 11 px).
  const longest = Math.max(0, ...categories.map((c) => c.length));
  const w = Math.min(1040, Math.max(360, categories.length * (series.length * 18 + 24) + 80 + longest * 5));
  const bottom = 24 + Math.ceil(longest * 3.2);
  const h = 190 + bottom;
  const top = 24;
  const left = 56;
  const plotH = h - top - bottom;
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values));
  const groupW = (w - left - 10 - longest * 5) / Math.max(1, categories.length);
  const barW = Math.max(3, Math.min(24, (groupW - 8) / series.length));
  const parts: string[] = [];
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${(left + groupW * categories.length).toFixed(1)}" y2="${top + plotH}" stroke="#444"/>`);
  for (const t of [0, 0.5, 1]) {
    const y = top + plotH - t * plotH;
    parts.push(`<text x="${left - 4}" y="${(y + 4).toFixed(1)}" text-anchor="end">${esc(format(t * max))}</text>`);
  }
  parts.push(`<text x="12" y="${top + plotH / 2}" transform="rotate(-90 12 ${top + plotH / 2})" text-anchor="middle">${esc(yLabel)}</text>`);
  categories.forEach((c, ci) => {
    const gx = left + ci * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[ci] ?? 0;
      const bh = (v / max) * plotH;
      const tip = s.titles?.[ci] ?? `${s.name}: ${format(v)}`;
      parts.push(
        `<rect x="${(gx + si * barW).toFixed(1)}" y="${(top + plotH - bh).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="${s.color}"><title>${esc(`${c} — ${tip}`)}</title></rect>`,
      );
    });
    const lx = left + ci * groupW + groupW / 2;
    parts.push(`<text x="${lx.toFixed(1)}" y="${top + plotH + 14}" transform="rotate(30 ${lx.toFixed(1)} ${top + plotH + 14})">${esc(c)}</text>`);
  });
  series.forEach((s, si) => {
    parts.push(`<rect x="${left + si * 110}" y="4" width="12" height="12" fill="${s.color}"/><text x="${left + si * 110 + 16}" y="14">${esc(s.name)}</text>`);
  });
  return figure(title, w, h, parts.join(""));
}

/** Horizontal bars, one row per label. */
function hBars(title: string, rows: { label: string; value: number; color?: string }[]): string {
  if (rows.length === 0) return `<figure><figcaption>${esc(title)}</figcaption><p>None.</p></figure>`;
  const labelW = 220;
  const barW = 380;
  const rowH = 22;
  const h = rows.length * rowH + 10;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const body = rows
    .map((r, i) => {
      const bw = Math.max(1, (r.value / max) * barW);
      const y = i * rowH + 5;
      return `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(r.label)}</text><rect x="${labelW}" y="${y + 3}" width="${bw.toFixed(1)}" height="${rowH - 8}" fill="${r.color ?? "#e45756"}"/><text x="${(labelW + bw + 6).toFixed(1)}" y="${y + 15}">${num(r.value)}</text>`;
    })
    .join("");
  return figure(title, labelW + barW + 90, h, body);
}

/** Cluster sizes of one domain (light) with the selected part (dark), largest cluster first. */
function clusterChart(d: SelectionReport["domains"][number]): string {
  const order = d.clusterSizes.map((size, id) => ({ id, size, sel: d.clusterSelected[id] ?? 0 })).filter((c) => c.size > 0);
  order.sort((a, b) => b.size - a.size || a.id - b.id);
  const w = Math.max(300, Math.min(900, order.length * 10 + 70));
  const h = 150;
  const left = 50;
  const plotH = h - 40;
  const barW = (w - left - 10) / Math.max(1, order.length);
  const max = Math.max(1, ...order.map((c) => c.size));
  const bars = order
    .map((c, i) => {
      const x = left + i * barW;
      const bh = (c.size / max) * plotH;
      const sh = (c.sel / max) * plotH;
      const tip = `cluster ${c.id}: ${c.sel} of ${c.size} selected`;
      return `<rect x="${x.toFixed(1)}" y="${(10 + plotH - bh).toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="${BEFORE}"><title>${esc(tip)}</title></rect><rect x="${x.toFixed(1)}" y="${(10 + plotH - sh).toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${sh.toFixed(1)}" fill="${AFTER}"><title>${esc(tip)}</title></rect>`;
    })
    .join("");
  const axis = `<line x1="${left}" y1="${10 + plotH}" x2="${w - 10}" y2="${10 + plotH}" stroke="#444"/><text x="${left - 4}" y="18" text-anchor="end">${max}</text><text x="${left - 4}" y="${10 + plotH}" text-anchor="end">0</text><text x="${left}" y="${h - 8}">${order.length} clusters, largest first; dark = selected</text>`;
  const caption = `${d.domain}: ${d.clustersCovered}/${d.clusters} clusters covered (${pct(d.coverage)})${d.inertia !== undefined ? `, inertia ${d.inertia.toFixed(2)}` : ""}`;
  return figure(caption, w, h, bars + axis);
}

function figure(title: string, w: number, h: number, body: string): string {
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}" width="${Math.round(w)}" height="${h}" viewBox="0 0 ${Math.round(w)} ${h}" font-size="11" font-family="sans-serif">${body}</svg></figure>`;
}

const shares = (values: number[]) => {
  const total = values.reduce((a, b) => a + b, 0);
  return values.map((v) => (total === 0 ? 0 : v / total));
};

/**
 * The selection report as one self-contained HTML page: inline SVG charts (domain
 * composition, difficulty distribution, cluster sizes and coverage, drop reasons) and
 * tables; no scripts, styles inline, nothing fetched.
 */
export function renderSelectionReportHtml(report: SelectionReport, options: SelectionReportHtmlOptions = {}): string {
  const title = options.title ?? "Selection report";
  const domains = report.domains.map((d) => d.domain);
  const before = report.domains.map((d) => d.before);
  const after = report.domains.map((d) => d.after);
  const domainChart = groupedBars(
    "Domain composition before and after selection (share of the set)",
    domains,
    [
      { name: "before", color: BEFORE, values: shares(before), titles: before.map((n, i) => `before: ${num(n)} (${pct(shares(before)[i]!)})`) },
      { name: "after", color: AFTER, values: shares(after), titles: after.map((n, i) => `after: ${num(n)} (${pct(shares(after)[i]!)})`) },
    ],
    "share",
    pct,
  );
  const h = report.difficulty.histogram;
  const fmtBin = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(2));
  const binLabels = h.before.map((_, i) => `${fmtBin(h.bins[i]!)}–${fmtBin(h.bins[i + 1]!)}`);
  const diffChart = groupedBars(
    `Difficulty distribution (${report.difficulty.metric}${report.difficulty.tokenizer ? `, ${report.difficulty.tokenizer}` : ""}; share of the set)`,
    binLabels,
    [
      { name: "before", color: BEFORE, values: shares(h.before), titles: h.before.map((n) => `before: ${num(n)}`) },
      { name: "after", color: AFTER, values: shares(h.after), titles: h.after.map((n) => `after: ${num(n)}`) },
    ],
    "share",
    pct,
  );
  const bucketChart = groupedBars(
    "Difficulty quantile buckets (bucket edges from the pool before selection)",
    report.difficulty.labels,
    [
      { name: "before", color: BEFORE, values: shares(report.difficulty.labels.map((_, b) => sumBucket(report.composition.before, b))) },
      { name: "after", color: AFTER, values: shares(report.difficulty.labels.map((_, b) => sumBucket(report.composition.after, b))) },
    ],
    "share",
    pct,
  );
  const drops = { ...options.extraDrops, ...report.drops };
  const dropChart = hBars(
    "Drops by reason",
    Object.entries(drops)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([label, value]) => ({ label, value })),
  );
  const clusterCharts = report.domains.map(clusterChart).join("");

  const domainRows = report.domains
    .map(
      (d) =>
        `<tr><td>${esc(d.domain)}</td><td>${num(d.before)}</td><td>${num(d.quota)}</td><td>${num(d.after)}</td><td>${d.clustersCovered}/${d.clusters}</td><td>${pct(d.coverage)}</td><td>${d.inertia === undefined ? "" : d.inertia.toFixed(2)}</td></tr>`,
    )
    .join("");
  const compHead = report.difficulty.labels.map((l) => `<th>${esc(l)}</th>`).join("");
  const compRows = report.composition.domains
    .map((d) => {
      const cells = report.difficulty.labels.map((_, b) => `<td>${num(report.composition.before[d]?.[b] ?? 0)} → ${num(report.composition.after[d]?.[b] ?? 0)}</td>`).join("");
      return `<tr><td>${esc(d)}</td>${cells}</tr>`;
    })
    .join("");
  const b = report.budget;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}figcaption{font-weight:bold;margin-bottom:.4em}</style>
</head><body>
<h1>${esc(title)}</h1>
<p>Budget: asked <b>${num(b.asked)}</b> (requested ${esc(String(b.requested))}), selected <b>${num(b.achieved)}</b> of ${num(b.pool)} records (${pct(b.pool === 0 ? 0 : b.achieved / b.pool)}). Domain quotas: ${esc(typeof report.config.domainQuotas === "string" ? report.config.domainQuotas : JSON.stringify(report.config.domainQuotas))}; cluster allocation: ${esc(report.config.clusterAllocation)}; order within clusters: ${esc(orderText(report.config.order))}; seed ${report.config.seed}.</p>
<h2>Domains</h2>
${domainChart}
<table><thead><tr><th>domain</th><th>before</th><th>quota</th><th>after</th><th>clusters covered</th><th>coverage</th><th>inertia</th></tr></thead><tbody>${domainRows}</tbody></table>
<h2>Difficulty</h2>
${diffChart}
${bucketChart}
<table><thead><tr><th>domain (before → after)</th>${compHead}</tr></thead><tbody>${compRows}</tbody></table>
<h2>Clusters</h2>
${clusterCharts}
<h2>Drops</h2>
${dropChart}
</body></html>
`;
}

function sumBucket(counts: Record<string, number[]>, b: number): number {
  return Object.values(counts).reduce((a, v) => a + (v[b] ?? 0), 0);
}
