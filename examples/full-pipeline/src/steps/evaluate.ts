// Step 5: each model (base, SFT, DPO) is served by infialign-serve's `startServer` and evaluated over its OpenAI API —
// the path a vLLM user takes. The default evaluator is @infialign/eval (`runEvaluation` + `endpointRunner` on a
// `customMathBenchmark` of the held-out split: every completion persisted as it arrives, so an interrupted evaluation
// resumes without re-querying). `chatEvaluator` is a minimal alternative over the shared OpenAI client.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { DiskCache, OpenAIChatClient } from "@infialign/data";
import { customMathBenchmark, endpointRunner, readSamples, resolveProtocol, runEvaluation } from "@infialign/eval";
import { startServer } from "@infialign/model";
import { verifyMath } from "@infialign/verify";
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

export interface ModelEvaluation {
  model: string;
  items: number;
  samplesPerItem: number;
  /** Mean correctness over every sample (= pass@1 as R1 reports it), in [0, 1]. */
  avgAtN: number;
  /** Standard error of avgAtN over items (each item's mean over its samples). */
  stderr: number;
  byDifficulty: Record<string, { items: number; avgAtN: number }>;
  /** Accuracy per family (the held-out items' `domain`). */
  byDomain: Record<string, { items: number; avgAtN: number }>;
  /** Each item's mean correctness, by item id (for flips). */
  perItem: Record<string, number>;
  /** Samples whose completion had no extractable answer. */
  noAnswer: number;
  seconds: number;
}

export type Evaluator = (endpoint: EvalEndpoint, items: readonly HeldOutItem[], protocol: EvalProtocol, cacheDir: string) => Promise<ModelEvaluation>;

/** avg@n and its standard error over items (sample standard deviation of the per-item means / √items). */
export function avgAndStderr(perItemMeans: readonly number[]): { avgAtN: number; stderr: number } {
  const m = perItemMeans.length;
  if (m === 0) return { avgAtN: 0, stderr: 0 };
  const avgAtN = perItemMeans.reduce((a, b) => a + b, 0) / m;
  if (m === 1) return { avgAtN, stderr: 0 };
  const variance = perItemMeans.reduce((a, b) => a + (b - avgAtN) ** 2, 0) / (m - 1);
  return { avgAtN, stderr: Math.sqrt(variance / m) };
}

/** Mean of the per-item means within each group (items without the key go to "?"). */
export function accuracyBy(items: readonly HeldOutItem[], perItem: Readonly<Record<string, number>>, key: (item: HeldOutItem) => string | number | undefined): Record<string, { items: number; avgAtN: number }> {
  const groups: Record<string, number[]> = {};
  for (const item of items) {
    const mean = perItem[item.id];
    if (mean !== undefined) (groups[String(key(item) ?? "?")] ??= []).push(mean);
  }
  return Object.fromEntries(Object.entries(groups).map(([k, means]) => [k, { items: means.length, avgAtN: avgAndStderr(means).avgAtN }]));
}

/** The example's adapter: one chat request per sample through the shared client, graded with verifyMath. */
export const chatEvaluator: Evaluator = async (endpoint, items, protocol, cacheDir) => {
  const started = Date.now();
  const client = new OpenAIChatClient({ baseURL: endpoint.baseUrl, model: endpoint.model, concurrency: 8, maxRetries: 2, timeoutMs: 300_000, cache: new DiskCache(cacheDir) });
  let noAnswer = 0;
  const outcomes = await Promise.all(
    items.map(async (item) => {
      const correct = await Promise.all(
        Array.from({ length: protocol.samples }, async (_, i) => {
          const reply = await client.chat({ messages: [{ role: "user", content: item.problem }], temperature: protocol.temperature, top_p: protocol.topP, max_tokens: protocol.maxTokens, seed: protocol.seed + i });
          const verdict = verifyMath(item.answer, reply.choices[0]?.content ?? "");
          if (verdict.reason === "no_answer") noAnswer++;
          return verdict.correct ? 1 : 0;
        }),
      );
      return { item, mean: correct.reduce<number>((a, b) => a + b, 0) / correct.length };
    }),
  );
  const perItem = Object.fromEntries(outcomes.map((o) => [o.item.id, o.mean]));
  return {
    model: endpoint.model,
    items: items.length,
    samplesPerItem: protocol.samples,
    ...avgAndStderr(outcomes.map((o) => o.mean)),
    byDifficulty: accuracyBy(items, perItem, (i) => i.difficulty),
    byDomain: accuracyBy(items, perItem, (i) => i.domain),
    perItem,
    noAnswer,
    seconds: (Date.now() - started) / 1000,
  };
};

/**
 * @infialign/eval over the endpoint. Items are prompted with the bare problem — the format the from-scratch model was
 * trained on (the SFT data's user turn) — instead of R1's "reason step by step … \boxed{}" suffix, which a byte-level
 * model trained for minutes has never seen.
 */
export const evalPackageEvaluator: Evaluator = async (endpoint, items, protocol, cacheDir) => {
  const started = Date.now();
  const spec = customMathBenchmark({ name: "heldout", title: "Held-out split", items: items.map((it) => ({ id: it.id, problem: it.problem, answer: it.answer, ...(it.difficulty === undefined ? {} : { difficulty: it.difficulty }), ...(it.domain === undefined ? {} : { domain: it.domain }) })) });
  const problemOf = new Map(items.map((it) => [it.id, it.problem]));
  const evalItems = (await spec.load()).map((item) => ({ ...item, messages: [{ role: "user", content: problemOf.get(item.id) ?? "" }] }));
  const result = await runEvaluation({
    benchmarks: [{ spec, items: evalItems }],
    protocol: resolveProtocol("default", { temperature: protocol.temperature, topP: protocol.topP, maxTokens: protocol.maxTokens, seed: protocol.seed, samples: { default: protocol.samples }, k: [1] }),
    runner: endpointRunner({ baseUrl: endpoint.baseUrl, model: endpoint.model, maxRetries: 2, timeoutMs: 300_000 }),
    outDir: cacheDir,
    model: endpoint.model,
    progress: false,
  });
  const bench = result.benchmarks[0];
  const { samples } = await readSamples(join(cacheDir, "samples.jsonl"));
  const sums = new Map<string, { correct: number; n: number }>();
  let noAnswer = 0;
  for (const sample of samples) {
    const entry = sums.get(sample.itemId) ?? { correct: 0, n: 0 };
    entry.correct += sample.grade.correct ? 1 : 0;
    entry.n += 1;
    sums.set(sample.itemId, entry);
    if (sample.grade.reason === "no_answer") noAnswer++;
  }
  const perItem = Object.fromEntries([...sums].map(([id, { correct, n }]) => [id, correct / n]));
  return {
    model: endpoint.model,
    items: bench?.items ?? 0,
    samplesPerItem: bench?.samplesPerItem ?? protocol.samples,
    avgAtN: bench?.avgAtN ?? 0,
    stderr: bench?.stderr ?? 0,
    byDifficulty: bench?.byDifficulty ?? accuracyBy(items, perItem, (i) => i.difficulty),
    byDomain: accuracyBy(items, perItem, (i) => i.domain),
    perItem,
    noAnswer,
    seconds: (Date.now() - started) / 1000,
  };
};

/** Answer flips between two runs, item by item (an item counts as solved when most of its samples are correct). */
export interface Flips {
  from: string;
  to: string;
  wrongToCorrect: number;
  correctToWrong: number;
  bothCorrect: number;
  bothWrong: number;
}

export function compareEvaluations(from: ModelEvaluation, to: ModelEvaluation): Flips {
  const flips: Flips = { from: from.model, to: to.model, wrongToCorrect: 0, correctToWrong: 0, bothCorrect: 0, bothWrong: 0 };
  for (const [id, a] of Object.entries(from.perItem)) {
    const b = to.perItem[id];
    if (b === undefined) continue;
    const ok = (v: number) => v > 0.5;
    if (ok(a) && ok(b)) flips.bothCorrect++;
    else if (ok(a)) flips.correctToWrong++;
    else if (ok(b)) flips.wrongToCorrect++;
    else flips.bothWrong++;
  }
  return flips;
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
  /** @default evalPackageEvaluator */
  evaluator?: Evaluator;
  /** Separates the completion caches of different weights served under the same name (the step key). */
  cacheTag: string;
  log?: (line: string) => void;
}

export interface EvaluateResult {
  protocol: EvalProtocol;
  engine: string;
  results: ModelEvaluation[];
  flips: Flips[];
  /** "DPO adds accuracy over SFT", judged from a paired bootstrap over the items (one run each). */
  verdicts?: ClaimVerdict[];
}

/** The main run's DPO claim: the dpo model against the sft model on the same items (no seed level: one run each). */
export function mainVerdicts(results: readonly ModelEvaluation[]): ClaimVerdict[] {
  const sft = results.find((r) => r.model === "sft");
  const dpo = results.find((r) => r.model === "dpo");
  if (!sft || !dpo) return [];
  const arm = (r: ModelEvaluation) => summarizeArm(r.model, r.model, [{ seed: 0, accuracy: r.avgAtN, perItem: r.perItem, tokens: 0, seconds: 0 }]);
  return [judgeClaim("DPO on the SFT model's own errors adds accuracy", arm(dpo), arm(sft), "greater")];
}

export async function runEvaluateStep(dir: string, options: EvaluateStepOptions): Promise<EvaluateResult> {
  const evaluator = options.evaluator ?? evalPackageEvaluator;
  const results: ModelEvaluation[] = [];
  let engineName = "";
  for (const { name, dir: modelDir } of options.models) {
    const engine = await loadEngine(modelDir);
    engineName = engine.engine;
    const server = await startServer({ model: engine.model, tokenizer: engine.tokenizer, modelId: name, port: 0, maxBatchSize: 16 });
    try {
      options.log?.(`evaluate: ${name} served at ${server.url}/v1 (${engine.engine})`);
      results.push(await evaluator({ baseUrl: `${server.url}/v1`, model: name }, options.items, options.protocol, join(dir, "cache", options.cacheTag.slice(0, 16), name)));
    } finally {
      await server.close();
      engine.dispose();
    }
  }
  const flips: Flips[] = [];
  for (let i = 1; i < results.length; i++) flips.push(compareEvaluations(results[i - 1] as ModelEvaluation, results[i] as ModelEvaluation));
  return { protocol: options.protocol, engine: engineName, results, flips, verdicts: mainVerdicts(results) };
}
