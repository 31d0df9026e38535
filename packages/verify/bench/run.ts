// `pnpm bench` for @infialign/verify: math verdicts through the CLI as a child process (start-up
// included) on (1) a labelled set of real model completions named by INFIALIGN_VERIFY_LABELLED (accuracy
// on its dev and held-out halves, CLI cases/s; skipped when unset) and (2) pairs built from MATH500 (agreement with how they were
// built, per-pair latency in process, peak RSS). Writes bench-results/verify-math.json.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { extractBoxed } from "@infialign/data";
import { sharedDataPath } from "@infialign/test-utils";
import { verifyMath } from "../src/math/verifyMath.js";
import { LABELLED_FILE, loadLabelled, scoreLabelled } from "./labelled.js";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = resolve(here, "..");
/** The labelled set is small; it is sent this many times so start-up does not dominate the throughput. */
const THROUGHPUT_REPEATS = 10;

type Pair = { gold: string; prediction: string };

/** Runs `infialign-verify math` on the pairs; wall clock from spawn to exit, peak RSS from /usr/bin/time. */
function runCli(pairs: Pair[]): { verdicts: Array<{ correct: boolean; reason: string }>; seconds: number; peakRssMB: number } {
  const input = `${pairs.map((p) => JSON.stringify(p)).join("\n")}\n`;
  const timeBin = existsSync("/usr/bin/time");
  const cmd = timeBin ? "/usr/bin/time" : process.execPath;
  const args = [...(timeBin ? ["-f", "MAXRSS_KB=%M", process.execPath] : []), "--import", "tsx", join(pkgDir, "src/cli/main.ts"), "math"];
  const t0 = performance.now();
  const child = spawnSync(cmd, args, { cwd: pkgDir, input, encoding: "utf8", maxBuffer: 1 << 28 });
  const seconds = (performance.now() - t0) / 1000;
  if (child.status !== 0) throw new Error(`[infialign/verify] bench: CLI exited with ${child.status}: ${child.stderr}`);
  const verdicts = child.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { correct: boolean; reason: string });
  if (verdicts.length !== pairs.length) throw new Error(`[infialign/verify] bench: ${verdicts.length} verdicts for ${pairs.length} pairs`);
  return { verdicts, seconds, peakRssMB: Number(/MAXRSS_KB=(\d+)/.exec(child.stderr)?.[1] ?? Number.NaN) / 1024 };
}

// ---------- (1) labelled real completions ----------

function labelledBench(file: string) {
  const labelled = loadLabelled(file);
  const repeated = Array.from({ length: THROUGHPUT_REPEATS }, () => labelled.map((c) => ({ gold: c.gold, prediction: c.prediction }))).flat();
  const run = runCli(repeated);
  const verdicts = run.verdicts.slice(0, labelled.length).map((v) => v.correct);
  const bySource: Record<string, ReturnType<typeof scoreLabelled>> = {};
  for (const family of [...new Set(labelled.map((c) => c.id.split("/")[0]!))]) bySource[family] = scoreLabelled(labelled, verdicts, (c) => c.id.startsWith(`${family}/`));
  return {
    file,
    dev: scoreLabelled(labelled, verdicts, (c) => c.split === "dev"),
    heldout: scoreLabelled(labelled, verdicts, (c) => c.split === "heldout"),
    all: scoreLabelled(labelled, verdicts),
    bySource,
    cli: { cases: repeated.length, seconds: run.seconds, casesPerSecond: repeated.length / run.seconds, peakRssMB: run.peakRssMB },
  };
}
const real = LABELLED_FILE && existsSync(LABELLED_FILE) ? labelledBench(LABELLED_FILE) : undefined;
if (!real) console.log("labelled real completions: skipped (set INFIALIGN_VERIFY_LABELLED to a JSONL file, see the README)");

// ---------- (2) pairs built from MATH500 ----------

const math500Source = sharedDataPath("benchmarks", "math500.jsonl");

function math500Bench(source: string) {
  const records = readFileSync(source, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { answer: string; solution: string });
  // Correct pairs in several output formats, and wrong pairs (answer i vs solution i+1).
  const formats = [
    (r: { answer: string; solution: string }) => r.solution,
    (r: { answer: string }) => `Let me think step by step.\n<think>maybe 42</think>\nThe final answer is $${r.answer}$.`,
    (r: { answer: string }) => `Working... so the result is \\boxed{${r.answer}}.`,
    (r: { answer: string }) => `Therefore\nAnswer: $\\displaystyle ${r.answer}$`,
  ];
  const pairs: Pair[] = [];
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
  const run = runCli(pairs);
  const agreement = run.verdicts.filter((v, i) => v.correct === shouldMatch[i]).length;

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
  const oursMs = times.reduce((sum, t) => sum + t, 0);
  return {
    pairs: pairs.length,
    /** Verdicts agreeing with the construction (correct pairs judged correct, wrong pairs incorrect). */
    agreement: { agreed: agreement, of: pairs.length },
    baseline: {
      method: "string match of the last \\boxed{} (or last number), whitespace and $ stripped",
      agreement: { agreed: naiveVerdicts.filter((v, i) => v === shouldMatch[i]).length, of: pairs.length },
      inProcessMs: baselineMs,
      oursVsBaselineTime: oursMs / baselineMs,
    },
    cli: { seconds: run.seconds, pairsPerSecond: pairs.length / run.seconds, peakRssMB: run.peakRssMB },
    inProcess: { medianMs: q(0.5), p95Ms: q(0.95), maxMs: times[times.length - 1], totalMs: oursMs, peakRssMB: process.resourceUsage().maxRSS / 1024 },
    reasons,
  };
}
// MATH500 comes from the shared data folder; without it only the labelled set is measured.
const math500 = math500Source && existsSync(math500Source) ? math500Bench(math500Source) : undefined;

const result = { realCompletions: real ?? { skipped: "INFIALIGN_VERIFY_LABELLED not set" }, math500: math500 ?? { skipped: "math500.jsonl not found; set INFIALIGN_SHARED_DATA" }, command: "node --import tsx src/cli/main.ts math", node: process.version, date: new Date().toISOString() };
const outDir = join(pkgDir, "bench-results");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "verify-math.json"), `${JSON.stringify(result, null, 2)}\n`);

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
console.table([
  ...(real
    ? [
        { set: "real completions, dev", cases: real.dev.cases, agreed: real.dev.agreed, accuracy: pct(real.dev.accuracy), falseAccepts: real.dev.falseAccepts, falseRejects: real.dev.falseRejects },
        { set: "real completions, held-out", cases: real.heldout.cases, agreed: real.heldout.agreed, accuracy: pct(real.heldout.accuracy), falseAccepts: real.heldout.falseAccepts, falseRejects: real.heldout.falseRejects },
      ]
    : []),
  ...(math500 ? [{ set: "MATH500-built pairs", cases: math500.pairs, agreed: math500.agreement.agreed, accuracy: pct(math500.agreement.agreed / math500.pairs) }] : []),
]);
if (real) console.log(`CLI: ${Math.round(real.cli.casesPerSecond)} cases/s on ${real.cli.cases} real completions (start-up included, peak RSS ${Math.round(real.cli.peakRssMB)} MB)`);
if (math500) console.log(`CLI: ${Math.round(math500.cli.pairsPerSecond)} pairs/s on ${math500.pairs} MATH500-built pairs; baseline string match agrees on ${math500.baseline.agreement.agreed}`);
else console.log("MATH500-built pairs skipped: math500.jsonl not found; set INFIALIGN_SHARED_DATA to the shared data folder");
console.log(`wrote ${join(outDir, "verify-math.json")}`);
