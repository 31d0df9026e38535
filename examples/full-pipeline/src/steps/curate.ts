// Step 2: InfiAlign's curation stages (`infialignCurationStages` of @infialign/sampling, as examples/curate runs them),
// then the curriculum split of the selected records into an easier and a harder SFT phase.
import { readFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { readShards, resolveInputs, runPipeline, type Sample, type StageCounts, type StageRunSummary } from "@infialign/data";
import { loadBenchmarkFile, loadShippedBenchmarks } from "@infialign/decontam";
import { createRng } from "@infialign/kernels";
import { infialignCurationStages, nearDupStage, type SelectStageOptions, selectStage } from "@infialign/sampling";
import { writeJsonl } from "@infialign/train-sft";
import { domainOfProblem } from "../generator/domains.js";

/** Bumped when what the curation stages output changes (decontam learning stock phrases: 2), so an older run reruns curate. */
export const CURATION_RECIPE = 2;

/** Counts of one data stage, for the funnel. */
export interface FunnelRow extends StageCounts {
  stage: string;
  seconds: number;
}

/** Records per domain × difficulty bucket, as the selection stage reports them (its domain labels and difficulty quartiles). */
export interface Composition {
  /** Difficulty bucket labels, e.g. `"Q1 ≤ 48"` (response length quartiles of the pool). */
  difficultyLabels: string[];
  /** Domain → records per difficulty bucket, in the pool offered to selection and in the selected subset. */
  before: Record<string, number[]>;
  after: Record<string, number[]>;
  /** What the difficulty measures, e.g. `"response_tokens"`. */
  metric: string;
}

export interface CurateOptions {
  /** Source files (generator output, plus the real pools with --pools). */
  files: string[];
  /** Held-out split (JSONL with `problem`), indexed as a user benchmark next to the shipped ones. */
  heldOut: string;
  budget: number;
  seed: number;
  /** Difficulty at or below which a record is "easy" (phase 1). */
  easyMaxDifficulty: number;
  force: boolean;
  progress?: boolean;
  /** Who runs the data stages (outputs are the same whichever does). @default local */
  executor?: ExecutorChoice;
}

/** `--executor`: this process (stages fused), worker processes on this machine, or BullMQ workers on Redis. */
export interface ExecutorChoice {
  kind: "local" | "processes" | "bullmq";
  workers?: number;
  redis?: string;
}

/** Training-data size: records and UTF-8 bytes of prompt + response (= tokens of the byte-level model, chat markup aside). */
export interface DataSize {
  records: number;
  tokens: number;
}

export interface CurateResult {
  funnel: FunnelRow[];
  /** Composition of the pool offered to selection and of the selected subset. */
  composition: Composition;
  /**
   * Canonical sample files: the selected subset and its phase split; the cleaned pool offered to selection; and, for
   * the ablation, every parseable record before any filtering (`raw`) and the pool before verification (`unverified`);
   * `unselected`: verified pool records the selection left out (DPO draws its prompts there, unseen by SFT).
   */
  files: { selected: string; easy: string; hard: string; pool: string; raw: string; unverified: string; unselected: string };
  counts: { selected: number; easy: number; hard: number; pool: number; raw: number; unverified: number; unselected: number };
  /** Size of the raw pool and of the selected subset (the data-efficiency ratio). */
  sizes: { raw: DataSize; pool: DataSize; selected: DataSize };
  /** Records the decontamination stage removed per benchmark. */
  contaminationByBenchmark: Record<string, number>;
}

const CHARACTERS = { name: "characters", count: (text: string) => text.length };

export function dataSize(samples: readonly Sample[]): DataSize {
  return { records: samples.length, tokens: samples.reduce((n, s) => n + Buffer.byteLength(s.prompt) + Buffer.byteLength(s.response ?? ""), 0) };
}

/** The task world's families, read from each prompt (the taxonomy labeler knows only subject areas). */
export const domainOfSample = (sample: Pick<Sample, "prompt">): string | undefined => domainOfProblem(sample.prompt);

export interface SelectVariant {
  /** @default "balanced" */
  domainQuotas?: "balanced" | "proportional";
  /** "random" = diversity sampling without difficulty sampling. @default "hardest" */
  order?: "hardest" | "random";
}

/** The selection as the demo configures it (characters as the difficulty proxy, families as domains). */
export function demoSelectOptions(budget: number, seed: number, variant: SelectVariant = {}): SelectStageOptions {
  return { budget, domainQuotas: variant.domainQuotas ?? "balanced", order: variant.order ?? "hardest", seed, tokenizer: CHARACTERS, domainOf: { id: "task-world-families-v1", label: domainOfSample } };
}

/**
 * An ablation's selection: `input` (canonical samples) → [near-dup removal] → selection with `variant`, in its own run
 * directory; returns the selected samples' file.
 */
export async function runSelectVariant(dir: string, options: { input: string; budget: number; seed: number; variant: SelectVariant; nearDup: boolean; force: boolean; progress?: boolean }): Promise<{ file: string; size: DataSize }> {
  const result = await runPipeline({
    name: "select",
    runsDir: dir,
    source: { files: await resolveInputs(options.input), decode: "samples" },
    stages: [...(options.nearDup ? [nearDupStage()] : []), selectStage(demoSelectOptions(options.budget, options.seed, options.variant))],
    force: options.force,
    seed: options.seed,
    ...(options.progress === undefined ? {} : { progress: options.progress }),
  });
  const last = result.stages.at(-1);
  if (!last) throw new Error("[infialign/example-full-pipeline] select variant: the pipeline returned no stage");
  const selected = await readStage(last);
  const file = join(dir, "selected.jsonl");
  await writeJsonl(file, selected);
  return { file, size: dataSize(selected) };
}

/** A sample's difficulty as the source gave it (MATH-style `level` = reasoning steps of the generator). */
export function difficultyOf(sample: Pick<Sample, "meta">): number | undefined {
  const level = sample.meta.level;
  return typeof level === "number" && Number.isFinite(level) ? level : undefined;
}

/** Reads the selection stage's own report (manifest `stats`) into a {@link Composition}. */
export function compositionFromSelectStats(stats: Record<string, unknown>): Composition {
  const composition = stats.composition as { before?: Record<string, number[]>; after?: Record<string, number[]> } | undefined;
  const difficulty = stats.difficulty as { labels?: string[]; metric?: string } | undefined;
  if (!composition?.before || !composition.after || !difficulty?.labels) {
    throw new Error(`[infialign/example-full-pipeline] curate: the select stage's manifest stats have no composition/difficulty report (fields seen: ${Object.keys(stats).join(", ")})`);
  }
  return { difficultyLabels: difficulty.labels, before: composition.before, after: composition.after, metric: difficulty.metric ?? "difficulty" };
}

/**
 * The curriculum split: records with a difficulty go by `easyMaxDifficulty`; records without one (GSM8K-style
 * sources carry no level) go by response length, the shorter half being "easy".
 */
export function splitByDifficulty(samples: readonly Sample[], easyMaxDifficulty: number): { easy: Sample[]; hard: Sample[] } {
  const easy: Sample[] = [];
  const hard: Sample[] = [];
  const unrated: Sample[] = [];
  for (const s of samples) {
    const d = difficultyOf(s);
    if (d === undefined) unrated.push(s);
    else (d <= easyMaxDifficulty ? easy : hard).push(s);
  }
  const byLength = unrated.map((s, i) => ({ s, i, n: (s.response ?? "").length })).sort((a, b) => a.n - b.n || a.i - b.i);
  const half = Math.floor(byLength.length / 2);
  for (const [rank, { s }] of byLength.entries()) (rank < half ? easy : hard).push(s);
  return { easy, hard };
}

/** A seeded subset of `k` records (partial Fisher–Yates), in pool order. */
export function randomSubset<T>(pool: readonly T[], k: number, seed: number): T[] {
  const rng = createRng(seed);
  const index = pool.map((_, i) => i);
  const n = Math.min(k, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + rng.nextInt(index.length - i);
    [index[i], index[j]] = [index[j] as number, index[i] as number];
  }
  return index
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => pool[i] as T);
}


async function readStage(summary: StageRunSummary): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const r of readShards(summary.manifest.shards, summary.dir)) out.push(r as Sample);
  return out;
}

/** The curation stages, rebuilt the same way by every worker of a sharded executor (the pipeline's recipe). */
export async function curationStages(args: { heldOut: string; budget: number; seed: number }) {
  const shipped = await loadShippedBenchmarks();
  const heldOut = await loadBenchmarkFile(args.heldOut, { name: "heldout", field: "problem" });
  return infialignCurationStages({ benchmarks: [...heldOut, ...shipped], select: demoSelectOptions(args.budget, args.seed) });
}

export async function runCurateStep(dir: string, options: CurateOptions): Promise<CurateResult> {
  const executor = options.executor ?? { kind: "local" };
  const result = await runPipeline({
    name: "stages",
    runsDir: dir,
    source: { files: await resolveInputs(options.files) },
    recipe: { module: fileURLToPath(import.meta.url), export: "curationStages", args: { heldOut: options.heldOut, budget: options.budget, seed: options.seed } },
    executor: executor.kind,
    ...(executor.workers ? { workers: executor.workers } : {}),
    ...(executor.redis ? { bullmq: { redis: executor.redis } } : {}),
    force: options.force,
    seed: options.seed,
    ...(options.progress === undefined ? {} : { progress: options.progress }),
  });
  const funnel = result.stages.map((s) => ({ stage: s.name, seconds: s.manifest.timings.seconds, ...s.manifest.counts }));
  const poolSummary = result.stages.at(-2);
  const selectSummary = result.stages.at(-1);
  if (!poolSummary || !selectSummary) throw new Error("[infialign/example-full-pipeline] curate: the pipeline returned fewer stages than it was given");
  const stageNamed = (prefix: string) => {
    const found = result.stages.find((s) => s.name.startsWith(prefix));
    if (!found) throw new Error(`[infialign/example-full-pipeline] curate: no "${prefix}" stage among ${result.stages.map((s) => s.name).join(", ")}`);
    return found;
  };
  const raw = await readStage(stageNamed("normalize"));
  const unverified = await readStage(stageNamed("decontam"));
  const pool = await readStage(poolSummary);
  const selected = await readStage(selectSummary);
  const { easy, hard } = splitByDifficulty(selected, options.easyMaxDifficulty);
  const files = {
    selected: join(dir, "selected.jsonl"),
    easy: join(dir, "phase1-easy.jsonl"),
    hard: join(dir, "phase2-hard.jsonl"),
    pool: join(dir, "pool.jsonl"),
    raw: join(dir, "raw.jsonl"),
    unverified: join(dir, "unverified.jsonl"),
    unselected: join(dir, "unselected.jsonl"),
  };
  const chosen = new Set(selected.map((s) => s.id));
  const unselected = pool.filter((s) => !chosen.has(s.id));
  await writeJsonl(files.selected, selected);
  await writeJsonl(files.easy, easy);
  await writeJsonl(files.hard, hard);
  await writeJsonl(files.pool, pool);
  await writeJsonl(files.raw, raw);
  await writeJsonl(files.unverified, unverified);
  await writeJsonl(files.unselected, unselected);
  const decontam = result.stages.find((s) => s.name.startsWith("decontam"));
  return {
    funnel,
    composition: compositionFromSelectStats(selectSummary.manifest.stats),
    files,
    counts: { selected: selected.length, easy: easy.length, hard: hard.length, pool: pool.length, raw: raw.length, unverified: unverified.length, unselected: unselected.length },
    sizes: { raw: dataSize(raw), pool: dataSize(pool), selected: dataSize(selected) },
    contaminationByBenchmark: decontam ? await contaminationByBenchmark(isAbsolute(decontam.manifest.files.rejects) ? decontam.manifest.files.rejects : join(decontam.dir, decontam.manifest.files.rejects)) : {},
  };
}

/** Reads the decontamination rejects and counts matched benchmarks (the audit trail, record by record). */
async function contaminationByBenchmark(rejectsPath: string): Promise<Record<string, number>> {
  let text: string;
  try {
    const raw = await readFile(rejectsPath);
    text = rejectsPath.endsWith(".gz") ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
  } catch {
    return {};
  }
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line) as Record<string, unknown>;
    const found = new Set<string>();
    JSON.stringify(entry, (key, value) => {
      if (key === "benchmark" && typeof value === "string") found.add(value);
      return value;
    });
    for (const b of found.size > 0 ? found : new Set(["unknown"])) out[b] = (out[b] ?? 0) + 1;
  }
  return out;
}
