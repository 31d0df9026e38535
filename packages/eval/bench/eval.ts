// Throughput of the evaluation path, measured in one run:
// - grading: samples/s of the math grader (MATH-500 golds, completions alternating right and wrong boxed answers) and
//   of the choice grader (10-option letters), each over several rounds;
// - endpoint runner: runEvaluation against the fake OpenAI server with a fixed simulated generation latency per
//   request, at concurrency 1 and 8 (requests, grading and the fsynced samples.jsonl included);
// - peak RSS of the process.
// Writes bench-results/eval.json. Run: npx tsx bench/eval.ts
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { startOpenAIServer } from "@infialign/test-utils";
import { customMathBenchmark, getBenchmark } from "../src/benchmarks/index.js";
import { gradeChoice } from "../src/grading/index.js";
import { endpointRunner } from "../src/run/endpointRunner.js";
import { runEvaluation } from "../src/run/runEvaluation.js";

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = 3;
const LATENCY_MS = 20;
const ITEMS = 40;
const SAMPLES = 4;

/** Best rate over ROUNDS rounds (the first one also warms up the JIT). */
async function timeRounds(fn: () => Promise<number>): Promise<{ perSec: number }> {
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    const n = await fn();
    best = Math.max(best, n / ((performance.now() - start) / 1000));
  }
  return { perSec: Math.round(best) };
}

const math = getBenchmark("math500");
const mathItems = await math.load();
const mathGrading = await timeRounds(async () => {
  let n = 0;
  for (const [i, item] of mathItems.entries()) {
    await math.grade(item, `Reasoning … so the answer is \\boxed{${i % 2 ? item.gold : `${item.gold}+1`}}.`);
    n++;
  }
  return n;
});

const LETTERS = "ABCDEFGHIJ";
const choiceCompletions = [...Array(5000)].map((_, i) => ({ gold: LETTERS[i % 10]!, text: `Let me think step by step about option ${LETTERS[(i * 7) % 10]}.\nAnswer: ${LETTERS[(i * 3) % 10]}` }));
const choiceGrading = await timeRounds(async () => {
  for (const c of choiceCompletions) gradeChoice(c.gold, c.text, 10);
  return choiceCompletions.length;
});

const spec = customMathBenchmark({
  name: "bench",
  title: "Bench",
  items: [...Array(ITEMS)].map((_, i) => ({ id: `b${i}`, problem: `Problem ${i}: what is ${i} + ${i}?`, answer: String(2 * i) })),
});
const items = await spec.load();
const server = await startOpenAIServer({
  handler: async (req) => {
    await delay(LATENCY_MS);
    const i = Number(/Problem (\d+):/.exec(req.messages.at(-1)?.content ?? "")?.[1]);
    return `Adding, \\boxed{${(req.seed ?? 0) % 2 ? 2 * i : 2 * i + 1}}`;
  },
});
const endpoint: { concurrency: number; samples: number; seconds: number; samplesPerSec: number; maxInFlight: number }[] = [];
try {
  for (const concurrency of [1, 8]) {
    const dir = mkdtempSync(join(tmpdir(), "eval-bench-"));
    const runner = endpointRunner({ baseUrl: server.url, model: "bench" });
    const start = performance.now();
    const res = await runEvaluation({
      benchmarks: [{ spec, items }],
      protocol: { temperature: 0.6, topP: 0.95, maxTokens: 64, samples: { default: SAMPLES }, k: [1], seed: 0 },
      runner,
      outDir: dir,
      concurrency,
      progress: false,
    });
    const seconds = (performance.now() - start) / 1000;
    endpoint.push({ concurrency, samples: res.newSamples, seconds: +seconds.toFixed(2), samplesPerSec: +(res.newSamples / seconds).toFixed(1), maxInFlight: server.maxInFlight });
    await runner.close?.();
    rmSync(dir, { recursive: true, force: true });
  }
} finally {
  await server.close();
}

const result = {
  node: process.version,
  rounds: ROUNDS,
  grading: [
    { grader: "math (MATH-500 golds, verifyMath)", samples: mathItems.length, samplesPerSec: mathGrading.perSec },
    { grader: "choice (10 options)", samples: choiceCompletions.length, samplesPerSec: choiceGrading.perSec },
  ],
  endpointRunner: { simulatedLatencyMs: LATENCY_MS, items: ITEMS, samplesPerItem: SAMPLES, runs: endpoint, speedup8vs1: +(endpoint[1]!.samplesPerSec / endpoint[0]!.samplesPerSec).toFixed(2) },
  peakRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
};
console.table(result.grading);
console.table(endpoint);
console.log(`speedup at concurrency 8 vs 1: ${result.endpointRunner.speedup8vs1}×; peak RSS ${result.peakRssMiB} MiB`);
const outDir = join(here, "..", "bench-results");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "eval.json"), `${JSON.stringify(result, null, 2)}\n`);
