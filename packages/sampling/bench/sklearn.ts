// sphericalKMeans vs scikit-learn's MiniBatchKMeans on the same data, k, batch size, step count and threads.
// The data (seeded vMF-like mixture) goes to a temporary .npy file that both sides read in child processes, run
// alternately (ours, sklearn, ours, sklearn, …); medians, time per step, peak RSS per child and the machine's load are
// reported, and bench-results/kmeans-vs-sklearn.json is written. Without scikit-learn it says so and times ours alone.
// Env: BENCH_SK_N rows (200000), BENCH_SK_K (316), BENCH_SK_EPOCHS (4: ≈ 4·n/4096 steps), BENCH_REPEATS (3),
// BENCH_THREADS (threads of both; "auto" = min(2, cores)), BENCH_ENGINE ("auto": onnxruntime when installed),
// BENCH_PYTHON (/usr/bin/python3, Debian's python3-sklearn).
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveThreads } from "@infialign/kernels";
import { writeNpyFloat32 } from "./npy.js";
import { vmfMixture } from "./vmfMixture.js";

const here = dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.BENCH_SK_N ?? 200_000);
const DIM = 256;
const K = Number(process.env.BENCH_SK_K ?? 316);
const BATCH = 4096;
const EPOCHS = Number(process.env.BENCH_SK_EPOCHS ?? 4);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const THREADS = resolveThreads(process.env.BENCH_THREADS && process.env.BENCH_THREADS !== "auto" ? Number(process.env.BENCH_THREADS) : "auto");
const ENGINE = process.env.BENCH_ENGINE ?? "auto";
const PYTHON = process.env.BENCH_PYTHON ?? "/usr/bin/python3";
const SEED = 0;

interface Run {
  seconds: number;
  steps: number;
  seedingSeconds: number;
  stepsSeconds: number;
  finalPassSeconds: number;
  /** Median and 10th/90th percentile of the single steps' times (steps 2…), ms. */
  stepMsP10: number;
  stepMsP50: number;
  stepMsP90: number;
  sphericalInertia: number;
  peakRssMiB: number;
  load1: number;
  [key: string]: unknown;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** Nearest-rank percentile, p in [0, 100]. */
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

function child(command: string, args: string[], env: NodeJS.ProcessEnv): Run {
  const load1 = loadavg()[0]!;
  const r = spawnSync(command, args, { env, encoding: "utf8", maxBuffer: 1 << 24 });
  const line = r.stdout?.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{")) throw new Error(`${command} ${args.join(" ")} failed (status ${r.status}):\n${r.stderr}`);
  const { stepMs, ...run } = JSON.parse(line) as Run & { stepMs: number[] };
  return { ...run, stepMsP10: percentile(stepMs, 10), stepMsP50: percentile(stepMs, 50), stepMsP90: percentile(stepMs, 90), load1 };
}

const { data } = vmfMixture({ n: N, dim: DIM, clusters: 500, spread: 1, seed: 42 });
const npy = join(tmpdir(), `infialign-kmeans-bench-${process.pid}.npy`);
writeNpyFloat32(npy, data, N, DIM);
const args = [npy, String(K), String(BATCH), String(EPOCHS), String(THREADS), String(SEED)];

// The BLAS tuning variables some environments set (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) slow numpy down: not for sklearn.
const pyEnv: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(THREADS), OPENBLAS_NUM_THREADS: String(THREADS), MKL_NUM_THREADS: String(THREADS) };
delete pyEnv.OPENBLAS_CORETYPE;
delete pyEnv.OPENBLAS_L2_SIZE;
const probe = spawnSync(PYTHON, ["-c", "import sklearn, threadpoolctl"], { env: pyEnv, encoding: "utf8" });
const haveSklearn = probe.status === 0;
if (!haveSklearn) console.log(`scikit-learn not available (${PYTHON}: ${(probe.stderr || String(probe.error)).trim().split("\n").pop()}); install python3-sklearn to compare. Timing ours alone.`);

const ours: Run[] = [];
const theirs: Run[] = [];
try {
  for (let i = 0; i < REPEATS; i++) {
    // process.execArgv carries tsx's loader flags to the child.
    ours.push(child(process.execPath, [...process.execArgv, join(here, "kmeansChild.ts"), ...args, ENGINE], process.env));
    console.log(`ours #${i + 1}: ${JSON.stringify(ours.at(-1))}`);
    if (haveSklearn) {
      theirs.push(child(PYTHON, [join(here, "sklearn_minibatch.py"), ...args], pyEnv));
      const { threadpools, ...rest } = theirs.at(-1)!;
      console.log(`sklearn #${i + 1}: ${JSON.stringify(rest)}`);
    }
  }
} finally {
  rmSync(npy, { force: true });
}

const summary = (runs: Run[]) =>
  runs.length === 0
    ? undefined
    : {
        runs: runs.length,
        steps: runs[0]!.steps,
        medianSeconds: median(runs.map((r) => r.seconds)),
        medianSecondsPerStep: median(runs.map((r) => r.seconds / r.steps)),
        medianSeedingSeconds: median(runs.map((r) => r.seedingSeconds)),
        // Steps 2… only (the first step ends the seeding phase): the mini-batch loop itself.
        medianStepSeconds: median(runs.map((r) => r.stepsSeconds / (r.steps - 1))),
        // The median single step of each run (robust to other jobs' bursts on a shared machine), median over runs.
        medianTypicalStepMs: median(runs.map((r) => r.stepMsP50)),
        medianFinalPassSeconds: median(runs.map((r) => r.finalPassSeconds)),
        medianPeakRssMiB: median(runs.map((r) => r.peakRssMiB)),
        sphericalInertia: runs[0]!.sphericalInertia,
        medianLoad1: median(runs.map((r) => r.load1)),
      };
const o = summary(ours)!;
const s = summary(theirs);
console.log(`\n${N}×${DIM} unit rows, k=${K}, batch ${BATCH}, ${EPOCHS} epochs (fixed steps), ${THREADS} threads, ${REPEATS} alternating runs, medians:`);
console.log("| run | steps | fit s | fit ms/step | seeding s | ms/step (steps 2…) | median step ms | final pass s | peak RSS MiB | 1 − cos inertia | load (1 min) |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
const row = (name: string, x: NonNullable<ReturnType<typeof summary>>) =>
  console.log(
    `| ${name} | ${x.steps} | ${x.medianSeconds.toFixed(2)} | ${(x.medianSecondsPerStep * 1000).toFixed(1)} | ${x.medianSeedingSeconds.toFixed(2)} | ${(x.medianStepSeconds * 1000).toFixed(1)} | ${x.medianTypicalStepMs.toFixed(1)} | ${x.medianFinalPassSeconds.toFixed(2)} | ${x.medianPeakRssMiB.toFixed(0)} | ${x.sphericalInertia.toFixed(0)} | ${x.medianLoad1.toFixed(1)} |`,
  );
row(`sphericalKMeans (engine ${String(ours[0]!.engine)})`, o);
let ratio: number | undefined;
let stepRatio: number | undefined;
let typicalStepRatio: number | undefined;
if (s) {
  row(`sklearn ${String(theirs[0]!.sklearn)} MiniBatchKMeans`, s);
  ratio = o.medianSecondsPerStep / s.medianSecondsPerStep;
  stepRatio = o.medianStepSeconds / s.medianStepSeconds;
  typicalStepRatio = o.medianTypicalStepMs / s.medianTypicalStepMs;
  const blas = (theirs[0]!.threadpools as { internal_api: string; version: string; architecture: string; num_threads: number }[]).map((p) => `${p.internal_api} ${p.version ?? ""} ${p.architecture ?? ""} (${p.num_threads} threads)`);
  console.log(
    `time per step ours / sklearn: ${stepRatio.toFixed(2)} for steps 2… alone (${typicalStepRatio.toFixed(2)} for the median step), ${ratio.toFixed(2)} for the whole fit (goal ≤ 1.00)`,
  );
  const tuning = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"].filter((v) => process.env[v] !== undefined).map((v) => `${v}=${process.env[v]}`);
  console.log(`sklearn thread pools: ${blas.join(", ")}${tuning.length ? ` (${tuning.join(", ")} of this environment unset for sklearn)` : ""}`);
}

const outPath = join(here, "..", "bench-results", "kmeans-vs-sklearn.json");
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(
  outPath,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      n: N,
      dim: DIM,
      k: K,
      batchSize: BATCH,
      epochs: EPOCHS,
      threads: THREADS,
      data: "seeded vMF-like mixture, 500 clusters, spread 1, seed 42, written to a temporary .npy file read by both",
      note: "medianSecondsPerStep = whole fit (seeding, steps, final assignment of all rows) / steps; medianStepSeconds = steps 2… alone (seeding ends with the first step); medianTypicalStepMs = median over runs of each run's median single step (stepMsP50); ours runs ceil(epochs·n/batch) steps, sklearn floor",
      ours: { ...o, runs: ours },
      sklearn: s ? { ...s, runs: theirs } : { skipped: `scikit-learn not importable by ${PYTHON}` },
      ratioPerStep: ratio,
      ratioPerStepLoopOnly: stepRatio,
      ratioMedianStep: typicalStepRatio,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${outPath}`);
