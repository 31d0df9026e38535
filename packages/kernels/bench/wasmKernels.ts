// Stock tfjs-backend-wasm kernels vs ours (installWasmKernels) in one process: GFLOP/s of the matrix products of a
// small decoder training step, Slice time, and forward+backward tokens/s of a 2-layer toy transformer built from
// @infialign/kernels/tfjs ops. Usage: npx tsx bench/wasmKernels.ts  (writes bench-results/wasm-kernels.json).
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../src/tfjs/backend.js";
import { registerTfjsGradients } from "../src/tfjs/gradients.js";
import { causalAttention } from "../src/tfjs/ops/attention.js";
import { chunkedCrossEntropy } from "../src/tfjs/ops/crossEntropy.js";
import { embeddingLookup } from "../src/tfjs/ops/embedding.js";
import { rmsNorm } from "../src/tfjs/ops/rmsNorm.js";
import { applyRope, type RopeTables, ropeTables } from "../src/tfjs/ops/rope.js";
import { swiglu } from "../src/tfjs/ops/swiglu.js";
import { installWasmKernels, uninstallWasmKernels } from "../src/tfjs/wasm/kernels.js";

/** The toy decoder: Qwen2-shaped (GQA, RoPE, SwiGLU, RMSNorm, tied LM head), ~1.6M parameters. */
const TOY = { vocab: 512, hidden: 256, heads: 4, kvHeads: 2, intermediate: 688, layers: 2, batch: 4, seq: 256 } as const;
const HEAD_DIM = TOY.hidden / TOY.heads;
const TOKENS = TOY.batch * TOY.seq;

type Kernels = "stock" | "ours";
function use(kernels: Kernels): void {
  if (kernels === "ours") installWasmKernels();
  else uninstallWasmKernels();
}

/** Calls made by timeIt so far, warm-ups included. */
let timedCalls = 0;

/** Seconds per call of `f` (its result read back), after one warm-up call, over at least `minSeconds` and 2 calls. */
function timeIt(f: () => tf.Tensor | tf.Tensor[], minSeconds: number): number {
  const once = () => {
    const out = f();
    const list = Array.isArray(out) ? out : [out];
    for (const t of list) t.dataSync();
    tf.dispose(list);
    timedCalls++;
  };
  once();
  let calls = 0;
  const t0 = performance.now();
  while (calls < 2 || performance.now() - t0 < minSeconds * 1000) {
    once();
    calls++;
  }
  return (performance.now() - t0) / 1000 / calls;
}

// ---- 1. The products of one training step (hidden 256, seq 256, batch 4, 4 heads of 64) ----
interface ProductCase {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}
const N = TOKENS;
const H = TOY.hidden;
const BH = TOY.batch * TOY.heads;
const PRODUCTS: ProductCase[] = [
  { name: "x·Wᵀ (linear forward, 2-D)", a: [N, H], b: [H, H], transposeA: false, transposeB: true },
  { name: "x·Wᵀ (linear forward, [b,s,h] input)", a: [TOY.batch, TOY.seq, H], b: [H, H], transposeA: false, transposeB: true },
  { name: "dy·W (input gradient)", a: [N, H], b: [H, H], transposeA: false, transposeB: false },
  { name: "dyᵀ·x (weight gradient)", a: [N, H], b: [N, H], transposeA: true, transposeB: false },
  { name: "x·W_upᵀ (MLP 256→688)", a: [N, H], b: [TOY.intermediate, H], transposeA: false, transposeB: true },
  { name: "q·kᵀ (attention scores, batched)", a: [BH, TOY.seq, HEAD_DIM], b: [BH, TOY.seq, HEAD_DIM], transposeA: false, transposeB: true },
  { name: "p·v (attention output, batched)", a: [BH, TOY.seq, TOY.seq], b: [BH, TOY.seq, HEAD_DIM], transposeA: false, transposeB: false },
  { name: "dpᵀ·q-style (batched, transposeA)", a: [BH, TOY.seq, TOY.seq], b: [BH, TOY.seq, HEAD_DIM], transposeA: true, transposeB: false },
];

function flops(c: ProductCase): number {
  const ra = c.a.length;
  const m = (c.transposeA ? c.a[ra - 1] : c.a[ra - 2]) as number;
  const k = (c.transposeA ? c.a[ra - 2] : c.a[ra - 1]) as number;
  const rb = c.b.length;
  const n = (c.transposeB ? c.b[rb - 2] : c.b[rb - 1]) as number;
  const batch = Math.max(tf.util.sizeFromShape(c.a.slice(0, -2)), tf.util.sizeFromShape(c.b.slice(0, -2)));
  return 2 * batch * m * k * n;
}

// ---- 2. Slice: one third of a fused qkv activation, one row of an embedding table ----
const SLICES = [
  { name: "qkv[:, :, h:2h] of [4,256,768]", shape: [TOY.batch, TOY.seq, 3 * H], begin: [0, 0, H], size: [-1, -1, H] },
  { name: "row 7 of a [32000,256] table", shape: [32000, H], begin: [7, 0], size: [1, -1] },
  { name: "head 1 of [4,4,256,64]", shape: [TOY.batch, TOY.heads, TOY.seq, HEAD_DIM], begin: [0, 1, 0, 0], size: [-1, 1, -1, -1] },
];

// ---- 3. Toy transformer forward + backward ----
function initToy(): { params: tf.Tensor[]; rope: RopeTables; ids: tf.Tensor; labels: tf.Tensor; positions: tf.Tensor } {
  let seed = 1;
  const w = (shape: number[]) => tf.randomNormal(shape, 0, 0.02, "float32", seed++);
  const params: tf.Tensor[] = [w([TOY.vocab, H])];
  const kv = TOY.kvHeads * HEAD_DIM;
  for (let l = 0; l < TOY.layers; l++) {
    params.push(tf.ones([H]), w([H, H]), tf.zeros([H]), w([kv, H]), tf.zeros([kv]), w([kv, H]), tf.zeros([kv]), w([H, H]), tf.ones([H]), w([TOY.intermediate, H]), w([TOY.intermediate, H]), w([H, TOY.intermediate]));
  }
  params.push(tf.ones([H]));
  const ids = tf.randomUniformInt([TOY.batch, TOY.seq], 0, TOY.vocab, 5);
  const labels = tf.concat([tf.slice(ids, [0, 1], [-1, -1]), tf.fill([TOY.batch, 1], -100, "int32")], 1);
  const positions = tf.tensor2d([Array.from({ length: TOY.seq }, (_, i) => i)], [1, TOY.seq], "int32");
  return { params, rope: ropeTables(HEAD_DIM, TOY.seq), ids, labels: tf.reshape(labels, [-1]), positions };
}

/** Linear layer in Hugging Face layout: x [n, in] · Wᵀ (W is [out, in]) + bias. */
function linear(x: tf.Tensor, w: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const y = tf.matMul(x, w, false, true);
  return bias === undefined ? y : tf.add(y, bias);
}

function toyLoss(params: tf.Tensor[], rope: RopeTables, ids: tf.Tensor, labels: tf.Tensor, positions: tf.Tensor): tf.Scalar {
  const [embed, ...rest] = params as [tf.Tensor, ...tf.Tensor[]];
  const { batch: B, seq: S } = TOY;
  const heads = (x: tf.Tensor, n: number) => tf.transpose(tf.reshape(x, [B, S, n, HEAD_DIM]), [0, 2, 1, 3]);
  let h = tf.reshape(embeddingLookup(embed, ids), [B * S, H]);
  for (let l = 0; l < TOY.layers; l++) {
    // initToy's order: input norm, q, q bias, k, k bias, v, v bias, o, post-attention norm, gate, up, down.
    const [inputNorm, q, qBias, k, kBias, v, vBias, o, postNorm, gate, up, down] = rest.slice(12 * l, 12 * l + 12) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const x = rmsNorm(h, inputNorm);
    const qh = applyRope(heads(linear(x, q, qBias), TOY.heads), rope, positions);
    const kh = applyRope(heads(linear(x, k, kBias), TOY.kvHeads), rope, positions);
    const vh = heads(linear(x, v, vBias), TOY.kvHeads);
    const attn = tf.reshape(tf.transpose(causalAttention(qh, kh, vh), [0, 2, 1, 3]), [B * S, H]);
    h = tf.add(h, linear(attn, o));
    const y = rmsNorm(h, postNorm);
    h = tf.add(h, linear(swiglu(linear(y, gate), linear(y, up)), down));
  }
  return chunkedCrossEntropy(rmsNorm(h, rest[rest.length - 1] as tf.Tensor), embed, labels);
}

/** 6 × matmul parameters × tokens + attention (4 · seq² · hidden per layer and sequence, forward; ×3 with backward). */
function toyStepFlops(): number {
  const kv = TOY.kvHeads * HEAD_DIM;
  const perLayer = H * H * 2 + kv * H * 2 + TOY.intermediate * H * 3;
  const matmulParams = TOY.layers * perLayer + TOY.vocab * H;
  const attention = 3 * TOY.layers * TOY.batch * 4 * TOY.seq * TOY.seq * H;
  return 6 * matmulParams * TOKENS + attention;
}

// ---- run ----
const loadBefore = loadavg()[0] as number;
await selectBackend({ prefer: "wasm", threads: 1 });
registerTfjsGradients();
const ORDER: Kernels[] = ["ours", "stock"];
const ROUNDS = 2;

const productRows = PRODUCTS.map((c) => {
  const a = tf.randomUniform(c.a, -1, 1, "float32", 1);
  const b = tf.randomUniform(c.b, -1, 1, "float32", 2);
  const gflops: Record<Kernels, number> = { ours: 0, stock: 0 };
  // Best of alternating rounds: the machine is shared, and a neighbour's burst should not decide a ratio.
  for (let round = 0; round < ROUNDS; round++) {
    for (const kernels of ORDER) {
      use(kernels);
      gflops[kernels] = Math.max(gflops[kernels], flops(c) / timeIt(() => tf.matMul(a, b, c.transposeA, c.transposeB), 0.2) / 1e9);
    }
  }
  tf.dispose([a, b]);
  return { name: c.name, a: c.a, b: c.b, transposeA: c.transposeA, transposeB: c.transposeB, gflops, ratio: gflops.ours / gflops.stock };
});

const sliceRows = SLICES.map((c) => {
  const x = tf.randomUniform(c.shape, -1, 1, "float32", 3);
  const ms: Record<Kernels, number> = { ours: Number.POSITIVE_INFINITY, stock: Number.POSITIVE_INFINITY };
  for (let round = 0; round < ROUNDS; round++) {
    for (const kernels of ORDER) {
      use(kernels);
      ms[kernels] = Math.min(ms[kernels], 1000 * timeIt(() => tf.slice(x, c.begin, c.size), 0.1));
    }
  }
  x.dispose();
  return { name: c.name, ms, ratio: ms.stock / ms.ours };
});

const toy = initToy();
const grad = tf.grads((...ps: tf.Tensor[]) => toyLoss(ps, toy.rope, toy.ids, toy.labels, toy.positions));
const stepFlops = toyStepFlops();
interface TrainRow {
  config: string;
  secondsPerStep: number;
  /** Process CPU seconds per step: on a shared machine the load steals wall time, much less CPU time. */
  cpuSecondsPerStep: number;
  tokensPerSecond: number;
  gflops: number;
  maxRssMiB: number;
}
const trainRows: TrainRow[] = [];
function trainRow(config: string, step: () => tf.Tensor[], minSeconds: number): TrainRow {
  const cpu0 = process.cpuUsage();
  const calls0 = timedCalls;
  const seconds = timeIt(step, minSeconds);
  const cpu = process.cpuUsage(cpu0);
  // timeIt's warm-up call is in the CPU time too: divide by all calls.
  const cpuSecondsPerStep = (cpu.user + cpu.system) / 1e6 / (timedCalls - calls0);
  return { config, secondsPerStep: seconds, cpuSecondsPerStep, tokensPerSecond: TOKENS / seconds, gflops: stepFlops / seconds / 1e9, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
}
const STEPS: Record<Kernels, number> = { ours: 1.5, stock: 4 };
for (const kernels of ORDER) {
  use(kernels);
  trainRows.push(trainRow(`${kernels}, 1 thread`, () => grad(toy.params), STEPS[kernels]));
}
// Ours on the threaded build (selectBackend's 2-thread wasm), for the record: tensors do not survive a backend switch.
tf.dispose([toy.params, toy.ids, toy.labels, toy.positions, toy.rope.cos, toy.rope.sin, toy.rope.rotateHalf]);
const threaded = await selectBackend({ prefer: "wasm", threads: 2 });
if (threaded.threads > 1) {
  use("ours");
  const toy2 = initToy();
  const grad2 = tf.grads((...ps: tf.Tensor[]) => toyLoss(ps, toy2.rope, toy2.ids, toy2.labels, toy2.positions));
  trainRows.push(trainRow(`ours, ${threaded.threads} threads`, () => grad2(toy2.params), 1.5));
}
uninstallWasmKernels();

console.log("| product | a | b | tA | tB | stock GFLOP/s | ours GFLOP/s | ours/stock |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of productRows) console.log(`| ${r.name} | [${r.a}] | [${r.b}] | ${r.transposeA} | ${r.transposeB} | ${r.gflops.stock.toFixed(1)} | ${r.gflops.ours.toFixed(1)} | ${r.ratio.toFixed(1)}× |`);
console.log("\n| slice | stock ms | ours ms | stock/ours |");
console.log("|---|---|---|---|");
for (const r of sliceRows) console.log(`| ${r.name} | ${r.ms.stock.toFixed(3)} | ${r.ms.ours.toFixed(3)} | ${r.ratio.toFixed(1)}× |`);
const base = trainRows.find((r) => r.config.startsWith("stock"))?.tokensPerSecond ?? Number.NaN;
console.log(`\nToy decoder forward+backward (${JSON.stringify(TOY)}; ${(stepFlops / 1e9).toFixed(2)} GFLOP per step):`);
const baseCpu = trainRows.find((r) => r.config.startsWith("stock"))?.cpuSecondsPerStep ?? Number.NaN;
console.log("| kernels | s/step | tokens/s | GFLOP/s | vs stock | CPU s/step | tokens per CPU-s | vs stock (CPU) | max RSS so far (MiB) |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of trainRows) {
  console.log(
    `| ${r.config} | ${r.secondsPerStep.toFixed(3)} | ${r.tokensPerSecond.toFixed(0)} | ${r.gflops.toFixed(1)} | ${(r.tokensPerSecond / base).toFixed(1)}× | ${r.cpuSecondsPerStep.toFixed(3)} | ${(TOKENS / r.cpuSecondsPerStep).toFixed(0)} | ${(baseCpu / r.cpuSecondsPerStep).toFixed(1)}× | ${r.maxRssMiB.toFixed(0)} |`,
  );
}
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
console.log(`peak RSS ${peakRssMiB.toFixed(0)} MiB (ours ran first, so "max RSS so far" after it is ours' peak); ${availableParallelism()} CPUs; 1-min load average ${loadBefore.toFixed(2)} before, ${(loadavg()[0] as number).toFixed(2)} after`);

const outPath = join(dirname(fileURLToPath(import.meta.url)), "..", "bench-results", "wasm-kernels.json");
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(
  outPath,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: availableParallelism(), loadAverage: { before: loadBefore, after: loadavg()[0] }, toy: TOY, stepGflop: stepFlops / 1e9, peakRssMiB, products: productRows, slices: sliceRows, training: trainRows }, null, 2)}\n`,
);
console.log(`wrote ${outPath}`);
