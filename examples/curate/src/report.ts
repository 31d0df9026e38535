import type { DatasetStats, DistributionSummary, PipelineResult } from "@infialign/data";

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** Horizontal bar chart as inline SVG (no script, no network: the report opens anywhere). */
function barChart(title: string, rows: Array<{ label: string; value: number; color?: string }>): string {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowH = 22;
  const labelW = 220;
  const barW = 420;
  const h = rows.length * rowH + 10;
  const bars = rows
    .map((r, i) => {
      const w = Math.max(1, (r.value / max) * barW);
      const y = i * rowH + 5;
      return `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(r.label)}</text><rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${r.color ?? "#4c78a8"}"/><text x="${labelW + w + 6}" y="${y + 15}">${r.value.toLocaleString("en-US")}</text>`;
    })
    .join("");
  return `<figure><figcaption>${esc(title)}</figcaption><svg role="img" aria-label="${esc(title)}" width="${labelW + barW + 90}" height="${h}" font-size="12" font-family="sans-serif">${bars}</svg></figure>`;
}

function histogram(title: string, d: DistributionSummary | undefined): string {
  if (!d || d.count === 0) return "";
  const buckets = d.histogram;
  const max = Math.max(...buckets.map((b) => b.count));
  const w = 660;
  const h = 180;
  const bw = w / buckets.length;
  const bars = buckets
    .map((b, i) => {
      const bh = (b.count / max) * (h - 30);
      return `<rect x="${(i * bw).toFixed(1)}" y="${(h - 20 - bh).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="#f58518"><title>≤ ${b.le}: ${b.count}</title></rect>`;
    })
    .join("");
  const axis = `<text x="0" y="${h - 4}">${buckets[0]?.le ?? 0}</text><text x="${w}" y="${h - 4}" text-anchor="end">${buckets.at(-1)?.le ?? 0}</text>`;
  return `<figure><figcaption>${esc(title)} (log-spaced buckets; p50 ${d.p50}, p90 ${d.p90}, max ${d.max})</figcaption><svg role="img" aria-label="${esc(title)}" width="${w}" height="${h}" font-size="11" font-family="sans-serif">${bars}${axis}</svg></figure>`;
}

const sorted = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([label, value]) => ({ label, value }));

/** Evidence shown for the first contaminated records (the full list is the decontam stage's rejects.jsonl). */
export interface ContaminationSample {
  id: string;
  message: string;
}

export interface ReportExtras {
  decontam?: { byBenchmark: Record<string, number>; byMethod: Record<string, number>; samples: ContaminationSample[] };
  /** Relative link to the selection report written beside report.html. */
  selectionHref?: string;
}

export function renderReport(result: PipelineResult, stats: DatasetStats, extras: ReportExtras = {}): string {
  const funnel = result.stages.flatMap((s) => {
    const c = s.manifest.counts;
    return [
      { label: `${s.name}: in`, value: c.in, color: "#4c78a8" },
      { label: `${s.name}: out`, value: c.out, color: "#54a24b" },
      ...Object.entries(c.rejectedByReason).map(([code, n]) => ({ label: `${s.name}: rejected ${code}`, value: n, color: "#e45756" })),
      ...(c.deduplicated ? [{ label: `${s.name}: duplicates`, value: c.deduplicated, color: "#b279a2" }] : []),
    ];
  });
  const rows = result.stages
    .map((s) => {
      const c = s.manifest.counts;
      return `<tr><td>${esc(s.name)}</td><td>${c.in}</td><td>${c.out}</td><td>${c.rejected}</td><td>${c.deduplicated}</td><td>${s.manifest.timings.seconds.toFixed(2)}</td><td>${s.skipped ? "up to date" : s.resumed ? "resumed" : "ran"}</td></tr>`;
    })
    .join("");
  const tokens = stats.responseTokens ? histogram("Response length (Qwen2.5 tokens)", stats.responseTokens) : histogram("Response length (characters)", stats.responseChars);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>InfiAlign curate report</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}td:first-child,th:first-child{text-align:left}figure{margin:1.5rem 0}figcaption{font-weight:600;margin-bottom:.4rem}</style></head><body>
<h1>Curate run report</h1>
<p>Run directory: <code>${esc(result.runDir)}</code>. Every stage satisfies <em>in = out + rejected + deduplicated</em> (checked before its manifest was written).</p>
<h2>Stages</h2><table><thead><tr><th>stage</th><th>in</th><th>out</th><th>rejected</th><th>deduplicated</th><th>seconds*</th><th>status</th></tr></thead><tbody>${rows}</tbody></table>
<p><small>* Stages that had work ran fused in one streaming pass, so each shows that pass's wall time.</small></p>
${barChart("Stage funnel", funnel)}
${decontamSection(extras)}
${extras.selectionHref ? `<h2>Selection</h2><p>Domain × difficulty composition before and after selection, cluster coverage and drop reasons: <a href="${esc(extras.selectionHref)}">selection report</a>.</p>` : ""}
<h2>Composition of the output (${stats.records} records)</h2>
${barChart("Records by source", sorted(stats.bySource))}
${barChart("Records by domain", sorted(stats.byDomain))}
${barChart("Records by difficulty level", sorted(stats.byLevel))}
<h2>Lengths</h2>
${tokens}
${histogram("Prompt length (characters)", stats.promptChars)}
</body></html>
`;
}

function decontamSection({ decontam }: ReportExtras): string {
  if (!decontam) return "";
  const rows = decontam.samples.map((c) => `<tr><td><code>${esc(c.id.slice(0, 12))}</code></td><td style="text-align:left">${esc(c.message)}</td></tr>`).join("");
  return `<h2>Decontamination</h2>
${barChart("Contaminated records by benchmark", sorted(decontam.byBenchmark))}
${barChart("Contaminated records by detection method", sorted(decontam.byMethod))}
<table><thead><tr><th>record</th><th style="text-align:left">evidence (first ${decontam.samples.length}; all in decontam/rejects.jsonl)</th></tr></thead><tbody>${rows}</tbody></table>`;
}
