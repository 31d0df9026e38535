// Throughput of NgramIndex.check over the shared training pools against all shipped benchmarks,
// next to a naive Set<string> of n-gram strings measured in the same run. Writes bench-results/ngram-check.json.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sharedDataPath } from "@infialign/test-utils";
import xxhash from "xxhash-wasm";
import { loadShippedBenchmarks, NgramIndex, tokenizeForMatch } from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const pools = [
  ["gsm8k-train.jsonl", "question"],
  ["math-test.jsonl", "problem"],
] as const;
const texts: string[] = [];
for (const [file, field] of pools) {
  const path = sharedDataPath("pools", file);
  if (!path) throw new Error("[infialign/decontam] bench: shared data not found; set INFIALIGN_SHARED_DATA");
  for (const line of readFileSync(path, "utf8").split("\n")) if (line) texts.push((JSON.parse(line) as Record<string, string>)[field] as string);
}
const items = await loadShippedBenchmarks();
const n = 13;
const ROUNDS = 5;

function timeRounds(fn: () => number): { recordsPerSec: number; flagged: number; bestMs: number } {
  let best = Number.POSITIVE_INFINITY;
  let flagged = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    flagged = fn();
    best = Math.min(best, performance.now() - t);
  }
  return { recordsPerSec: Math.round(texts.length / (best / 1000)), flagged, bestMs: +best.toFixed(1) };
}

let t = performance.now();
const index = await NgramIndex.build(items, { n });
const buildMs = performance.now() - t;
const ours = timeRounds(() => {
  let f = 0;
  for (const text of texts) if (index.check(text).contaminated) f++;
  return f;
});

// Naive baseline: the same tokenizer, n-grams kept as joined strings; short items as whole strings.
t = performance.now();
const naive = new Set<string>();
const shortLengths = new Set<number>();
for (const it of items) {
  const w = tokenizeForMatch(it.text);
  const len = Math.min(n, w.length);
  if (len < n) shortLengths.add(len);
  for (let i = 0; i + len <= w.length; i++) naive.add(w.slice(i, i + len).join(" "));
}
const naiveBuildMs = performance.now() - t;
const lengths = [n, ...shortLengths];
const baseline = timeRounds(() => {
  let f = 0;
  for (const text of texts) {
    const w = tokenizeForMatch(text);
    let hit = false;
    for (const len of lengths) {
      for (let i = 0; i + len <= w.length && !hit; i++) if (naive.has(w.slice(i, i + len).join(" "))) hit = true;
    }
    if (hit) f++;
  }
  return f;
});

// Hash choice: 64-bit keys of 13-gram strings via h64 (BigInt) vs two seeded h32 calls.
const { h32, h64 } = await xxhash();
const grams: string[] = [];
for (const text of texts.slice(0, 3000)) {
  const w = tokenizeForMatch(text);
  for (let i = 0; i + n <= w.length; i++) grams.push(w.slice(i, i + n).join(" "));
}
const hashBench = (fn: (s: string) => unknown) => {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (const g of grams) fn(g);
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round(grams.length / (best / 1000));
};
const hashPerSec = {
  h64_bigint: hashBench((s) => h64(s)),
  h32_x2: hashBench((s) => h32(s, 0) ^ h32(s, 0x9e3779b9)),
};

const result = {
  date: new Date().toISOString(),
  node: process.version,
  records: texts.length,
  benchmarkItems: items.length,
  n,
  rounds: ROUNDS,
  ours: { ...ours, buildMs: +buildMs.toFixed(1), keys: index.size },
  naiveSetOfStrings: { ...baseline, buildMs: +naiveBuildMs.toFixed(1), keys: naive.size },
  speedup: +(ours.recordsPerSec / baseline.recordsPerSec).toFixed(2),
  ngramStringHashesPerSec: hashPerSec,
  peakRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
};
const outDir = join(here, "..", "bench-results");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "ngram-check.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
