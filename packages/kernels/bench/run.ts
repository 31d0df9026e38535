// Vector kernels vs naive scalar loops, measured in the same run. Usage: pnpm bench (tsx bench/run.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../src/tfjs/backend.js";
import { getVectorEngine } from "../src/engine/vectorEngine.js";
import { assignNearest, cosineTopK, createRng, l2NormalizeRows, matmulTransposed } from "../src/vector/index.js";

const DIM = 256;

function randomUnit(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const data = new Float32Array(n * DIM);
  for (let i = 0; i < data.length; i++) data[i] = rng.nextGaussian();
  return l2NormalizeRows(data, DIM);
}

/** Single-accumulator dot product: the loop anyone would write first. */
function naiveDot(a: Float32Array, i: number, b: Float32Array, j: number): number {
  let s = 0;
  for (let d = 0; d < DIM; d++) s += a[i * DIM + d]! * b[j * DIM + d]!;
  return s;
}

function naiveMatmul(a: Float32Array, b: Float32Array): Float32Array {
  const na = a.length / DIM;
  const nb = b.length / DIM;
  const out = new Float32Array(na * nb);
  for (let i = 0; i < na; i++) for (let j = 0; j < nb; j++) out[i * nb + j] = naiveDot(a, i, b, j);
  return out;
}

function naiveAssign(rows: Float32Array, cents: Float32Array): Int32Array {
  const n = rows.length / DIM;
  const k = cents.length / DIM;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestS = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) {
      const s = naiveDot(rows, i, cents, j);
      if (s > bestS) {
        bestS = s;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}

function naiveTopK(q: Float32Array, keys: Float32Array, k: number): Int32Array {
  const nq = q.length / DIM;
  const nk = keys.length / DIM;
  const out = new Int32Array(nq * k);
  for (let i = 0; i < nq; i++) {
    const scored = Array.from({ length: nk }, (_, j) => ({ j, s: naiveDot(q, i, keys, j) }));
    scored.sort((x, y) => y.s - x.s || x.j - y.j);
    for (let t = 0; t < k; t++) out[i * k + t] = scored[t]!.j;
  }
  return out;
}

function time<T>(fn: () => T): { seconds: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { seconds: (performance.now() - t0) / 1000, value };
}

interface Row {
  kernel: string;
  shape: string;
  gflop: number;
  seconds: number;
  gflops: number;
  naiveSeconds: number;
  naiveGflops: number;
  speedup: number;
  agree: boolean;
}

const rows: Row[] = [];
function record(kernel: string, shape: string, flops: number, fast: { seconds: number }, naive: { seconds: number }, agree: boolean): void {
  rows.push({
    kernel,
    shape,
    gflop: flops / 1e9,
    seconds: fast.seconds,
    gflops: flops / fast.seconds / 1e9,
    naiveSeconds: naive.seconds,
    naiveGflops: flops / naive.seconds / 1e9,
    speedup: naive.seconds / fast.seconds,
    agree,
  });
}

{
  const a = randomUnit(2000, 1);
  const b = randomUnit(2000, 2);
  matmulTransposed(a.subarray(0, 64 * DIM), b, DIM); // warm-up (JIT)
  const fast = time(() => matmulTransposed(a, b, DIM));
  const naive = time(() => naiveMatmul(a, b));
  let maxErr = 0;
  for (let i = 0; i < fast.value.length; i++) maxErr = Math.max(maxErr, Math.abs(fast.value[i]! - naive.value[i]!));
  record("matmulTransposed", `2000×${DIM} · (2000×${DIM})ᵀ`, 2 * 2000 * 2000 * DIM, fast, naive, maxErr < 1e-4);
}
{
  const x = randomUnit(50_000, 3);
  const c = randomUnit(707, 4);
  assignNearest(x.subarray(0, 256 * DIM), c, DIM);
  const fast = time(() => assignNearest(x, c, DIM));
  const naive = time(() => naiveAssign(x, c));
  let same = 0;
  for (let i = 0; i < 50_000; i++) if (fast.value.assignments[i] === naive.value[i]) same++;
  record("assignNearest", `50000×${DIM} vs 707 centroids`, 2 * 50_000 * 707 * DIM, fast, naive, same / 50_000 > 0.999);
}
{
  const q = randomUnit(1000, 5);
  const keys = randomUnit(50_000, 6);
  cosineTopK(q.subarray(0, 16 * DIM), keys, DIM, 10, { engine: "js" });
  const fast = time(() => cosineTopK(q, keys, DIM, 10, { engine: "js" }));
  const naive = time(() => naiveTopK(q, keys, 10));
  let same = 0;
  for (let i = 0; i < naive.value.length; i++) if (fast.value.indices[i] === naive.value[i]) same++;
  record("cosineTopK (k=10)", `1000 queries × 50000 keys × ${DIM}`, 2 * 1000 * 50_000 * DIM, fast, naive, same / naive.value.length > 0.999);
}

// The tfjs path for the same product: upload both matrices, A·Bᵀ on the wasm backend (our XNNPACK kernels, then stock),
// download the result — what a data-side caller would pay to use tfjs instead of the Float32Array kernels.
interface TfjsRow {
  backend: string;
  shape: string;
  seconds: number;
  gflops: number;
  vsVector: number;
  agree: boolean;
}
const tfjsRows: TfjsRow[] = [];
{
  const a = randomUnit(2000, 1);
  const b = randomUnit(2000, 2);
  const flops = 2 * 2000 * 2000 * DIM;
  const reference = matmulTransposed(a, b, DIM);
  const vectorSeconds = rows[0]?.seconds ?? Number.NaN;
  for (const wasmKernels of [true, false]) {
    await selectBackend({ prefer: "wasm", wasmKernels });
    // dataSync outside tf.tidy: tidy walks a returned Float32Array element by element looking for tensors (seconds at 4M).
    const run = () => {
      const product = tf.tidy(() => tf.matMul(tf.tensor2d(a, [2000, DIM]), tf.tensor2d(b, [2000, DIM]), false, true));
      const values = product.dataSync() as Float32Array;
      product.dispose();
      return values;
    };
    run(); // warm-up: wasm compilation, XNNPACK operator creation
    const t = time(run);
    let maxErr = 0;
    for (let i = 0; i < reference.length; i++) maxErr = Math.max(maxErr, Math.abs(t.value[i]! - reference[i]!));
    tfjsRows.push({ backend: `tfjs wasm, ${wasmKernels ? "our kernels" : "stock kernels"}`, shape: `2000×${DIM} · (2000×${DIM})ᵀ`, seconds: t.seconds, gflops: flops / t.seconds / 1e9, vsVector: vectorSeconds / t.seconds, agree: maxErr < 1e-4 });
  }
}

// The same three products on the onnxruntime engine (onnxruntime-node's MLAS GEMM; median of 3 after a warm-up),
// compared with the Float32Array kernels' times above; skipped when onnxruntime-node cannot be loaded.
interface EngineRow {
  kernel: string;
  threads: number;
  seconds: number;
  gflops: number;
  vsVector: number;
  agree: boolean;
}
const engineRows: EngineRow[] = [];
let engineSkipped: string | undefined;
try {
  const x = randomUnit(50_000, 3);
  const c = randomUnit(707, 4);
  const a = randomUnit(2000, 1);
  const b = randomUnit(2000, 2);
  const q = randomUnit(1000, 5);
  const keys = randomUnit(50_000, 6);
  const matRef = matmulTransposed(a, b, DIM);
  const assignRef = assignNearest(x, c, DIM).assignments;
  const topRef = cosineTopK(q, keys, DIM, 10, { engine: "js" }).indices;
  for (const threads of [1, 2]) {
    const engine = getVectorEngine({ engine: "onnxruntime", threads });
    const median3 = <T>(fn: () => T) => {
      fn();
      const runs = [time(fn), time(fn), time(fn)].sort((u, v) => u.seconds - v.seconds);
      return runs[1]!;
    };
    const m = median3(() => engine.matmulTransposed(a, b, DIM));
    let maxErr = 0;
    for (let i = 0; i < matRef.length; i++) maxErr = Math.max(maxErr, Math.abs(m.value[i]! - matRef[i]!));
    const as = median3(() => engine.assignNearest(x, c, DIM));
    const t = median3(() => engine.cosineTopK(q, keys, DIM, 10));
    const agreeShare = (u: Int32Array, v: Int32Array) => u.reduce((acc, value, i) => acc + (value === v[i] ? 1 : 0), 0) / u.length;
    const add = (kernel: string, flops: number, run: { seconds: number }, vector: number, agree: boolean) =>
      engineRows.push({ kernel, threads, seconds: run.seconds, gflops: flops / run.seconds / 1e9, vsVector: vector / run.seconds, agree });
    add(rows[0]!.kernel, 2 * 2000 * 2000 * DIM, m, rows[0]!.seconds, maxErr < 1e-4);
    add(rows[1]!.kernel, 2 * 50_000 * 707 * DIM, as, rows[1]!.seconds, agreeShare(as.value.assignments, assignRef) > 0.999);
    add(rows[2]!.kernel, 2 * 1000 * 50_000 * DIM, t, rows[2]!.seconds, agreeShare(t.value.indices, topRef) > 0.999);
  }
} catch (error) {
  engineSkipped = String((error as Error).message);
}

const peakRssMiB = process.resourceUsage().maxRSS / 1024;
console.log("| kernel | shape | GFLOP | s | GFLOP/s | naive s | naive GFLOP/s | speed-up | agree |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.kernel} | ${r.shape} | ${r.gflop.toFixed(1)} | ${r.seconds.toFixed(2)} | ${r.naiveSeconds.toFixed(2)} | ${r.naiveGflops.toFixed(2)} | ${r.speedup.toFixed(2)}× | ${r.agree} |`.replace(`| ${r.seconds.toFixed(2)} | ${r.naiveSeconds.toFixed(2)}`, `| ${r.seconds.toFixed(2)} | ${r.gflops.toFixed(2)} | ${r.naiveSeconds.toFixed(2)}`),
  );
}
console.log("\n| matmulTransposed via | shape | s | GFLOP/s | vs Float32Array kernel | agree |");
console.log("|---|---|---|---|---|---|");
for (const r of tfjsRows) console.log(`| ${r.backend} | ${r.shape} | ${r.seconds.toFixed(3)} | ${r.gflops.toFixed(2)} | ${r.vsVector.toFixed(2)}× | ${r.agree} |`);
console.log("\n| onnxruntime engine | threads | s | GFLOP/s | vs Float32Array kernel (1 thread) | agree |");
console.log("|---|---|---|---|---|---|");
for (const r of engineRows) console.log(`| ${r.kernel} | ${r.threads} | ${r.seconds.toFixed(3)} | ${r.gflops.toFixed(1)} | ${r.vsVector.toFixed(1)}× | ${r.agree} |`);
if (engineSkipped) console.log(`onnxruntime engine skipped: ${engineSkipped}`);
console.log(`peak RSS ${peakRssMiB.toFixed(0)} MiB`);
const outPath = join(dirname(fileURLToPath(import.meta.url)), "..", "bench-results", "vector.json");
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, dim: DIM, threads: 1, peakRssMiB, rows, tfjs: tfjsRows, onnxruntimeEngine: engineSkipped ? { skipped: engineSkipped } : engineRows }, null, 2)}\n`);
