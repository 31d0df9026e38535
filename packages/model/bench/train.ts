// Training throughput of Qwen2Model against PyTorch: tokens/s, model GFLOP/s and peak RSS of a full AdamW step on the
// onnxruntime training engine (`onnxruntime`: the trainers' default) and on the tfjs engine over the wasm backend with
// our kernels (`ours`) or tfjs' stock ones (`stock`); secondary, the fraction of the wasm backend's own matmul FLOP/s
// (measured in the same process) that the step reaches. Each measurement runs in its own child process (same
// Node flags, so under tsx too), so peak RSS (getrusage maxrss, which never goes down) belongs to one variant. Plain tfjs
// ops' gradients come from registerTfjsGradients (tfjs-core's own register_all_gradients module does not load in Node).
//
// Model FLOPs per step (useful work, as PaLM's MFU, Chowdhery et al. 2022, App. B):
//   6 · N · tokens + 6 · layers · hidden · seq² · batch
// N = parameters used in matmuls (countParameters minus the input embedding when it is untied: a lookup costs no FLOPs);
// the second term is attention's QKᵀ and PV products, forward + backward (×3), causal half of 2·2·seq²·hidden per layer.
// Rematerialisation (the attention backward recomputes QKᵀ) and elementwise ops are not counted.
//
// Baseline: the same model and step in PyTorch (bench/torch_train.py, run with --python, Debian's /usr/bin/python3 by
// default), in the same run: for each shape and thread count the variants and torch alternate (ours, torch, ours, torch,
// --reps times each) in separate processes, so a change in the shared machine's load hits both; the table shows medians.
//
// Usage: tsx bench/train.ts [--configs small,large] [--variants onnxruntime,ours] [--threads 1,2] [--reps 2] [--seq 256] [--long]
//   [--batch 8] [--steps 3] [--python /usr/bin/python3] [--out bench-results/train.json] [--profile]
// --long adds the seq-1024 shapes (small-long, large-long) to --configs.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { adamwUpdate } from "@infialign/kernels";
import { runBenchChild } from "@infialign/test-utils";

interface Row {
  config: string;
  /** stock / ours: the tfjs engine on wasm with tfjs' or our kernels; onnxruntime: the onnxruntime training engine. */
  variant: "stock" | "ours" | "onnxruntime";
  /** Threads the wasm backend computed with. */
  threads: number;
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
    variants: { type: "string", default: "onnxruntime,ours" },
    threads: { type: "string", default: "1,2" },
    reps: { type: "string", default: "2" },
    long: { type: "boolean", default: false },
    python: { type: "string", default: "/usr/bin/python3" },
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

/** Sequence length of a shape: its own for the `-long` shapes, else --seq. */
const seqOf = (configName: string): number => (configName.endsWith("-long") ? 1024 : seq);
const baseConfig = (configName: string): string => configName.replace(/-long$/, "");

async function measure(configName: string, variant: Row["variant"], threads: number): Promise<Row> {
  const tf = await import("@tensorflow/tfjs-core");
  const kernels = await import("@infialign/kernels/tfjs");
  kernels.registerTfjsGradients();
  const onnx = variant === "onnxruntime";
  // The onnxruntime engine computes on its own threads; tfjs then only holds the weights and runs the optimizer.
  const info = await kernels.selectBackend({ prefer: "wasm", wasmKernels: variant !== "stock", threads: onnx ? 1 : threads });
  if (onnx) {
    /* threads belong to onnxruntime */
  } else if (info.threads !== threads) throw new Error(`[infialign/model] bench/train: asked for ${threads} wasm threads, selectBackend reports ${info.threads}.`);
  if (info.wasmKernels !== (variant !== "stock")) throw new Error(`[infialign/model] bench/train: asked for ${variant} wasm kernels, selectBackend reports wasmKernels=${info.wasmKernels}.`);
  const { parseQwen2Config, countParameters } = await import("../src/config.js");
  const { Qwen2Model } = await import("../src/qwen2/model.js");
  const seq = seqOf(configName);
  const config = parseQwen2Config({ ...CONFIGS[baseConfig(configName)], max_position_embeddings: Math.max(seq, 512) }, `bench config ${configName}`);
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
  const engine = onnx ? await (await import("../src/train/onnx.js")).OnnxTrainingEngine.create(model, { threads }) : undefined;
  // The trainers' step on the onnxruntime engine: gradients from the engine, then AdamW on the host in one fused pass
  // per parameter (@infialign/kernels' adamwUpdate, as @infialign/train-sft's AdamW.stepHost runs it), assigned back.
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  let adamSteps = 0;
  const onnxStep = async () => {
    const data = ids();
    const scored = batch * (seq - 1);
    const { objective, grads } = await (engine as NonNullable<typeof engine>).gradients({ inputIds: data, labels: data, batch, seq }, new Float32Array(batch * seq).fill(-1 / scored));
    adamSteps += 1;
    for (const [name, variable] of model.variables) {
      const g = grads.get(name)!.data;
      let state = moments.get(name);
      if (state === undefined) {
        state = { m: new Float32Array(g.length), v: new Float32Array(g.length) };
        moments.set(name, state);
      }
      const theta = Float32Array.from(variable.dataSync() as Float32Array);
      adamwUpdate(theta, g, state.m, state.v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, step: adamSteps });
      const updated = tf.tensor(theta, variable.shape, "float32");
      variable.assign(updated);
      updated.dispose();
    }
    lastLoss = -objective;
  };
  const tfjsStep = async () => {
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
  const step = onnx ? onnxStep : tfjsStep;
  await step();
  let profile: Row["profile"];
  if (values.profile) {
    const info = await tf.profile(async () => { await step(); });
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
  for (let i = 0; i < steps; i++) await step();
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
  await engine?.dispose();
  model.dispose();
  return {
    config: configName,
    variant,
    threads,
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

interface TorchRow {
  params: number;
  matmulParams: number;
  seq: number;
  batch: number;
  steps: number;
  threads: number;
  torch: string;
  msPerStep: number;
  cpuMsPerStep: number;
  tokensPerSecond: number;
  modelGflopPerStep: number;
  achievedGflops: number;
  peakRssMiB: number;
  loss: number;
}

type Failed = { config: string; variant: string; threads: number; error: string };

/** Runs bench/torch_train.py on one shape; its result is the JSON on its stdout's last line. */
function runTorch(python: string, script: string, configName: string, threads: number): { value: TorchRow } | { error: string } {
  const config = { ...CONFIGS[baseConfig(configName)], max_position_embeddings: Math.max(seqOf(configName), 512) };
  const args = [script, "--config", JSON.stringify(config), "--seq", String(seqOf(configName)), "--batch", String(batch), "--steps", String(steps), "--warmup", "1", "--threads", String(threads)];
  const child = spawnSync(python, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 24 });
  if (child.status !== 0) return { error: (child.stderr || String(child.error ?? `exit ${child.status ?? child.signal}`)).trim().split("\n").at(-1)?.slice(0, 500) ?? "" };
  return { value: JSON.parse(child.stdout.trim().split("\n").at(-1) as string) as TorchRow };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

if (values.child !== undefined) {
  const [configName, variant, threads] = values.child.split(":") as [string, Row["variant"], string];
  process.stdout.write(`${JSON.stringify(await measure(configName, variant, Number(threads)))}\n`);
} else {
  const self = fileURLToPath(import.meta.url);
  const script = resolve(dirname(self), "torch_train.py");
  const python = String(values.python);
  const reps = Number(values.reps);
  const threadCounts = String(values.threads).split(",").map(Number);
  const variants = String(values.variants).split(",") as Array<Row["variant"]>;
  const configNames = String(values.configs).split(",");
  if (values.long) configNames.push(...configNames.filter((c) => !c.endsWith("-long")).map((c) => `${c}-long`));
  const probe = spawnSync(python, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  const torchVersion = probe.status === 0 ? probe.stdout.trim() : undefined;
  if (torchVersion === undefined) console.log(`PyTorch baseline skipped: "${python} -c 'import torch'" failed (${(probe.stderr || String(probe.error)).trim().split("\n").at(-1)}). Install torch for that python (Debian: apt install python3-torch) or pass --python; printing our numbers alone.`);
  const loadStart = load();
  console.log(`load average (1/5/15 min) at start: ${loadStart}; torch ${torchVersion ?? "absent"}; ${reps} alternating runs each`);
  const rows: Array<Row | Failed> = [];
  const torchRows: Array<(TorchRow & { config: string }) | Failed> = [];
  const summary: Array<Record<string, unknown>> = [];
  for (const configName of configNames) {
    if (CONFIGS[baseConfig(configName)] === undefined) throw new Error(`[infialign/model] bench/train: unknown config "${configName}"; choose from ${Object.keys(CONFIGS).join(", ")} (--long adds their seq-1024 forms).`);
    for (const threads of threadCounts) {
      const ours = new Map<string, Row[]>(variants.map((v) => [v, []]));
      const theirs: TorchRow[] = [];
      for (let rep = 0; rep < reps; rep++) {
        for (const variant of variants) {
          const args = [...process.execArgv, self, "--child", `${configName}:${variant}:${threads}`, "--seq", String(seq), "--batch", String(batch), "--steps", String(steps), ...(values.profile ? ["--profile"] : [])];
          const result = runBenchChild<Row>(args);
          if ("error" in result) {
            rows.push({ config: configName, variant, threads, error: result.error });
            console.log(`${configName} ${variant} ${threads}t: FAILED ${result.error}`);
            continue;
          }
          const row = result.value;
          rows.push(row);
          ours.get(variant)?.push(row);
          console.log(
            `${configName} ${variant} ${threads}t: ${row.tokensPerSecond} tokens/s, ${row.achievedGflops} GFLOP/s = ${(100 * row.rooflineFraction).toFixed(1)}% of ${row.matmulGflops} (per CPU-second: ${(100 * row.cpuRooflineFraction).toFixed(1)}%), ${row.msPerStep} ms/step (CPU ${row.cpuMsPerStep} ms), peak RSS ${row.peakRssMiB} MiB`,
          );
          if (row.profile) console.log(row.profile.map((p) => `  ${p.kernel}: ${p.ms} ms (${p.calls} calls)`).join("\n"));
        }
        if (torchVersion === undefined) continue;
        const result = runTorch(python, script, configName, threads);
        if ("error" in result) {
          torchRows.push({ config: configName, variant: "torch", threads, error: result.error });
          console.log(`${configName} torch ${threads}t: FAILED ${result.error}`);
          continue;
        }
        torchRows.push({ config: configName, ...result.value });
        theirs.push(result.value);
        console.log(`${configName} torch ${threads}t: ${result.value.tokensPerSecond} tokens/s, ${result.value.achievedGflops} GFLOP/s, ${result.value.msPerStep} ms/step (CPU ${result.value.cpuMsPerStep} ms), peak RSS ${result.value.peakRssMiB} MiB`);
      }
      for (const [variant, rs] of ours) {
        if (rs.length === 0) continue;
        const first = rs[0] as Row;
        const entry: Record<string, unknown> = {
          config: configName,
          params: first.params,
          seq: first.seq,
          batch: first.batch,
          threads,
          variant,
          runs: rs.length,
          tokensPerSecond: Math.round(median(rs.map((r) => r.tokensPerSecond))),
          achievedGflops: Number(median(rs.map((r) => r.achievedGflops)).toFixed(1)),
          cpuMsPerStep: Math.round(median(rs.map((r) => r.cpuMsPerStep))),
          peakRssMiB: Math.round(median(rs.map((r) => r.peakRssMiB))),
          rooflineFraction: median(rs.map((r) => r.rooflineFraction)),
          cpuRooflineFraction: median(rs.map((r) => r.cpuRooflineFraction)),
        };
        if (theirs.length > 0) {
          entry.torch = {
            runs: theirs.length,
            tokensPerSecond: Math.round(median(theirs.map((r) => r.tokensPerSecond))),
            achievedGflops: Number(median(theirs.map((r) => r.achievedGflops)).toFixed(1)),
            cpuMsPerStep: Math.round(median(theirs.map((r) => r.cpuMsPerStep))),
            peakRssMiB: Math.round(median(theirs.map((r) => r.peakRssMiB))),
          };
          entry.oursOverTorch = Number(((entry.tokensPerSecond as number) / median(theirs.map((r) => r.tokensPerSecond))).toFixed(3));
        }
        summary.push(entry);
      }
    }
  }
  const loadEnd = load();
  console.log(`\nload average (1/5/15 min) at end: ${loadEnd}`);
  console.log(`medians of ${reps} alternating runs; batch ${batch}, ${steps} timed steps after 1 warm-up; torch ${torchVersion ?? "absent"}`);
  console.log("\n| config | params | batch×seq | threads | engine | ours tokens/s | torch tokens/s | ours/torch | ours GFLOP/s | torch GFLOP/s | ours peak RSS MiB | torch peak RSS MiB | % of wasm roofline (per CPU-s) |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const e of summary) {
    const t = e.torch as { tokensPerSecond: number; achievedGflops: number; peakRssMiB: number } | undefined;
    console.log(
      `| ${e.config} | ${((e.params as number) / 1e6).toFixed(2)}M | ${e.batch}×${e.seq} | ${e.threads} | ${e.variant} | ${e.tokensPerSecond} | ${t?.tokensPerSecond ?? "–"} | ${e.oursOverTorch ?? "–"} | ${e.achievedGflops} | ${t?.achievedGflops ?? "–"} | ${e.peakRssMiB} | ${t?.peakRssMiB ?? "–"} | ${(100 * (e.rooflineFraction as number)).toFixed(1)}% (${(100 * (e.cpuRooflineFraction as number)).toFixed(1)}%) |`,
    );
  }
  for (const r of [...rows, ...torchRows]) if ("error" in r) console.log(`failed: ${r.config} ${r.variant} ${r.threads}t: ${r.error}`);
  const file = resolve(dirname(self), "..", String(values.out));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({ node: process.version, torch: torchVersion ?? null, date: new Date().toISOString(), loadavg: { start: loadStart, end: loadEnd }, reps, flops: "6·N·tokens + 6·layers·hidden·seq²·batch", summary, rows, torchRows }, null, 2)}\n`,
  );
  console.log(`\nwrote ${file}`);
}
