// Step 5: each model (base, SFT, DPO) is served by infialign-serve's `startServer` and evaluated over its OpenAI API —
// the path a vLLM user takes — with @infialign/eval (`runEvaluation` + `endpointRunner` on a `customMathBenchmark` of the
// held-out split: every completion persisted as it arrives, so an interrupted evaluation resumes without re-querying).
// Standard errors, per-item scores and answer flips are eval's (`compareRuns`); the example adds the per-family table.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type BenchmarkResult, compareRuns, customMathBenchmark, type EvalRunResult, endpointRunner, mean, type RunComparison, resolveProtocol, runEvaluation } from "@infialign/eval";
import { startServer } from "@infialign/model";
import { type ClaimVerdict, judgeClaim, summarizeArm } from "./ablationStats.js";
import { loadEngine } from "./engine.js";

/** One line of the generator's `heldout.jsonl`. */
export interface HeldOutItem {
  id: string;
  problem: string;
  answer: string;
  domain?: string;
  difficulty?: number;
}

export interface EvalProtocol {
  /** Samples per item (avg@n). */
  samples: number;
  temperature: number;
  topP: number;
  maxTokens: number;
  /** Sample i of every item uses seed + i. */
  seed: number;
}

/** An OpenAI-compatible endpoint: `baseUrl` ends in `/v1`. */
export interface EvalEndpoint {
  baseUrl: string;
  model: string;
}

/** Bumped when the shape of the step's result changes, so that older completion markers are not read as this one. */
export const EVALUATION_FORMAT = 2;

export interface ModelEvaluation {
  model: string;
  /**
   * @infialign/eval's result, one benchmark (the held-out split): avg@n, its standard error, each item's accuracy
   * (`perItem`), the grade reasons and the per-difficulty table. See {@link heldOutResult}.
   */
  run: EvalRunResult;
  /** Accuracy per family (the held-out items' `domain`), from eval's per-item scores. */
  byDomain: Record<string, { items: number; avgAtN: number }>;
  seconds: number;
}

/** The held-out benchmark's result of an evaluation. */
export function heldOutResult(evaluation: Pick<ModelEvaluation, "model" | "run">): BenchmarkResult {
  const result = evaluation.run.benchmarks[0];
  if (!result) throw new Error(`[infialign/example-full-pipeline] evaluate: the evaluation of "${evaluation.model}" holds no benchmark result`);
  return result;
}

/** Mean of the per-item scores within each group of items (items without the key go to "?"). */
export function accuracyBy(items: readonly HeldOutItem[], perItem: Readonly<Record<string, number>>, key: (item: HeldOutItem) => string | number | undefined): Record<string, { items: number; avgAtN: number }> {
  const groups: Record<string, number[]> = {};
  for (const item of items) {
    const score = perItem[item.id];
    if (score !== undefined) (groups[String(key(item) ?? "?")] ??= []).push(score);
  }
  return Object.fromEntries(Object.entries(groups).map(([k, scores]) => [k, { items: scores.length, avgAtN: mean(scores) }]));
}

/**
 * @infialign/eval over the endpoint. Items are prompted with the bare problem — the format the from-scratch model was
 * trained on (the SFT data's user turn) — instead of R1's "reason step by step … \boxed{}" suffix, which a byte-level
 * model trained for minutes has never seen.
 */
export async function evaluateEndpoint(endpoint: EvalEndpoint, items: readonly HeldOutItem[], protocol: EvalProtocol, outDir: string): Promise<ModelEvaluation> {
  const started = Date.now();
  const spec = customMathBenchmark({ name: "heldout", title: "Held-out split", items: items.map((it) => ({ id: it.id, problem: it.problem, answer: it.answer, ...(it.difficulty === undefined ? {} : { difficulty: it.difficulty }), ...(it.domain === undefined ? {} : { domain: it.domain }) })) });
  const problemOf = new Map(items.map((it) => [it.id, it.problem]));
  const evalItems = (await spec.load()).map((item) => ({ ...item, messages: [{ role: "user", content: problemOf.get(item.id) ?? "" }] }));
  const { resumedSamples: _resumed, newSamples: _new, regradedSamples: _regraded, ...run } = await runEvaluation({
    benchmarks: [{ spec, items: evalItems }],
    protocol: resolveProtocol("default", { temperature: protocol.temperature, topP: protocol.topP, maxTokens: protocol.maxTokens, seed: protocol.seed, samples: { default: protocol.samples }, k: [1] }),
    runner: endpointRunner({ baseUrl: endpoint.baseUrl, model: endpoint.model, maxRetries: 2, timeoutMs: 300_000 }),
    outDir,
    model: endpoint.model,
    progress: false,
  });
  const evaluation = { model: endpoint.model, run };
  return { ...evaluation, byDomain: accuracyBy(items, heldOutResult(evaluation).perItem, (i) => i.domain), seconds: (Date.now() - started) / 1000 };
}

/** Answer flips and the accuracy delta (with its paired standard error) from one model to the next, by @infialign/eval. */
export async function compareModels(results: readonly ModelEvaluation[]): Promise<RunComparison[]> {
  const comparisons: RunComparison[] = [];
  for (let i = 1; i < results.length; i++) comparisons.push(await compareRuns({ result: (results[i - 1] as ModelEvaluation).run }, { result: (results[i] as ModelEvaluation).run }));
  return comparisons;
}

export async function readHeldOut(path: string, limit: number): Promise<HeldOutItem[]> {
  const items: HeldOutItem[] = [];
  const lines = (await readFile(path, "utf8")).split("\n");
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as Partial<HeldOutItem>;
    if (typeof r.problem !== "string" || r.answer === undefined) throw new Error(`[infialign/example-full-pipeline] evaluate: ${path} line ${i + 1} needs "problem" and "answer" (fields seen: ${Object.keys(r).join(", ")})`);
    items.push({ id: String(r.id ?? i + 1), problem: r.problem, answer: String(r.answer), ...(r.domain === undefined ? {} : { domain: r.domain }), ...(r.difficulty === undefined ? {} : { difficulty: r.difficulty }) });
    if (items.length >= limit) break;
  }
  return items;
}

export interface EvaluateStepOptions {
  /** Models to evaluate, by name (e.g. base / sft / dpo) and checkpoint directory. */
  models: Array<{ name: string; dir: string }>;
  items: readonly HeldOutItem[];
  protocol: EvalProtocol;
  /** Separates the completion caches of different weights served under the same name (the step key). */
  cacheTag: string;
  log?: (line: string) => void;
}

export interface EvaluateResult {
  protocol: EvalProtocol;
  engine: string;
  results: ModelEvaluation[];
  /** @infialign/eval's `compareRuns` from each model to the next (base → sft → dpo): flips, delta ± paired stderr. */
  comparisons: RunComparison[];
  /** "DPO adds accuracy over SFT", judged from a paired bootstrap over the items (one run each). */
  verdicts?: ClaimVerdict[];
}

/** The main run's DPO claim: the dpo model against the sft model on the same items (no seed level: one run each). */
export function mainVerdicts(results: readonly ModelEvaluation[]): ClaimVerdict[] {
  const sft = results.find((r) => r.model === "sft");
  const dpo = results.find((r) => r.model === "dpo");
  if (!sft || !dpo) return [];
  const arm = (r: ModelEvaluation) => {
    const held = heldOutResult(r);
    return summarizeArm(r.model, r.model, [{ seed: 0, accuracy: held.avgAtN, perItem: held.perItem, tokens: 0, seconds: 0 }]);
  };
  return [judgeClaim("DPO on the SFT model's own errors adds accuracy", arm(dpo), arm(sft), "greater")];
}

export async function runEvaluateStep(dir: string, options: EvaluateStepOptions): Promise<EvaluateResult> {
  const results: ModelEvaluation[] = [];
  let engineName = "";
  for (const { name, dir: modelDir } of options.models) {
    const engine = await loadEngine(modelDir);
    engineName = engine.engine;
    const server = await startServer({ model: engine.model, tokenizer: engine.tokenizer, modelId: name, port: 0, maxBatchSize: 16 });
    try {
      options.log?.(`evaluate: ${name} served at ${server.url}/v1 (${engine.engine})`);
      results.push(await evaluateEndpoint({ baseUrl: `${server.url}/v1`, model: name }, options.items, options.protocol, join(dir, "cache", options.cacheTag.slice(0, 16), name)));
    } finally {
      await server.close();
      engine.dispose();
    }
  }
  return { protocol: options.protocol, engine: engineName, results, comparisons: await compareModels(results), verdicts: mainVerdicts(results) };
}
