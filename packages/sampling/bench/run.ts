// k-means benchmark: 1M×256 mini-batch vs a naive baseline (100k subset, extrapolated), and full-batch Lloyd on 50k.
// Usage: pnpm bench (tsx bench/run.ts). BENCH_N overrides the 1,000,000 rows for a quick run; BENCH_THREADS sets the
// k-means `threads` option ("auto" by default; 1 for the single-thread baseline), BENCH_ENGINE its `engine` ("auto":
// onnxruntime when installed; "js" for the Float32Array kernels). The comparison with scikit-learn is bench/sklearn.ts.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveThreads, type VectorEngineChoice } from "@infialign/kernels";
import { chooseK, sphericalKMeans } from "../src/cluster/index.js";
import { naiveMiniBatch } from "./naiveMiniBatch.js";
import { vmfMixture } from "./vmfMixture.js";

const N = Number(process.env.BENCH_N ?? 1_000_000);
const DIM = 256;
const NAIVE_N = Math.min(N, 100_000);
const NAIVE_STEPS = 10;
const FULL_N = Math.min(N, 50_000);
const ENGINE = (process.env.BENCH_ENGINE ?? "auto") as VectorEngineChoice;
const THREADS: number | "auto" = process.env.BENCH_THREADS && process.env.BENCH_THREADS !== "auto" ? Number(process.env.BENCH_THREADS) : "auto";
const rssMiB = () => process.resourceUsage().maxRSS / 1024;

const tGen = performance.now();
const { data } = vmfMixture({ n: N, dim: DIM, clusters: 500, spread: 1, seed: 42 });
const generateSeconds = (performance.now() - tGen) / 1000;
console.log(`generated ${N}×${DIM} vMF mixture (500 planted clusters) in ${generateSeconds.toFixed(1)} s`);

const k = chooseK(N);
let lastStepAt = 0;
const t0 = performance.now();
const mini = sphericalKMeans(data, DIM, {
  k,
  seed: 0,
  miniBatch: true,
  threads: THREADS,
  engine: ENGINE,
  onProgress: (p) => {
    lastStepAt = performance.now();
    if (p.iteration % 50 === 0) console.log(`  step ${p.iteration}: smoothed batch inertia ${p.inertia.toFixed(4)} at ${((lastStepAt - t0) / 1000).toFixed(1)} s`);
  },
});
const miniSeconds = (performance.now() - t0) / 1000;
const miniFinalPassSeconds = (performance.now() - lastStepAt) / 1000;
const miniRss = rssMiB();
console.log(`mini-batch (threads ${String(THREADS)}, engine ${mini.engine}): ${miniSeconds.toFixed(1)} s, ${mini.iterations} steps, converged ${mini.converged}, inertia ${mini.inertia.toFixed(0)}`);

const naive = naiveMiniBatch(data.subarray(0, NAIVE_N * DIM), DIM, k, NAIVE_STEPS, 4096, 0);
// Extrapolation to N rows with the fast run's step count: steps cost per batch (independent of N), final pass scales with N.
const naiveExtrapolated = naive.stepSeconds * mini.iterations + naive.finalSeconds * (N / NAIVE_N);
console.log(`naive: ${naive.stepSeconds.toFixed(2)} s/step, final pass ${naive.finalSeconds.toFixed(1)} s on ${NAIVE_N} rows → ${naiveExtrapolated.toFixed(0)} s extrapolated`);

const fullK = chooseK(FULL_N);
const t1 = performance.now();
const full = sphericalKMeans(data.subarray(0, FULL_N * DIM), DIM, { k: fullK, seed: 0, miniBatch: false, threads: THREADS, engine: ENGINE });
const fullSeconds = (performance.now() - t1) / 1000;

const rows = [
  { run: `mini-batch ${N}×${DIM}, k=${k}`, seconds: miniSeconds, iterations: mini.iterations, converged: mini.converged, inertia: mini.inertia, meanCosDistance: mini.inertia / N, peakRssMiB: miniRss },
  {
    run: `naive mini-batch, ${NAIVE_N} rows × ${NAIVE_STEPS} steps, extrapolated to ${N} rows × ${mini.iterations} steps`,
    seconds: naiveExtrapolated,
    iterations: mini.iterations,
    converged: null,
    inertia: null,
    meanCosDistance: null,
    peakRssMiB: null,
  },
  { run: `full-batch Lloyd ${FULL_N}×${DIM}, k=${fullK}`, seconds: fullSeconds, iterations: full.iterations, converged: full.converged, inertia: full.inertia, meanCosDistance: full.inertia / FULL_N, peakRssMiB: rssMiB() },
];
console.log("| run | s | iterations | converged | inertia | mean 1−cos | peak RSS MiB |");
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.run} | ${r.seconds.toFixed(1)} | ${r.iterations} | ${r.converged ?? "–"} | ${r.inertia?.toFixed(0) ?? "–"} | ${r.meanCosDistance?.toFixed(4) ?? "–"} | ${r.peakRssMiB?.toFixed(0) ?? "–"} |`,
  );
}
console.log(`speed-up vs naive (extrapolated): ${(naiveExtrapolated / miniSeconds).toFixed(2)}×; mini-batch final assignment pass ≈ ${miniFinalPassSeconds.toFixed(1)} s; goal < 300 s`);

const outPath = join(dirname(fileURLToPath(import.meta.url)), "..", "bench-results", "kmeans.json");
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(
  outPath,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      threads: THREADS === "auto" ? resolveThreads("auto") : THREADS,
      engine: mini.engine,
      n: N,
      dim: DIM,
      data: "seeded vMF-like mixture, 500 clusters, spread 1, seed 42 (generated in memory)",
      generateSeconds,
      miniBatch: { k, seconds: miniSeconds, finalPassSeconds: miniFinalPassSeconds, steps: mini.iterations, converged: mini.converged, inertia: mini.inertia, peakRssMiB: miniRss, goalSeconds: 300 },
      naiveBaseline: {
        note: `same mini-batch update with naive scalar loops and uniform seeding, measured on ${NAIVE_N} rows × ${NAIVE_STEPS} steps and extrapolated`,
        stepSeconds: naive.stepSeconds,
        finalPassSecondsMeasured: naive.finalSeconds,
        extrapolatedSeconds: naiveExtrapolated,
        speedup: naiveExtrapolated / miniSeconds,
      },
      fullBatch: { n: FULL_N, k: fullK, seconds: fullSeconds, iterations: full.iterations, converged: full.converged, inertia: full.inertia },
      peakRssMiB: rssMiB(),
      rows,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${outPath}`);
