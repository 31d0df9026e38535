// Throughput of MinHash signatures and findNearDuplicates on the shared pools (question+answer, problem+solution) and a
// synthetic 100k-document set, next to naive baselines measured in the same run:
// - signatures: every shingle kept as a joined string and re-hashed once per permutation with a seeded xxHash32;
// - dedup: exact Jaccard over Set<string> shingles for all pairs (on a subset; it is quadratic).
// Writes bench-results/minhash.json. Run: npx tsx bench/minhash.ts
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sharedDataPath } from "@infialign/test-utils";
import xxhash from "xxhash-wasm";
import { findNearDuplicates, lshThreshold, MinHasher, resolveMinHashConfig } from "../src/minhash/index.js";
import { tokenizeForMatch } from "../src/normalize/normalizeForMatch.js";

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = 3;
const config = resolveMinHashConfig();
const P = config.bands * config.rowsPerBand;

function readPool(file: string, fields: [string, string]): string[] {
  const path = sharedDataPath("pools", file);
  if (!path) throw new Error("[infialign/decontam] bench: shared data not found; set INFIALIGN_SHARED_DATA");
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const r = JSON.parse(l) as Record<string, string>;
      return `${r[fields[0]]}\n${r[fields[1]]}`;
    });
}

// Synthetic set: Zipf-like vocabulary, 60–260 words per document, 5% near-duplicates (3 words changed) of earlier documents.
function synthetic(n: number, seed: number): { texts: string[]; sourceOf: Int32Array } {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const vocab = Array.from({ length: 30000 }, (_, i) => `t${i.toString(36)}`);
  const word = () => vocab[Math.floor(vocab.length * rand() ** 3)] as string;
  const docs: string[][] = [];
  const sourceOf = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    if (i > 0 && rand() < 0.05) {
      sourceOf[i] = Math.floor(rand() * i);
      const copy = (docs[sourceOf[i] as number] as string[]).slice();
      for (let c = 0; c < 3; c++) copy[Math.floor(rand() * copy.length)] = word();
      docs.push(copy);
    } else docs.push(Array.from({ length: 60 + Math.floor(rand() * 200) }, word));
  }
  return { texts: docs.map((d) => d.join(" ")), sourceOf };
}

function best(fn: () => void, rounds = ROUNDS): number {
  let ms = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
}
async function bestAsync<T>(fn: () => Promise<T>, rounds = ROUNDS): Promise<{ ms: number; value: T }> {
  let ms = Number.POSITIVE_INFINITY;
  let value: T | undefined;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    value = await fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms, value: value as T };
}
const perSec = (n: number, ms: number) => Math.round(n / (ms / 1000));

const hasher = await MinHasher.create(config);
const { h32 } = await xxhash();
const seeds = Array.from({ length: P }, (_, i) => (Math.imul(i + 1, 0x9e3779b1) ^ config.seed) >>> 0);
function naiveShingles(text: string): string[] {
  const w = tokenizeForMatch(text);
  const k = Math.min(config.shingleSize, w.length);
  const out: string[] = [];
  for (let i = 0; w.length > 0 && i + k <= w.length; i++) out.push(w.slice(i, i + k).join(" "));
  return out;
}
function naiveSignature(text: string): Uint32Array {
  const sig = new Uint32Array(P).fill(0xffffffff);
  for (const sh of naiveShingles(text)) {
    for (let p = 0; p < P; p++) {
      const h = h32(sh, seeds[p]);
      if (h < (sig[p] as number)) sig[p] = h;
    }
  }
  return sig;
}

const sets: Record<string, string[]> = {
  "gsm8k-train (question+answer)": readPool("gsm8k-train.jsonl", ["question", "answer"]),
  "math-test (problem+solution)": readPool("math-test.jsonl", ["problem", "solution"]),
};
const synth = synthetic(100_000, 1);
sets["synthetic-100k"] = synth.texts;

function exactJaccard(a: string, b: string): number {
  const sa = new Set(naiveShingles(a));
  const sb = new Set(naiveShingles(b));
  let inter = 0;
  for (const x of sa) if (sb.has(x)) inter++;
  return inter / (sa.size + sb.size - inter || 1);
}

/** Planted copies that ended in their source's cluster, overall and among those whose exact Jaccard is ≥ 0.8. */
function plantedRecall(duplicateOf: Int32Array, sourceOf: Int32Array, texts: string[]) {
  const rep = (i: number) => ((duplicateOf[i] as number) >= 0 ? (duplicateOf[i] as number) : i);
  let planted = 0;
  let found = 0;
  let high = 0;
  let highFound = 0;
  for (let i = 0; i < sourceOf.length; i++) {
    const src = sourceOf[i] as number;
    if (src < 0) continue;
    const hit = rep(i) === rep(src);
    planted++;
    if (hit) found++;
    if (exactJaccard(texts[i] as string, texts[src] as string) >= 0.8) {
      high++;
      if (hit) highFound++;
    }
  }
  return { planted, found, recall: +(found / planted).toFixed(4), plantedJaccardAtLeast08: high, recallAtJaccard08: +(highFound / high).toFixed(4) };
}

const rows: Record<string, unknown>[] = [];
for (const [name, texts] of Object.entries(sets)) {
  const words = texts.reduce((s, t) => s + tokenizeForMatch(t).length, 0);
  const sigMs = best(() => {
    for (const t of texts) hasher.signature(t);
  });
  const naiveN = Math.min(texts.length, 300);
  const naiveMs = best(() => {
    for (let i = 0; i < naiveN; i++) naiveSignature(texts[i] as string);
  }, 1);
  const full = await bestAsync(() => findNearDuplicates(texts), name.startsWith("synthetic") ? 1 : ROUNDS);
  const res = full.value;
  const row = {
    set: name,
    docs: texts.length,
    avgWords: +(words / texts.length).toFixed(1),
    signatureDocsPerSec: perSec(texts.length, sigMs),
    naiveSignatureDocsPerSec: perSec(naiveN, naiveMs),
    signatureSpeedup: +(perSec(texts.length, sigMs) / perSec(naiveN, naiveMs)).toFixed(1),
    findNearDuplicatesDocsPerSec: perSec(texts.length, full.ms),
    clusters: res.clusters.length,
    duplicates: res.duplicateOf.reduce((s, d) => s + (d >= 0 ? 1 : 0), 0),
    candidatePairs: res.candidatePairs,
    verifiedPairs: res.verifiedPairs,
    // Synthetic only: planted copies (3 words changed) that ended in their source's cluster.
    ...(name.startsWith("synthetic") ? { plantedRecall: plantedRecall(res.duplicateOf, synth.sourceOf, texts) } : {}),
  };
  rows.push(row);
  console.error(`done ${name}`);
}

// Dedup baseline on a subset: exact Jaccard over Set<string> shingles for every pair, threshold lshThreshold (≈ 0.72).
const subset = [...(sets["math-test (problem+solution)"] as string[]).slice(0, 2500)];
const threshold = lshThreshold(config.bands, config.rowsPerBand);
let exactPairs: [number, number][] = [];
const exactMs = best(() => {
  const shingleSets = subset.map((t) => new Set(naiveShingles(t)));
  exactPairs = [];
  for (let i = 0; i < shingleSets.length; i++) {
    const a = shingleSets[i] as Set<string>;
    for (let j = 0; j < i; j++) {
      const b = shingleSets[j] as Set<string>;
      let inter = 0;
      const [small, large] = a.size < b.size ? [a, b] : [b, a];
      for (const x of small) if (large.has(x)) inter++;
      const union = a.size + b.size - inter;
      if (union > 0 && inter / union >= threshold) exactPairs.push([j, i]);
    }
  }
}, 1);
const ours = await bestAsync(() => findNearDuplicates(subset));
// Recall of the exact pairs: both ends in the same MinHash cluster.
const rep = (i: number) => ((ours.value.duplicateOf[i] as number) >= 0 ? (ours.value.duplicateOf[i] as number) : i);
const recovered = exactPairs.filter(([j, i]) => rep(i) === rep(j)).length;
const dedupBaseline = {
  set: `math-test (problem+solution), first ${subset.length}`,
  exactJaccardDocsPerSec: perSec(subset.length, exactMs),
  findNearDuplicatesDocsPerSec: perSec(subset.length, ours.ms),
  speedup: +(exactMs / ours.ms).toFixed(1),
  exactPairsAtThreshold: exactPairs.length,
  exactPairsInSameCluster: recovered,
  minhashClusters: ours.value.clusters.length,
};

const result = {
  date: new Date().toISOString(),
  node: process.version,
  config,
  permutations: P,
  threshold: +threshold.toFixed(4),
  rounds: ROUNDS,
  rows,
  dedupBaseline,
  peakRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
};
console.table(
  rows.map((r) => ({
    set: r.set,
    docs: r.docs,
    "sig docs/s": r.signatureDocsPerSec,
    "naive sig docs/s": r.naiveSignatureDocsPerSec,
    "sig ×": r.signatureSpeedup,
    "dedup docs/s": r.findNearDuplicatesDocsPerSec,
    clusters: r.clusters,
  })),
);
console.table([dedupBaseline]);
console.log(`peak RSS ${result.peakRssMiB} MiB`);
const outDir = join(here, "..", "bench-results");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "minhash.json"), `${JSON.stringify(result, null, 2)}\n`);
