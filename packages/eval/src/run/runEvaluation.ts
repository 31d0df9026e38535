import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { canonicalJson, createProgress, noProgress, type ProgressReporter, writeFileAtomic } from "@infialign/data";
import { sandboxAvailable } from "@infialign/verify";
import pLimit from "p-limit";
import { averageOf, summarize } from "../metrics/index.js";
import { samplesFor } from "../protocol.js";
import type { BenchmarkResult, BenchmarkSpec, EvalItem, EvalRunResult, Protocol, SampleRecord } from "../types.js";
import { RUN_FILES, type RunManifest } from "./runDir.js";
import { acquireRunLock, type RunLockOptions } from "./runLock.js";
import type { EvalRunner } from "./runner.js";
import { readSamples, SamplesWriter, sampleKey } from "./samplesFile.js";

export interface RunEvaluationOptions {
  /** Benchmarks with their loaded items (`spec.load()`); names must be unique. */
  benchmarks: { spec: BenchmarkSpec; items: EvalItem[] }[];
  protocol: Protocol;
  runner: EvalRunner;
  /** Run directory: `samples.jsonl` (appended as completions arrive), `items.jsonl`, `run.json`, `results.json`. */
  outDir: string;
  /** Model name in results. @default runner.id */
  model?: string;
  /** Completions requested (and graded) at once. @default 8 */
  concurrency?: number;
  /** Stops issuing requests; samples already persisted stay, and a rerun resumes from them. */
  signal?: AbortSignal;
  /** A reporter, or whether to show a bar. @default a bar on a TTY outside CI */
  progress?: ProgressReporter | boolean;
  /** Clock for `createdAt`. @default () => new Date() */
  now?: () => Date;
  /** Called after each new sample is persisted. */
  onSample?: (record: SampleRecord) => void;
  /** Told of things worth knowing that do not stop the run (a stale lock taken over). @default writes to stderr */
  warn?: (message: string) => void;
  /** How the run lock names its holder and checks whether an earlier holder is alive (tests inject these). */
  lock?: Omit<RunLockOptions, "warn">;
}

export interface RunEvaluationResult extends EvalRunResult {
  /** Samples found in `samples.jsonl` from an earlier, interrupted run (not requested again). */
  resumedSamples: number;
  /** Samples requested in this call. */
  newSamples: number;
  /** Saved samples graded again from their stored completion (an earlier run saved them ungraded: `sandbox_unavailable`). */
  regradedSamples: number;
}

/** Grade reason of a code completion that could not be run; never a verdict on the model, so never persisted. */
const SANDBOX_UNAVAILABLE = "sandbox_unavailable";

/**
 * Evaluates one model: for each benchmark, item and sample index not already in `outDir/samples.jsonl`, asks the
 * runner for a completion, grades it with the benchmark's grader, and appends the record (fsynced per batch), so an
 * interrupted run resumes without re-querying. Writes `results.json` (per-benchmark metrics, average) at the end.
 *
 * The run holds `outDir/run.lock` while it runs (a second run on the same directory fails naming the first). A run
 * with code benchmarks fails before any request when the sandbox is unavailable, and a grade of
 * `sandbox_unavailable` is an error, never a saved sample; such samples saved by older versions are graded again from
 * their stored completion. A directory without samples carries no protocol: a rerun may use other settings.
 */
export async function runEvaluation(options: RunEvaluationOptions): Promise<RunEvaluationResult> {
  const { benchmarks, runner, outDir } = options;
  const model = options.model ?? runner.id;
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`[infialign/eval] run: concurrency must be a positive integer, got ${concurrency}`);
  const names = benchmarks.map((b) => b.spec.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`[infialign/eval] run: benchmark "${dup}" is listed twice; list each benchmark once`);

  const code = benchmarks.filter((b) => b.spec.kind === "code" && b.items.length > 0).map((b) => b.spec.name);
  if (code.length > 0) {
    const sandbox = sandboxAvailable();
    if (!sandbox.ok) {
      throw new Error(
        `[infialign/eval] run: ${code.join(", ")} run${code.length === 1 ? "s" : ""} the model's programs in @infialign/verify's bubblewrap sandbox, which is unavailable here: ${sandbox.reason}. Nothing was requested. Install bubblewrap (e.g. apt-get install -y bubblewrap) and rerun, or leave ${code.join(", ")} out of the benchmarks`,
      );
    }
  }

  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  await mkdir(outDir, { recursive: true });
  const lock = await acquireRunLock(outDir, { ...options.lock, warn });
  try {
    return await runLocked(options, { model, concurrency, outDir });
  } finally {
    await lock.release();
  }
}

async function runLocked(options: RunEvaluationOptions, { model, concurrency, outDir }: { model: string; concurrency: number; outDir: string }): Promise<RunEvaluationResult> {
  const { benchmarks, protocol, runner, signal } = options;
  const samplesPath = join(outDir, RUN_FILES.samples);
  const existing = await readSamples(samplesPath);
  await checkManifest(outDir, { model, protocol }, existing.samples.length > 0);
  const done = new Map<string, SampleRecord>();
  for (const s of existing.samples) done.set(sampleKey(s.benchmark, s.itemId, s.sampleIndex), s);
  await writeItems(outDir, benchmarks);

  // `saved`: an earlier run's sample left ungraded (sandbox_unavailable); its stored completion is graded again.
  const todo: { spec: BenchmarkSpec; item: EvalItem; sampleIndex: number; saved?: SampleRecord }[] = [];
  let resumedSamples = 0;
  for (const { spec, items } of benchmarks) {
    const n = samplesFor(protocol, spec.name);
    for (const item of items) {
      for (let i = 0; i < n; i++) {
        const saved = done.get(sampleKey(spec.name, item.id, i));
        if (saved?.grade?.reason === SANDBOX_UNAVAILABLE) todo.push({ spec, item, sampleIndex: i, saved });
        else if (saved) resumedSamples++;
        else todo.push({ spec, item, sampleIndex: i });
      }
    }
  }

  const progress = typeof options.progress === "object" ? options.progress : options.progress === false ? noProgress : createProgress({ unit: "samples", ...(options.progress === true ? { enabled: true } : {}) });
  const writer = await SamplesWriter.open(samplesPath, existing.validBytes);
  // The first failure stops new requests; in-flight ones finish and are kept.
  const stop = new AbortController();
  const combined = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const limit = pLimit(concurrency);
  let finished = 0;
  let regraded = 0;
  let firstError: unknown;
  progress.start(todo.length, `eval ${model}`);
  try {
    await Promise.all(
      todo.map(({ spec, item, sampleIndex, saved }) =>
        limit(async () => {
          if (combined.aborted) return;
          const started = performance.now();
          try {
            let record: SampleRecord;
            if (saved) {
              record = { ...saved, grade: await spec.grade(item, saved.completion) };
            } else {
              const c = await runner.complete(item, sampleIndex, protocol, { signal: combined });
              const latencyMs = Math.round(performance.now() - started);
              record = {
                benchmark: spec.name,
                itemId: item.id,
                sampleIndex,
                completion: c.text,
                finishReason: c.finishReason,
                ...(c.completionTokens !== undefined ? { completionTokens: c.completionTokens } : {}),
                ...(c.logprobs ? { logprobs: c.logprobs } : {}),
                grade: await spec.grade(item, c.text),
                latencyMs,
              };
            }
            if (record.grade.reason === SANDBOX_UNAVAILABLE) {
              throw new Error(
                `[infialign/eval] run: ${spec.name} item "${item.id}" sample ${sampleIndex} could not be graded because the code sandbox is unavailable (bubblewrap missing or refused namespaces); it was not saved. Install bubblewrap (e.g. apt-get install -y bubblewrap) and rerun`,
              );
            }
            // A regraded sample is appended again; the last record of a key wins when samples are read.
            await writer.append(record);
            done.set(sampleKey(spec.name, item.id, sampleIndex), record);
            if (saved) regraded++;
            options.onSample?.(record);
            progress.update(++finished);
          } catch (e) {
            if (firstError === undefined && !signal?.aborted) firstError = e;
            stop.abort(e);
          }
        }),
      ),
    );
  } finally {
    progress.stop();
    await writer.close();
  }
  if (firstError !== undefined) {
    throw new Error(`[infialign/eval] run: stopped after ${finished - regraded} new samples; ${done.size} are saved in ${samplesPath} and a rerun resumes from them. Cause: ${(firstError as Error).message}`, { cause: firstError });
  }
  signal?.throwIfAborted();

  const results: BenchmarkResult[] = benchmarks.map(({ spec, items }) => {
    const ids = new Set(items.map((i) => i.id));
    const samples = [...done.values()].filter((s) => s.benchmark === spec.name && ids.has(s.itemId) && s.sampleIndex < samplesFor(protocol, spec.name));
    samples.sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : a.sampleIndex - b.sampleIndex));
    return summarize(items, samples, protocol.k, { title: spec.title, column: spec.column });
  });
  const result: EvalRunResult = { model, protocol, benchmarks: results, average: averageOf(results), createdAt: (options.now ?? (() => new Date()))().toISOString() };
  await writeFileAtomic(join(outDir, RUN_FILES.results), `${JSON.stringify(result, null, 2)}\n`);
  return { ...result, resumedSamples, newSamples: finished - regraded, regradedSamples: regraded };
}

/**
 * A run directory belongs to one model and protocol: mixing samples drawn under another would skew the metrics. Only
 * saved samples bind it; a directory without any (a first run that failed at once) takes the new settings.
 */
async function checkManifest(outDir: string, manifest: RunManifest, hasSamples: boolean): Promise<void> {
  const path = join(outDir, RUN_FILES.manifest);
  const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined;
    throw e;
  });
  if (text !== undefined && hasSamples) {
    const old = JSON.parse(text) as RunManifest;
    const differs = old.model !== manifest.model ? "model" : canonicalJson(samplingOf(old.protocol)) !== canonicalJson(samplingOf(manifest.protocol)) ? "protocol" : undefined;
    if (differs) {
      throw new Error(
        `[infialign/eval] run: ${outDir} holds samples of ${differs === "model" ? `model "${old.model}"` : `another protocol (${canonicalJson(samplingOf(old.protocol))})`}; resume it with the same settings, or pass another --out`,
      );
    }
  }
  await writeFileAtomic(path, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** What changes the samples themselves; `samples` counts and `k` may grow on resume (more samples are simply added). */
function samplingOf(p: Protocol) {
  return { temperature: p.temperature, topP: p.topP, maxTokens: p.maxTokens, seed: p.seed };
}

/** Items as prompted, for reports; code tests are summarized by count to keep the file small. */
async function writeItems(outDir: string, benchmarks: RunEvaluationOptions["benchmarks"]): Promise<void> {
  const lines: string[] = [];
  for (const { items } of benchmarks) {
    for (const { tests, ...item } of items) lines.push(JSON.stringify(tests ? { ...item, meta: { ...item.meta, testCases: tests.cases.length } } : item));
  }
  await writeFileAtomic(join(outDir, RUN_FILES.items), lines.length ? `${lines.join("\n")}\n` : "");
}
