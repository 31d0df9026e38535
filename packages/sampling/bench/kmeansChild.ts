// One timed sphericalKMeans run on a .npy file, for bench/sklearn.ts (a child process, so its peak RSS is its own);
// prints one JSON line. Usage: tsx kmeansChild.ts DATA.npy K BATCH EPOCHS THREADS SEED ENGINE
import type { VectorEngineChoice } from "@infialign/kernels";
import { sphericalKMeans } from "../src/cluster/index.js";
import { readNpyFloat32 } from "./npy.js";

const [path, k, batchSize, epochs, threads, seed, engine] = process.argv.slice(2);
const { data, cols } = readNpyFloat32(path!);
let firstStepAt = 0;
let lastStepAt = 0;
const stepMs: number[] = [];
const t0 = performance.now();
// Fixed step count as sklearn's with tol=0 and max_no_improvement=None: no early stop, ceil(epochs · n / batch) steps.
const r = sphericalKMeans(data, cols, {
  k: Number(k),
  batchSize: Number(batchSize),
  maxIter: Number(epochs),
  tol: 0,
  maxNoImprovement: Number.MAX_SAFE_INTEGER,
  miniBatch: true,
  threads: Number(threads),
  seed: Number(seed),
  engine: engine as VectorEngineChoice,
  onProgress: (p) => {
    const now = performance.now();
    if (p.iteration > 1) stepMs.push(now - lastStepAt);
    lastStepAt = now;
    if (p.iteration === 1) firstStepAt = lastStepAt;
  },
});
const end = performance.now();
console.log(
  JSON.stringify({
    seconds: (end - t0) / 1000,
    steps: r.iterations,
    // Seeding (sample, k-means++ and the first step's assignment), steps 2…, final assignment of all rows.
    seedingSeconds: (firstStepAt - t0) / 1000,
    stepsSeconds: (lastStepAt - firstStepAt) / 1000,
    finalPassSeconds: (end - lastStepAt) / 1000,
    // Each step's own time (steps 2…): its median is robust to the bursts of other jobs on a shared machine.
    stepMs,
    sphericalInertia: r.inertia,
    engine: r.engine,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  }),
);
