// `pnpm tune:dpo`: DPO's β, learning rate and prompt count tuned on the dev split (never the held-out split), from a
// finished run's SFT model. Each grid point is a DPO run plus a greedy evaluation of dev.jsonl; the table goes to
// <run>/tune-dpo/tuning.json and stdout. DEFAULT_DEMO_CONFIG.dpo holds the winner of the last tuning (see README).
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { resolveDemoConfig } from "./config.js";
import { buildDpoPairs, trainDpoOnPairs } from "./steps/dpo.js";
import { type EvaluateResult, heldOutResult, readHeldOut, runEvaluateStep } from "./steps/evaluate.js";

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    run: { type: "string", default: resolve(import.meta.dirname, "../../../runs/demo") },
    betas: { type: "string", default: "0.1,0.3" },
    lrs: { type: "string", default: "2e-5,1e-4" },
    prompts: { type: "string", default: "400" },
  },
});
const run = resolve(values.run);
const marker = (step: string) => join(run, step, "step.json");
for (const step of ["sources", "curate", "sft"]) if (!existsSync(marker(step))) throw new Error(`[infialign/example-full-pipeline] tune-dpo: ${marker(step)} is missing; finish a run first (pnpm demo -- --out ${run}).`);
interface Marker<R> {
  key: string;
  result: R;
}
const read = async <R>(step: string) => JSON.parse(await readFile(marker(step), "utf8")) as Marker<R>;
const sources = await read<{ dev?: string }>("sources");
const curate = await read<{ files: { unselected: string } }>("curate");
const sft = await read<{ finalDir: string }>("sft");
const devPath = sources.result.dev;
if (!devPath) throw new Error("[infialign/example-full-pipeline] tune-dpo: this run's sources have no dev split; rerun the sources step with this version.");
const dev = await readHeldOut(devPath, Number.POSITIVE_INFINITY);
const config = resolveDemoConfig({ outDir: run });
const protocol = { ...config.evaluation, seed: config.seed };
const sftDir = sft.result.finalDir;
const unselected = curate.result.files.unselected;
const out = join(run, "tune-dpo");
const rows: Array<{ beta: number; learningRate: number; prompts: number; pairs: number; dev: number; seconds: number }> = [];
const accuracy = (e: EvaluateResult) => (e.results[0] ? heldOutResult(e.results[0]).avgAtN : 0);
const base = await runEvaluateStep(join(out, "sft-eval"), { models: [{ name: "sft", dir: sftDir }], items: dev, protocol, cacheTag: sft.key });
process.stdout.write(`SFT on dev (${dev.length} items): ${(100 * accuracy(base)).toFixed(1)}%\n`);
for (const prompts of values.prompts.split(",").map(Number)) {
  // One pair construction per prompt count: β and the learning rate do not change what the SFT model samples.
  const pairsRoot = join(out, `p${prompts}`);
  await mkdir(pairsRoot, { recursive: true });
  const step = { config: { ...config, dpo: { ...config.dpo, prompts } }, sftDir, sftId: sft.key, samples: unselected, resume: true, progress: false };
  const pairs = await buildDpoPairs(pairsRoot, step);
  for (const beta of values.betas.split(",").map(Number)) {
    for (const learningRate of values.lrs.split(",").map(Number)) {
      const dir = join(pairsRoot, `b${beta}-lr${learningRate}`);
      await mkdir(dir, { recursive: true });
      const started = Date.now();
      const dpo = await trainDpoOnPairs(dir, pairs, { ...step, config: { ...step.config, dpo: { ...step.config.dpo, beta, learningRate } } });
      const evaluated = await runEvaluateStep(join(dir, "dev-eval"), { models: [{ name: "dpo", dir: dpo.finalDir }], items: dev, protocol, cacheTag: `${prompts}-${beta}-${learningRate}` });
      const row = { beta, learningRate, prompts, pairs: dpo.pairs, dev: accuracy(evaluated), seconds: (Date.now() - started) / 1000 };
      rows.push(row);
      process.stdout.write(`β ${beta}  lr ${learningRate}  prompts ${prompts}  pairs ${row.pairs}  dev ${(100 * row.dev).toFixed(1)}%  (${row.seconds.toFixed(0)} s of training + evaluation)\n`);
    }
  }
}
const best = rows.reduce((a, b) => (b.dev > a.dev ? b : a));
await writeFile(join(out, "tuning.json"), `${JSON.stringify({ split: devPath, sft: accuracy(base), rows, best }, null, 2)}\n`);
process.stdout.write(`best on dev: β ${best.beta}, lr ${best.learningRate}, prompts ${best.prompts} (${(100 * best.dev).toFixed(1)}% vs SFT ${(100 * accuracy(base)).toFixed(1)}%)\n`);
