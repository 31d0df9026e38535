// `pnpm bench` for @infialign/verify: math verdict throughput of the CLI as a child process
// (start-up included), per-pair latency in process, and peak RSS, on pairs built from MATH500.
// Writes bench-results/verify-math.json.
import { spawnSync } from "node:child_process";
import { extractBoxed } from "@infialign/data";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sharedDataPath } from "@infialign/test-utils";
import { verifyMath } from "../src/math/verifyMath.js";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = resolve(here, "..");
const source = sharedDataPath("benchmarks", "math500.jsonl");
if (!source || !existsSync(source)) {
  throw new Error("[infialign/verify] bench: math500.jsonl not found; set INFIALIGN_SHARED_DATA to the shared data folder");
}
const records = readFileSync(source, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { answer: string; solution: string });

// Correct pairs in several output formats, and wrong pairs (answer i vs solution i+1).
const formats = [
  (r: { answer: string; solution: string }) => r.solution,
  (r: { answer: string }) => `Let me think step by step.\n<think>maybe 42</think>\nThe final answer is $${r.answer}$.`,
  (r: { answer: string }) => `Working... so the result is \\boxed{${r.answer}}.`,
  (r: { answer: string }) => `Therefore\nAnswer: $\\displaystyle ${r.answer}$`,
];
const pairs: Array<{ gold: string; prediction: string }> = [];
const shouldMatch: boolean[] = [];
for (let i = 0; i < records.length; i++) {
  const r = records[i]!;
  for (const f of formats) {
    pairs.push({ gold: r.answer, prediction: f(r) });
    shouldMatch.push(true);
  }
  pairs.push({ gold: r.answer, prediction: records[(i + 1) % records.length]!.solution });
  pairs.push({ gold: r.answer, prediction: `\\boxed{${records[(i + 7) % records.length]!.answer}}` });
  // Wrong pairs whose answers happen to coincide ("3" and "3") are expected to match.
  shouldMatch.push(r.answer === records[(i + 1) % records.length]!.answer, r.answer === records[(i + 7) % records.length]!.answer);
}
const input = `${pairs.map((p) => JSON.stringify(p)).join("\n")}\n`;

// CLI as a child process, wall clock from spawn to exit; /usr/bin/time gives its peak RSS.
const timeBin = existsSync("/usr/bin/time");
const cmd = timeBin ? "/usr/bin/time" : process.execPath;
const args = [...(timeBin ? ["-f", "MAXRSS_KB=%M", process.execPath] : []), "--import", "tsx", join(pkgDir, "src/cli/main.ts"), "math"];
const t0 = performance.now();
const child = spawnSync(cmd, args, { cwd: pkgDir, input, encoding: "utf8", maxBuffer: 1 << 28 });
const cliSeconds = (performance.now() - t0) / 1000;
if (child.status !== 0) throw new Error(`[infialign/verify] bench: CLI exited with ${child.status}: ${child.stderr}`);
const verdicts = child.stdout.trim().split("\n").map((l) => JSON.parse(l) as { correct: boolean; reason: string });
if (verdicts.length !== pairs.length) throw new Error(`[infialign/verify] bench: ${verdicts.length} verdicts for ${pairs.length} pairs`);
const agreement = verdicts.filter((v, i) => v.correct === shouldMatch[i]).length;
const cliPeakRssMB = Number(/MAXRSS_KB=(\d+)/.exec(child.stderr)?.[1] ?? Number.NaN) / 1024;

// In process: per-pair latency after warm-up.
for (const p of pairs.slice(0, 200)) verifyMath(p.gold, p.prediction);
const times: number[] = [];
const reasons: Record<string, number> = {};
for (const p of pairs) {
  const s = performance.now();
  const v = verifyMath(p.gold, p.prediction);
  times.push(performance.now() - s);
  reasons[v.reason] = (reasons[v.reason] ?? 0) + 1;
}
times.sort((a, b) => a - b);
const q = (f: number) => times[Math.min(times.length - 1, Math.floor(f * times.length))]!;

// Baseline in the same run: the string-match grading many harnesses use (last \boxed{},
// else the last number; whitespace and $ stripped; exact string equality).
const naive = (gold: string, prediction: string): boolean => {
  const clean = (x: string) => x.replace(/\s+|\$/g, "");
  const answer = extractBoxed(prediction) ?? /-?\d+(?:\.\d+)?(?!.*\d)/s.exec(prediction)?.[0] ?? "";
  return clean(answer) === clean(gold);
};
const b0 = performance.now();
const naiveVerdicts = pairs.map((p) => naive(p.gold, p.prediction));
const baselineMs = performance.now() - b0;
const naiveAgreement = naiveVerdicts.filter((v, i) => v === shouldMatch[i]).length;
const oursMs = times.reduce((sum, t) => sum + t, 0);

const result = {
  pairs: pairs.length,
  baseline: {
    method: "string match of the last \\boxed{} (or last number), whitespace and $ stripped",
    agreement: { agreed: naiveAgreement, of: pairs.length },
    inProcessMs: baselineMs,
    oursVsBaselineTime: oursMs / baselineMs,
  },
  cli: { seconds: cliSeconds, pairsPerSecond: pairs.length / cliSeconds, peakRssMB: cliPeakRssMB, command: "node --import tsx src/cli/main.ts math" },
  inProcess: { medianMs: q(0.5), p95Ms: q(0.95), maxMs: times[times.length - 1], peakRssMB: process.resourceUsage().maxRSS / 1024 },
  reasons,
  /** Verdicts agreeing with the construction (correct pairs judged correct, wrong pairs incorrect). */
  agreement: { agreed: agreement, of: pairs.length },
  node: process.version,
  date: new Date().toISOString(),
};
const outDir = join(pkgDir, "bench-results");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "verify-math.json"), `${JSON.stringify(result, null, 2)}\n`);
console.table([
  { grader: "verifyMath (ours)", agreed: agreement, of: pairs.length, inProcessMs: Number(oursMs.toFixed(1)), cliPairsPerSecond: Math.round(pairs.length / cliSeconds), peakRssMB: Math.round(cliPeakRssMB) },
  { grader: "baseline: string match", agreed: naiveAgreement, of: pairs.length, inProcessMs: Number(baselineMs.toFixed(1)) },
]);
console.log(`ours / baseline time: ${(oursMs / baselineMs).toFixed(1)}x; wrote ${join(outDir, "verify-math.json")}`);
