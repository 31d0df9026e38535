// One spherical mini-batch k-means step (VectorEngine.miniBatchStep) against the assignment alone (assignRows), on
// 200,000 × 256 unit rows, k = 316, batch 4,096: the difference is what the per-centre sums and moves cost. Variants
// alternate step by step; medians, and minima (the least disturbed step on a shared machine). Usage: tsx bench/miniBatchStep.ts (BENCH_STEPS, default 150; BENCH_THREADS, 2).
import { loadavg } from "node:os";
import { getVectorEngine } from "../src/engine/vectorEngine.js";
import { createRng, l2NormalizeRows } from "../src/vector/index.js";

const N = 200_000;
const DIM = 256;
const K = 316;
const BATCH = 4096;
const STEPS = Number(process.env.BENCH_STEPS ?? 150);
const THREADS = Number(process.env.BENCH_THREADS ?? 2);

const rng = createRng(3);
// Rows around 500 directions, so that the centres get uneven batch counts as in a real run.
const dirs = l2NormalizeRows(Float32Array.from({ length: 500 * DIM }, () => rng.nextGaussian()), DIM);
const data = new Float32Array(N * DIM);
for (let i = 0; i < N; i++) {
  const c = rng.nextInt(500);
  for (let d = 0; d < DIM; d++) data[i * DIM + d] = dirs[c * DIM + d]! + 0.1 * rng.nextGaussian();
}
l2NormalizeRows(data, DIM);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rows = new Int32Array(BATCH);
const out = { assignments: new Int32Array(BATCH), scores: new Float32Array(BATCH) };
console.log(`${N}×${DIM} rows, k=${K}, batch ${BATCH}, ${THREADS} threads, ${STEPS} steps per variant, load ${loadavg()[0]!.toFixed(1)}`);
console.log("| engine | assignRows ms (min) | miniBatchStep ms (min) | sums + moves ms (min) |");
console.log("|---|---:|---:|---:|");
for (const name of ["onnxruntime", "js"] as const) {
  const engine = getVectorEngine({ engine: name, threads: THREADS });
  const start = data.slice(0, K * DIM);
  const centers = { centroids: start.slice(), means: Float64Array.from(start), counts: new Float64Array(K) };
  const times: Record<"assign" | "step", number[]> = { assign: [], step: [] };
  const steps = name === "js" ? Math.max(10, Math.round(STEPS / 10)) : STEPS;
  for (let s = 0; s < steps + 5; s++) {
    for (const v of ["assign", "step"] as const) {
      for (let b = 0; b < BATCH; b++) rows[b] = rng.nextInt(N);
      const t0 = performance.now();
      if (v === "assign") engine.assignRows(data, rows, centers.centroids, DIM, out);
      else engine.miniBatchStep(data, rows, centers, DIM, out);
      if (s >= 5) times[v].push(performance.now() - t0);
    }
  }
  const a = median(times.assign);
  const st = median(times.step);
  const aMin = Math.min(...times.assign);
  const stMin = Math.min(...times.step);
  console.log(`| ${name} | ${a.toFixed(2)} (${aMin.toFixed(2)}) | ${st.toFixed(2)} (${stMin.toFixed(2)}) | ${(st - a).toFixed(2)} (${(stMin - aMin).toFixed(2)}) |`);
}
