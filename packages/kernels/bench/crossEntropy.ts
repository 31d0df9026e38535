// Chunked vs plain cross-entropy, forward + backward, time and peak memory. Each measurement runs in its own child
// process so that peak RSS (getrusage maxrss, which never goes down) belongs to one variant. Children run under vite-node
// (shipped with vitest): the plain variant needs tfjs-core's registered gradients, whose ESM files plain Node cannot load.
// Usage: tsx bench/crossEntropy.ts [--backend wasm|cpu] [--positions 2048] [--hidden 256] [--chunk 1024] [--vocab 32000,151936]
//   [--variants chunked,plain] [--out bench-results/cross-entropy.json]
// --positions takes one value, or one per vocabulary (e.g. 2048,512): the plain variant at vocab 151,936 and 2048
// positions needs more than the wasm backend's 4 GB heap.
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runBenchChild } from "@infialign/test-utils";
import * as tf from "@tensorflow/tfjs-core";

interface Row {
  backend: string;
  variant: "plain" | "chunked";
  vocab: number;
  positions: number;
  hidden: number;
  chunkSize: number | null;
  loss: number;
  ms: number;
  /** High-water of tf.memory().numBytes during forward + backward (tf.profile peakBytes), MiB. */
  peakTensorMiB: number;
  /** Peak resident set size of the child process (includes the wasm heap, which never shrinks), MiB. */
  peakRssMiB: number;
}

const { values } = parseArgs({
  options: {
    backend: { type: "string", default: "wasm" },
    positions: { type: "string", default: "2048" },
    hidden: { type: "string", default: "256" },
    chunk: { type: "string", default: "1024" },
    vocab: { type: "string", default: "32000,151936" },
    variants: { type: "string", default: "chunked,plain" },
    out: { type: "string", default: "bench-results/cross-entropy.json" },
    child: { type: "string" },
  },
});
const backend = values.backend as string;
const positionList = String(values.positions).split(",").map(Number);
const hidden = Number(values.hidden);
const chunkSize = Number(values.chunk);

async function measure(variant: Row["variant"], vocab: number, positions: number): Promise<Row> {
  const { chunkedCrossEntropy, IGNORE_INDEX, referenceCrossEntropy } = await import("../src/tfjs/ops/crossEntropy.js");
  // The plain variant differentiates stock ops (RealDiv, Log, ...), whose gradients Node's tfjs-core does not register.
  (await import("../src/tfjs/gradients.js")).registerTfjsGradients();
  if (backend === "wasm") await import("@tensorflow/tfjs-backend-wasm");
  else await import("@tensorflow/tfjs-backend-cpu");
  await tf.setBackend(backend);
  await tf.ready();
  const h = tf.randomNormal([positions, hidden], 0, 1, "float32", 1);
  const w = tf.randomNormal([vocab, hidden], 0, 0.05, "float32", 2);
  // Every 8th position ignored, like a prompt mask; labels from a fixed LCG.
  const labelValues = Int32Array.from({ length: positions }, (_, i) => (i % 8 === 0 ? IGNORE_INDEX : (i * 2654435761) % vocab));
  const labels = tf.tensor1d(labelValues, "int32");
  const loss = (x: tf.Tensor, y: tf.Tensor) => (variant === "plain" ? referenceCrossEntropy(x, y, labels) : chunkedCrossEntropy(x, y, labels, { chunkSize }));
  const step = () => {
    const { value, grads } = tf.valueAndGrads(loss)([h, w]);
    for (const g of grads) g.dataSync();
    const out = value.dataSync()[0] as number;
    tf.dispose([value, ...grads]);
    return out;
  };
  let lossValue = 0;
  const start = performance.now();
  const profile = await tf.profile(() => {
    lossValue = step();
  });
  const ms = performance.now() - start;
  const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  return { backend, variant, vocab, positions, hidden, chunkSize: variant === "chunked" ? chunkSize : null, loss: lossValue, ms: Math.round(ms), peakTensorMiB: mib(profile.peakBytes), peakRssMiB: mib(process.resourceUsage().maxRSS * 1024) };
}

if (values.child !== undefined) {
  const [variant, vocab] = values.child.split(":") as [Row["variant"], string];
  process.stdout.write(`${JSON.stringify(await measure(variant, Number(vocab), positionList[0] as number))}\n`);
} else {
  const rows: Array<Row | { backend: string; variant: string; vocab: number; positions: number; error: string }> = [];
  const self = fileURLToPath(import.meta.url);
  const require = createRequire(import.meta.url);
  const viteNode = join(dirname(require.resolve("vite-node/package.json", { paths: [dirname(require.resolve("vitest/package.json"))] })), "vite-node.mjs");
  for (const [i, vocab] of String(values.vocab).split(",").map(Number).entries()) {
    const positions = positionList[Math.min(i, positionList.length - 1)] as number;
    for (const variant of String(values.variants).split(",") as Array<Row["variant"]>) {
      const args = [viteNode, self, "--", "--child", `${variant}:${vocab}`, "--backend", backend, "--positions", String(positions), "--hidden", String(hidden), "--chunk", String(chunkSize)];
      const result = runBenchChild<Row>(args);
      if ("error" in result) {
        rows.push({ backend, variant, vocab, positions, error: result.error });
        console.log(`${backend} vocab ${vocab} ${variant}: FAILED ${result.error}`);
        continue;
      }
      const row = result.value;
      rows.push(row);
      console.log(`${backend} vocab ${vocab} ${variant}: ${row.ms} ms, peak tensors ${row.peakTensorMiB} MiB, peak RSS ${row.peakRssMiB} MiB, loss ${row.loss.toFixed(6)}`);
    }
  }
  console.log("\n| backend | vocab | positions | hidden | variant | chunk | fwd+bwd ms | peak tensor MiB | peak RSS MiB | loss |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    if ("error" in r) {
      console.log(`| ${r.backend} | ${r.vocab} | ${r.positions} | ${hidden} | ${r.variant} | - | failed: ${r.error} | | | |`);
      continue;
    }
    console.log(`| ${r.backend} | ${r.vocab} | ${r.positions} | ${r.hidden} | ${r.variant} | ${r.chunkSize ?? "-"} | ${r.ms} | ${r.peakTensorMiB} | ${r.peakRssMiB} | ${r.loss.toFixed(6)} |`);
  }
  const file = resolve(dirname(self), "..", String(values.out));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ node: process.version, date: new Date().toISOString(), rows }, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}
