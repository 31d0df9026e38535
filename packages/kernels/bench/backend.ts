// Square float32 matmul GFLOP/s per TensorFlow.js backend: cpu, wasm on 1 thread, wasm on 2 threads.
// Usage: npx tsx bench/backend.ts  (writes bench-results/backend.json). wasm runs alternate 1 and 2 threads for
// ROUNDS rounds and report the median, so a neighbour's load hits both settings alike; cpu/wall is process CPU time
// over wall time during the measurement (≈ threads actually busy).
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BackendInfo, measureMatmulGflops, selectBackend } from "../src/tfjs/backend.js";

const SIZES = [256, 512, 1024] as const;
const ROUNDS = 3;
/** Products per measurement: about 0.1–0.3 s each on wasm, fewer on the ~1 GFLOP/s cpu backend. */
const REPEATS: Record<string, Record<number, number>> = { cpu: { 256: 5, 512: 2, 1024: 1 }, wasm: { 256: 40, 512: 15, 1024: 4 } };

interface Sample {
  gflops: number;
  cpuPerWall: number;
}

async function sample(size: number, repeats: number): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const gflops = await measureMatmulGflops(size, repeats);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { gflops, cpuPerWall: (cpu.user + cpu.system) / 1000 / wallMs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Row {
  config: string;
  size: number;
  gflops: number;
  samples: number[];
  cpuPerWall: number;
  info: BackendInfo;
}
const rows: Row[] = [];
const loadBefore = loadavg()[0] as number;

{
  const info = await selectBackend({ prefer: "cpu" });
  for (const size of SIZES) {
    const s = await sample(size, REPEATS.cpu?.[size] as number);
    rows.push({ config: "cpu", size, gflops: s.gflops, samples: [s.gflops], cpuPerWall: s.cpuPerWall, info });
  }
}

const wasmSamples = new Map<string, Sample[]>();
const wasmInfo = new Map<number, BackendInfo>();
for (let round = 0; round < ROUNDS; round++) {
  for (const threads of [1, 2]) {
    const info = await selectBackend({ prefer: "wasm", threads });
    wasmInfo.set(threads, info);
    for (const size of SIZES) {
      const key = `${threads}:${size}`;
      wasmSamples.set(key, [...(wasmSamples.get(key) ?? []), await sample(size, REPEATS.wasm?.[size] as number)]);
    }
  }
}
for (const threads of [1, 2]) {
  const info = wasmInfo.get(threads) as BackendInfo;
  for (const size of SIZES) {
    const s = wasmSamples.get(`${threads}:${size}`) as Sample[];
    rows.push({
      config: `wasm ${info.threads} thread${info.threads === 1 ? "" : "s"}${info.simd ? " SIMD" : ""}`,
      size,
      gflops: median(s.map((x) => x.gflops)),
      samples: s.map((x) => x.gflops),
      cpuPerWall: median(s.map((x) => x.cpuPerWall)),
      info,
    });
  }
}

const peakRssMiB = process.resourceUsage().maxRSS / 1024;
console.log("| backend | n | GFLOP/s (median) | samples | cpu/wall |");
console.log("|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.config} | ${r.size} | ${r.gflops.toFixed(2)} | ${r.samples.map((g) => g.toFixed(1)).join(", ")} | ${r.cpuPerWall.toFixed(2)} |`);
const speedup = SIZES.map((size) => {
  const one = rows.find((r) => r.info.name === "wasm" && r.info.threads === 1 && r.size === size)?.gflops ?? Number.NaN;
  const two = rows.find((r) => r.info.name === "wasm" && r.info.threads === 2 && r.size === size)?.gflops ?? Number.NaN;
  return { size, twoOverOne: two / one };
});
console.log(`wasm 2 threads / 1 thread: ${speedup.map((s) => `n=${s.size} ${s.twoOverOne.toFixed(2)}×`).join(", ")}`);
console.log(`peak RSS ${peakRssMiB.toFixed(0)} MiB; ${availableParallelism()} CPUs; 1-min load average ${loadBefore.toFixed(2)} before, ${(loadavg()[0] as number).toFixed(2)} after`);

const outPath = join(dirname(fileURLToPath(import.meta.url)), "..", "bench-results", "backend.json");
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(
  outPath,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: availableParallelism(), loadAverage: { before: loadBefore, after: loadavg()[0] }, rounds: ROUNDS, peakRssMiB, speedup, rows }, null, 2)}\n`,
);
console.log(`wrote ${outPath}`);
