// Training throughput of Qwen2Model on the wasm backend: tokens/s, peak RSS, and the fraction of the backend's own matmul
// FLOP/s (measured in the same process) that a full Adam step reaches, with the stock wasm kernels and with ours
// (selectBackend's `wasmKernels` option of @infialign/kernels/tfjs). Each measurement runs in its own child process (same
// Node flags, so under tsx too), so peak RSS (getrusage maxrss, which never goes down) belongs to one variant. Plain tfjs
// ops' gradients come from registerTfjsGradients (tfjs-core's own register_all_gradients module does not load in Node).
//
// Model FLOPs per step (useful work, as PaLM's MFU, Chowdhery et al. 2022, App. B):
//   6 · N · tokens + 6 · layers · hidden · seq² · batch
// N = parameters used in matmuls (countParameters minus the input embedding when it is untied: a lookup costs no FLOPs);
// the second term is attention's QKᵀ and PV products, forward + backward (×3), causal half of 2·2·seq²·hidden per layer.
// Rematerialisation (the attention backward recomputes QKᵀ) and elementwise ops are not counted.
//
// Usage: tsx bench/train.ts [--configs small,large] [--variants stock,ours] [--seq 256] [--batch 8] [--steps 3]
//   [--out bench-results/train.json] [--profile]
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runBenchChild } from "@infialign/test-utils";

interface Row {
  config: string;
  variant: "stock" | "ours";
  params: number;
  matmulParams: number;
  layers: number;
  hidden: number;
  vocab: number;
  seq: number;
  batch: number;
  steps: number;
  msPerStep: number;
  tokensPerSecond: number;
  modelGflopPerStep: number;
  achievedGflops: number;
  matmulGflops: number;
  /** achievedGflops / matmulGflops (wall clock). */
  rooflineFraction: number;
  /** CPU time of this process per step (one compute thread: equals wall time on an idle machine). */
  cpuMsPerStep: number;
  /** Matmul GFLOP/s per CPU-second. */
  matmulCpuGflops: number;
  /** The model's FLOPs per CPU-second over matmulCpuGflops: the roofline fraction with other processes' load removed. */
  cpuRooflineFraction: number;
  peakRssMiB: number;
  loss: number;
  /** Top kernels by time over one step (with --profile). */
  profile?: Array<{ kernel: string; ms: number; calls: number }>;
}

/**
 * HF config.json fields of the benchmarked shapes: head dim 64 and GQA as Qwen2.5-0.5B (14 heads, 2 kv heads, d 64),
 * tied embeddings as Qwen2.5's small models, MLP ratio 3.5 (Qwen2.5-0.5B: 4864 / 896 ≈ 5.4, rounded down for size).
 */
const CONFIGS: Record<string, Record<string, unknown>> = {
  small: { vocab_size: 512, hidden_size: 128, intermediate_size: 448, num_hidden_layers: 5, num_attention_heads: 2, num_key_value_heads: 1, tie_word_embeddings: true },
  large: { vocab_size: 2048, hidden_size: 256, intermediate_size: 896, num_hidden_layers: 8, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true },
};

const { values } = parseArgs({
  options: {
    configs: { type: "string", default: "small,large" },
    variants: { type: "string", default: "stock,ours" },
    seq: { type: "string", default: "256" },
    batch: { type: "string", default: "8" },
    steps: { type: "string", default: "3" },
    out: { type: "string", default: "bench-results/train.json" },
    profile: { type: "boolean", default: false },
    child: { type: "string" },
  },
});
const seq = Number(values.seq);
const batch = Number(values.batch);
const steps = Number(values.steps);

async function measure(configName: string, variant: Row["variant"]): Promise<Row> {
  const tf = await import("@tensorflow/tfjs-core");
  const kernels = await import("@infialign/kernels/tfjs");
  kernels.registerTfjsGradients();
  const info = await kernels.selectBackend({ prefer: "wasm", wasmKernels: variant === "ours" });
  if (info.wasmKernels !== (variant === "ours")) throw new Error(`[infialign/model] bench/train: asked for ${variant} wasm kernels, selectBackend reports wasmKernels=${info.wasmKernels}.`);
  const { parseQwen2Config, countParameters } = await import("../src/config.js");
  const { Qwen2Model } = await import("../src/qwen2/model.js");
  const config = parseQwen2Config({ ...CONFIGS[configName], max_position_embeddings: Math.max(seq, 512) }, `bench config ${configName}`);
  // The machine is shared (other processes take turns on its cores), so the rates are also computed per CPU-second of
  // this process: the wasm backend computes on one thread, so CPU time is the time it actually ran. The matmul rate is
  // measured before and after the timed steps and the higher one is the roofline (a conservative fraction).
  const matmul = async () => {
    // A first call pays for one-off setup (kernel and XNNPACK operator creation) outside the CPU-time window.
    await kernels.measureMatmulGflops(512, 1);
    const c0 = process.cpuUsage();
    const wall = await kernels.measureMatmulGflops(512, 10);
    const c = process.cpuUsage(c0);
    // measureMatmulGflops runs one warm-up product and 10 timed ones, all now equally warm.
    return { wall, cpu: (2 * 512 ** 3 * 11) / ((c.user + c.system) / 1e6) / 1e9 };
  };
  const matmulBefore = await matmul();
  const model = Qwen2Model.init(config, { seed: 1 });
  const optimizer = tf.train.adam(1e-3);
  let state = 12345;
  const ids = () => {
    const out = new Int32Array(batch * seq);
    for (let i = 0; i < out.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      out[i] = state % config.vocabSize;
    }
    return out;
  };
  let lastLoss = 0;
  const step = () => {
    const data = ids();
    const cost = optimizer.minimize(
      () =>
        tf.tidy(() => {
          const inputIds = tf.tensor2d(data, [batch, seq], "int32");
          return model.loss({ inputIds, labels: inputIds }).loss;
        }),
      true,
      model.trainableVariables,
    );
    lastLoss = (cost?.dataSync()[0] as number) ?? Number.NaN;
    cost?.dispose();
  };
  step();
  let profile: Row["profile"];
  if (values.profile) {
    const info = await tf.profile(() => step());
    const byKernel = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
      e.calls++;
      byKernel.set(k.name, e);
    }
    profile = [...byKernel.entries()]
      .map(([kernel, e]) => ({ kernel, ms: Math.round(e.ms), calls: e.calls }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 15);
  }
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) step();
  const msPerStep = (performance.now() - t0) / steps;
  const c = process.cpuUsage(c0);
  const cpuMsPerStep = (c.user + c.system) / 1000 / steps;
  const matmulAfter = await matmul();
  const matmulGflops = Math.max(matmulBefore.wall, matmulAfter.wall);
  const matmulCpuGflops = Math.max(matmulBefore.cpu, matmulAfter.cpu);
  const params = countParameters(config);
  const matmulParams = params - (config.tieWordEmbeddings ? 0 : config.vocabSize * config.hiddenSize);
  const tokens = batch * seq;
  const flops = 6 * matmulParams * tokens + 6 * config.numHiddenLayers * config.hiddenSize * seq * seq * batch;
  const achievedGflops = flops / (msPerStep / 1000) / 1e9;
  const achievedCpuGflops = flops / (cpuMsPerStep / 1000) / 1e9;
  optimizer.dispose();
  model.dispose();
  return {
    config: configName,
    variant,
    params,
    matmulParams,
    layers: config.numHiddenLayers,
    hidden: config.hiddenSize,
    vocab: config.vocabSize,
    seq,
    batch,
    steps,
    msPerStep: Math.round(msPerStep),
    tokensPerSecond: Math.round(tokens / (msPerStep / 1000)),
    modelGflopPerStep: Number((flops / 1e9).toFixed(2)),
    achievedGflops: Number(achievedGflops.toFixed(2)),
    matmulGflops: Number(matmulGflops.toFixed(1)),
    rooflineFraction: Number((achievedGflops / matmulGflops).toFixed(3)),
    cpuMsPerStep: Math.round(cpuMsPerStep),
    matmulCpuGflops: Number(matmulCpuGflops.toFixed(1)),
    cpuRooflineFraction: Number((achievedCpuGflops / matmulCpuGflops).toFixed(3)),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    loss: Number(lastLoss.toFixed(4)),
    ...(profile === undefined ? {} : { profile }),
  };
}

if (values.child !== undefined) {
  const [configName, variant] = values.child.split(":") as [string, Row["variant"]];
  process.stdout.write(`${JSON.stringify(await measure(configName, variant))}\n`);
} else {
  const rows: Array<Row | { config: string; variant: string; error: string }> = [];
  const self = fileURLToPath(import.meta.url);
  for (const configName of String(values.configs).split(",")) {
    if (CONFIGS[configName] === undefined) throw new Error(`[infialign/model] bench/train: unknown config "${configName}"; choose from ${Object.keys(CONFIGS).join(", ")}.`);
    for (const variant of String(values.variants).split(",") as Array<Row["variant"]>) {
      const args = [...process.execArgv, self, "--child", `${configName}:${variant}`, "--seq", String(seq), "--batch", String(batch), "--steps", String(steps), ...(values.profile ? ["--profile"] : [])];
      const result = runBenchChild<Row>(args);
      if ("error" in result) {
        rows.push({ config: configName, variant, error: result.error });
        console.log(`${configName} ${variant}: FAILED ${result.error}`);
        continue;
      }
      const row = result.value;
      rows.push(row);
      console.log(
        `${configName} ${variant}: ${row.tokensPerSecond} tokens/s, ${row.achievedGflops} GFLOP/s = ${(100 * row.rooflineFraction).toFixed(1)}% of ${row.matmulGflops} (per CPU-second: ${(100 * row.cpuRooflineFraction).toFixed(1)}%), peak RSS ${row.peakRssMiB} MiB`,
      );
      if (row.profile) console.log(row.profile.map((p) => `  ${p.kernel}: ${p.ms} ms (${p.calls} calls)`).join("\n"));
    }
  }
  console.log("\n| config | params | kernels | batch×seq | ms/step (CPU ms) | tokens/s | model GFLOP/s | matmul GFLOP/s | % of roofline (per CPU-s) | peak RSS MiB |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    if ("error" in r) {
      console.log(`| ${r.config} | | ${r.variant} | | failed: ${r.error} | | | | | |`);
      continue;
    }
    console.log(
      `| ${r.config} | ${(r.params / 1e6).toFixed(2)}M | ${r.variant} | ${r.batch}×${r.seq} | ${r.msPerStep} (${r.cpuMsPerStep}) | ${r.tokensPerSecond} | ${r.achievedGflops} | ${r.matmulGflops} | ${(100 * r.rooflineFraction).toFixed(1)}% (${(100 * r.cpuRooflineFraction).toFixed(1)}%) | ${r.peakRssMiB} |`,
    );
  }
  const file = resolve(dirname(self), "..", String(values.out));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ node: process.version, date: new Date().toISOString(), flops: "6·N·tokens + 6·layers·hidden·seq²·batch", rows }, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}
