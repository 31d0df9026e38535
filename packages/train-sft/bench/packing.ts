// Best-fit-decreasing packing speed and efficiency at 100k documents (the placement is O(n log n): a segment tree over
// remaining capacities). Usage: npx tsx bench/packing.ts → bench-results/packing.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bestFitDecreasing, packSequences } from "../src/data/packing.js";

let state = 12345;
const next = () => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state;
};
const pieces = Array.from({ length: 100_000 }, (_, sampleIndex) => ({ sampleIndex, sourceStart: 0, length: 16 + (next() % 2000) }));
let t0 = performance.now();
const bins = bestFitDecreasing(pieces, 4096);
const placeMs = performance.now() - t0;
const tokens = pieces.reduce((s, p) => s + p.length, 0);
const docs = Array.from({ length: 100_000 }, () => {
  const n = 1 + (next() % 64);
  const ids = Int32Array.from({ length: n }, () => next() % 256);
  return { inputIds: ids, labels: ids };
});
const rows: Record<string, unknown>[] = [{ case: "bestFitDecreasing: 100k docs of 16–2015 tokens, bins of 4096", ms: placeMs, bins: bins.length, efficiency: tokens / (bins.length * 4096) }];
for (const strategy of ["bfd", "bfd_split", "wrapped"] as const) {
  t0 = performance.now();
  const { report } = packSequences(docs, { maxLength: 1024, strategy });
  rows.push({ case: `packSequences ${strategy}: 100k docs of 1–64 tokens, rows of 1024`, ms: performance.now() - t0, bins: report.rows, efficiency: report.efficiency });
}
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
console.log("| case | ms | rows | efficiency |\n|---|---|---|---|");
for (const r of rows) console.log(`| ${r.case} | ${(r.ms as number).toFixed(0)} | ${r.bins} | ${(100 * (r.efficiency as number)).toFixed(2)}% |`);
console.log(`peak RSS ${peakRssMiB.toFixed(0)} MiB`);
const out = join(dirname(fileURLToPath(import.meta.url)), "..", "bench-results", "packing.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, peakRssMiB, rows }, null, 2)}\n`);
