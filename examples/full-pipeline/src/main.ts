// `pnpm demo`: the whole InfiAlign pipeline on generated data — parse flags → run the step graph → print the summary.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { isCI } from "@infialign/data";
import { resolveDemoConfig } from "./config.js";
import { checkInvariants } from "./invariants.js";
import { type DemoRunResult, runDemo } from "./runDemo.js";
import { heldOutResult } from "./steps/evaluate.js";

const HELP = `Usage: pnpm demo [-- options]

InfiAlign end to end on embedded, generated data (no network, no GPU):

  sources (seeded task world: 4 arithmetic procedures, 2 source schemas + a flawed teacher, injected defects,
           balanced held-out and dev splits)
  → normalize → exact dedup → decontaminate → verify-based QC → near-dup removal → selection
  → SFT in two phases (easy, then hard) of a small Qwen2 trained from scratch
  → DPO on pairs from the SFT model's own errors
  → evaluation of base / SFT / DPO through infialign-serve's OpenAI API
  → runs/demo/report.html

Each step writes a completion marker (step.json); rerunning continues after the last completed step.

Options:
  --out <dir>     run directory (default: <repo>/runs/demo, or runs/demo-smoke with --smoke)
  --seed <n>      seed of every random choice (default: 0)
  --problems <n>  distinct problems in the raw pool (default: 24000; 600 with --smoke)
  --budget <n>    records the selection keeps (default: 6000; 150 with --smoke)
  --pools         also feed the real pools in ../shared/data/pools to the data stages
  --ablation      also train and evaluate the arms (full pool, curated, random, no QC, no difficulty sampling,
                  proportional domains, one phase, SFT+DPO) over 3 seeds, with bootstrap intervals and computed
                  verdicts; the main run is the curated arm's first seed. Hours on 2 cores: use --arms / --seeds
  --arms <list>   comma-separated subset of the ablation arms
  --seeds <n>     seeds per ablation arm (default: 3)
  --executor <e>  who runs the data stages: local (default, one process), processes (worker processes on this
                  machine) or bullmq (tasks on Redis for workers on any machine; needs --redis). Same outputs
  --workers <n>   worker processes for --executor processes (default: the number of cores)
  --redis <url>   Redis for --executor bullmq (start workers with: pnpm demo:curate -- --worker --redis <url>)
  --force         rerun every step
  --smoke         CI mode: tiny sizes; checks the invariants, then reruns and fails unless nothing is recomputed
  -h, --help      this help
`;

const repoRoot = resolve(import.meta.dirname, "../../..");
const PREFIX = "[infialign/example-full-pipeline]";

function summary(result: DemoRunResult): string {
  const lines = [`report: ${result.reportPath}`];
  for (const f of result.curate.funnel) lines.push(`  ${f.stage.padEnd(10)} in ${f.in}  out ${f.out}  rejected ${f.rejected}  deduplicated ${f.deduplicated}`);
  for (const r of result.evaluation.results) {
    const held = heldOutResult(r);
    lines.push(`  ${r.model.padEnd(5)} avg@${held.samplesPerItem} ${(100 * held.avgAtN).toFixed(1)}% ± ${(100 * held.stderr).toFixed(1)} (${held.items} items)`);
  }
  for (const v of result.evaluation.verdicts ?? []) lines.push(`  ${v.verdict.toUpperCase()}: ${v.claim} — ${v.detail}`);
  if (result.ablation) {
    for (const a of result.ablation.arms) lines.push(`  ablation ${a.name.padEnd(13)} ${(100 * a.mean).toFixed(1)}% (95% CI ${(100 * a.low).toFixed(1)}–${(100 * a.high).toFixed(1)}), ${a.tokens.toFixed(0)} tokens, ${a.seconds.toFixed(0)} s`);
    for (const v of result.ablation.verdicts) lines.push(`  ${v.verdict.toUpperCase()}: ${v.claim} — ${v.detail}`);
  }
  const total = Object.values(result.seconds).reduce((a, b) => a + b, 0);
  lines.push(`  steps run: ${result.executed.join(", ") || "none"}; skipped: ${result.skipped.join(", ") || "none"}; step time ${total.toFixed(0)} s`);
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<number> {
  let values: ReturnType<typeof parse>["values"];
  try {
    ({ values } = parse());
  } catch (error) {
    process.stderr.write(`${PREFIX} ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) {
    process.stderr.write(`${PREFIX} --seed "${values.seed}": expected a non-negative integer\n`);
    return 2;
  }
  const smoke = values.smoke;
  const kind = values.executor;
  if (kind !== "local" && kind !== "processes" && kind !== "bullmq") {
    process.stderr.write(`${PREFIX} --executor "${kind}": expected local, processes or bullmq\n`);
    return 2;
  }
  if (kind === "bullmq" && !values.redis) {
    process.stderr.write(`${PREFIX} --executor bullmq needs --redis <url>, e.g. redis://127.0.0.1:6379\n`);
    return 2;
  }
  const executor = { kind, ...(values.workers ? { workers: Number(values.workers) } : {}), ...(values.redis ? { redis: values.redis } : {}) } as const;

  const config = resolveDemoConfig(
    {
      outDir: values.out ?? resolve(repoRoot, smoke ? "runs/demo-smoke" : "runs/demo"),
      seed,
      force: values.force,
      pools: values.pools,
      ...(values.problems === undefined ? {} : { pool: Number(values.problems) }),
      ...(values.budget === undefined ? {} : { budget: Number(values.budget) }),
      ...(values.arms === undefined && values.seeds === undefined
        ? {}
        : { ablation: { ...(values.arms === undefined ? {} : { arms: values.arms.split(",").map((a) => a.trim()) }), ...(values.seeds === undefined ? {} : { seeds: Number(values.seeds) }) } }),
    },
    smoke ? "smoke" : "default",
  );
  const quiet = isCI();
  const log = quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();
  const result = await runDemo(config, { ablation: values.ablation, log, progress: !quiet, executor });
  process.stdout.write(summary(result));
  if (!smoke) return 0;

  const failures = checkInvariants(result);
  const again = await runDemo({ ...config, force: false }, { ablation: values.ablation, log, progress: false, executor });
  if (again.executed.length > 0) failures.push(`the rerun recomputed ${again.executed.join(", ")}; every step should have been skipped`);
  if (failures.length > 0) {
    process.stderr.write(`${PREFIX} smoke FAILED:\n  ${failures.join("\n  ")}\n`);
    return 1;
  }
  process.stdout.write(`smoke OK in ${((Date.now() - started) / 1000).toFixed(0)} s: invariants hold, the rerun recomputed nothing\n`);
  return 0;
}

function parse() {
  return parseArgs({
    // `pnpm demo -- --smoke` forwards the "--" itself; drop it.
    args: process.argv.slice(2).filter((arg) => arg !== "--"),
    options: {
      out: { type: "string" },
      seed: { type: "string", default: "0" },
      problems: { type: "string" },
      budget: { type: "string" },
      arms: { type: "string" },
      seeds: { type: "string" },
      pools: { type: "boolean", default: false },
      ablation: { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      executor: { type: "string", default: "local" },
      workers: { type: "string" },
      redis: { type: "string" },
      smoke: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Our errors name the step, field and fix; the stack only helps when debugging.
    const message = error instanceof Error ? (process.env.INFIALIGN_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
    process.stderr.write(`${message}\n`);
    process.exitCode = 1;
  },
);
