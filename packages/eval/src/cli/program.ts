import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { isHttpUrl, writeFileAtomic } from "@infialign/data";
import { getBenchmark } from "../benchmarks/index.js";
import { compareRuns, type FlipBasis } from "../compare/compareRuns.js";
import { resolveProtocol } from "../protocol.js";
import { renderMarkdownTable } from "../report/markdownTable.js";
import { renderReportHtml } from "../report/reportHtml.js";
import { endpointRunner } from "../run/endpointRunner.js";
import { loadRun } from "../run/runDir.js";
import { runEvaluation } from "../run/runEvaluation.js";
import type { BenchmarkSpec, Protocol } from "../types.js";

export const HELP = `infialign-eval — evaluate a served model on reasoning benchmarks, report and compare runs

Usage:
  infialign-eval run --base-url URL[,URL…] --model NAME --benchmarks aime24,math500[,gpqa-diamond=PATH,…]
                     [--preset default|r1|open-r1|quick] [--samples N] [--k 1,4] [--temperature T] [--top-p P] [--max-tokens N]
                     [--seed N] [--concurrency N] [--limit N] [--out DIR] [--api-key KEY] [--timeout-ms MS]
                     [--max-retries N] [--context-length N] [--logprobs] [--json] [--quiet]
  infialign-eval report --runs DIR[,DIR…] --out report.html [--markdown table.md] [--title TEXT]
  infialign-eval compare --a DIR --b DIR [--out compare.html] [--by majority|sample0]
  infialign-eval --help

run      Samples every item N times through an OpenAI-compatible endpoint, grades as completions arrive, appends them
         to DIR/samples.jsonl and writes DIR/results.json. Rerunning with the same --out resumes: samples already
         saved are not requested again. --out defaults to runs/eval/<model>. The API key defaults to $OPENAI_API_KEY.
         The default preset is R1's sampling (T 0.6, top-p 0.95, 32,768 tokens) with one sample per item.
         One run at a time per DIR (DIR/run.lock). Code benchmarks (livecodebench) need bubblewrap (bwrap).
         max_tokens is clamped, with a warning, so prompt and answer fit the model's context: --context-length, else
         max_model_len from GET /models (vLLM, infialign-serve); unknown context: sent unclamped.
         Several --base-url (repeated or comma-separated) are a fleet of servers of the same model: requests go to
         the least loaded healthy one and fail over on connection errors and 5xx; per-server stats are printed at the end.
report   An HTML report (accuracy with 95% intervals, by difficulty, flips when two runs are given, sample logs)
         and the paper-style Markdown table (also printed).
compare  Accuracy deltas, answer flips and KL (where log-probs allow) of run B against run A, as JSON on stdout.

Exit codes: 0 ok, 1 failure while running, 2 bad usage.
`;

export interface ProgramIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** Bad flags: exit code 2. */
class UsageError extends Error {}

function intFlag(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`[infialign/eval] cli: --${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

function numFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw new UsageError(`[infialign/eval] cli: --${name} must be a number, got "${value}"`);
  return n;
}

function list(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

async function runCommand(args: string[], io: ProgramIO): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "base-url": { type: "string", multiple: true },
      model: { type: "string" },
      benchmarks: { type: "string" },
      preset: { type: "string" },
      samples: { type: "string" },
      temperature: { type: "string" },
      "top-p": { type: "string" },
      "max-tokens": { type: "string" },
      seed: { type: "string" },
      k: { type: "string" },
      concurrency: { type: "string" },
      limit: { type: "string" },
      out: { type: "string" },
      "api-key": { type: "string" },
      "timeout-ms": { type: "string" },
      "max-retries": { type: "string" },
      "context-length": { type: "string" },
      logprobs: { type: "boolean" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
  const baseUrls = (values["base-url"] ?? []).flatMap(list);
  const missing = (["base-url", "model", "benchmarks"] as const).filter((k) => (k === "base-url" ? baseUrls.length === 0 : !values[k]));
  if (missing.length) throw new UsageError(`[infialign/eval] cli: run needs ${missing.map((m) => `--${m}`).join(", ")} (see --help)`);
  for (const url of baseUrls) {
    if (!isHttpUrl(url)) throw new UsageError(`[infialign/eval] cli: --base-url must be an http(s) URL of an OpenAI-compatible server, such as http://localhost:8000/v1; got "${url}"`);
  }
  if (new Set(baseUrls.map((u) => u.replace(/\/+$/, ""))).size < baseUrls.length) throw new UsageError(`[infialign/eval] cli: --base-url lists a server twice (${baseUrls.join(", ")})`);
  const entries = list(values.benchmarks!).map((entry) => {
    const eq = entry.indexOf("=");
    return eq < 0 ? { name: entry } : { name: entry.slice(0, eq), path: entry.slice(eq + 1) };
  });
  if (entries.length === 0) throw new UsageError("[infialign/eval] cli: --benchmarks lists no benchmark");
  const samples = intFlag("samples", values.samples);
  const protocol: Protocol = resolveProtocol(values.preset ?? "default", {
    ...(values.temperature !== undefined ? { temperature: numFlag("temperature", values.temperature) } : {}),
    ...(values["top-p"] !== undefined ? { topP: numFlag("top-p", values["top-p"]) } : {}),
    ...(values["max-tokens"] !== undefined ? { maxTokens: intFlag("max-tokens", values["max-tokens"]) } : {}),
    ...(values.seed !== undefined ? { seed: intFlag("seed", values.seed, 0) } : {}),
    // --samples applies to every benchmark of this run, overriding the preset's per-benchmark counts.
    ...(samples !== undefined ? { samples: Object.fromEntries([["default", samples], ...entries.map((e) => [e.name, samples])]) } : {}),
    // pass@k and maj@k: --k, else 1 and the sample count when --samples is given.
    ...(values.k !== undefined ? { k: list(values.k).map((k) => intFlag("k", k)!) } : samples !== undefined ? { k: [...new Set([1, samples])] } : {}),
  });
  const limit = intFlag("limit", values.limit);
  const contextLength = intFlag("context-length", values["context-length"], 2);
  const benchmarks = [];
  for (const e of entries) {
    let spec: BenchmarkSpec;
    try {
      spec = getBenchmark(e.name);
    } catch (err) {
      throw new UsageError((err as Error).message, { cause: err });
    }
    benchmarks.push({ spec, items: await spec.load({ ...(e.path ? { path: e.path } : {}), seed: protocol.seed, ...(limit ? { limit } : {}) }) });
  }
  const model = values.model!;
  const outDir = resolve(values.out ?? join("runs", "eval", model.replace(/[^\w.-]+/g, "_")));
  const warn = (message: string) => io.stderr.write(`${message}\n`);
  const runner = endpointRunner({
    baseUrl: baseUrls.length === 1 ? baseUrls[0]! : baseUrls,
    model,
    apiKey: values["api-key"] ?? process.env.OPENAI_API_KEY,
    ...(values["timeout-ms"] !== undefined ? { timeoutMs: intFlag("timeout-ms", values["timeout-ms"]) } : {}),
    ...(values["max-retries"] !== undefined ? { maxRetries: intFlag("max-retries", values["max-retries"], 0) } : {}),
    logprobs: !!values.logprobs,
    ...(contextLength !== undefined ? { contextLength } : {}),
    warn,
  });
  // Ctrl-C stops the run cleanly: saved samples stay, the run lock is released. A second Ctrl-C kills at once.
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort(new Error(`[infialign/eval] cli: interrupted (SIGINT); the samples saved so far stay in ${outDir} and a rerun resumes from them`));
  process.once("SIGINT", onSigint);
  try {
    const result = await runEvaluation({
      benchmarks,
      protocol,
      runner,
      outDir,
      signal: interrupt.signal,
      concurrency: intFlag("concurrency", values.concurrency) ?? 8,
      progress: values.quiet || values.json ? false : undefined,
      warn,
    });
    if (values.json) {
      io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else if (!values.quiet) {
      for (const b of result.benchmarks) {
        io.stdout.write(`${b.benchmark.padEnd(16)} avg@${b.samplesPerItem} ${(100 * b.avgAtN).toFixed(1)}% ± ${(196 * b.stderr).toFixed(1)}  (${b.items} items)\n`);
      }
      io.stdout.write(`average          ${(100 * result.average).toFixed(1)}%  (${result.newSamples} new samples, ${result.resumedSamples} resumed)\nresults: ${join(outDir, "results.json")}\n`);
    }
    if (baseUrls.length > 1 && !values.quiet) {
      for (const s of runner.endpointStats()) {
        const latency = s.meanLatencyMs === undefined ? "-" : `${Math.round(s.meanLatencyMs)} ms`;
        io.stderr.write(`[infialign/eval] cli: ${s.baseURL} [${s.state}]: ${s.requests} requests, ${s.successes} ok, ${s.failures} failed, mean latency ${latency}${s.failures > 0 && s.lastError ? `; last failure: ${s.lastError}` : ""}\n`);
      }
    }
  } finally {
    process.off("SIGINT", onSigint);
    await runner.close?.();
  }
  return 0;
}

async function writeOut(path: string, text: string): Promise<void> {
  await mkdir(dirname(resolve(path)), { recursive: true });
  await writeFileAtomic(resolve(path), text);
}

async function reportCommand(args: string[], io: ProgramIO): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { runs: { type: "string" }, out: { type: "string" }, markdown: { type: "string" }, title: { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.runs || !values.out) throw new UsageError("[infialign/eval] cli: report needs --runs DIR[,DIR…] and --out report.html");
  const runs = await Promise.all(list(values.runs).map((d) => loadRun(d)));
  if (runs.length === 0) throw new UsageError("[infialign/eval] cli: --runs lists no directory");
  const comparison = runs.length === 2 ? await compareRuns(runs[0]!, runs[1]!) : undefined;
  await writeOut(values.out, renderReportHtml(runs, { ...(values.title ? { title: values.title } : {}), ...(comparison ? { comparison } : {}) }));
  const table = renderMarkdownTable(runs.map((r) => r.result));
  if (values.markdown) await writeOut(values.markdown, table);
  io.stdout.write(`${table}report: ${resolve(values.out)}\n`);
  return 0;
}

async function compareCommand(args: string[], io: ProgramIO): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { a: { type: "string" }, b: { type: "string" }, out: { type: "string" }, by: { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.a || !values.b) throw new UsageError("[infialign/eval] cli: compare needs --a DIR and --b DIR");
  if (values.by !== undefined && values.by !== "majority" && values.by !== "sample0") throw new UsageError(`[infialign/eval] cli: --by must be majority or sample0, got "${values.by}"`);
  const [a, b] = await Promise.all([loadRun(values.a), loadRun(values.b)]);
  const comparison = await compareRuns(a, b, { by: (values.by ?? "majority") as FlipBasis });
  if (values.out) await writeOut(values.out, renderReportHtml([a, b], { title: `${a.result.model} vs ${b.result.model}`, comparison }));
  io.stdout.write(`${JSON.stringify(comparison, null, 2)}\n`);
  return 0;
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 failure while running, 2 bad usage). */
export async function main(argv: readonly string[] = process.argv.slice(2), io: ProgramIO = process): Promise<number> {
  const command = argv[0];
  if (command === undefined || command === "--help" || command === "-h" || argv.includes("--help")) {
    (command === undefined ? io.stderr : io.stdout).write(HELP);
    return command === undefined ? 2 : 0;
  }
  const commands: Record<string, (args: string[], io: ProgramIO) => Promise<number>> = { run: runCommand, report: reportCommand, compare: compareCommand };
  const handler = commands[command];
  if (!handler) {
    io.stderr.write(`[infialign/eval] cli: unknown command "${command}"; use run, report or compare (see --help)\n`);
    return 2;
  }
  try {
    return await handler(argv.slice(1), io);
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    io.stderr.write(`${message.startsWith("[infialign/") ? message : `[infialign/eval] cli: ${message}`}\n`);
    return usage ? 2 : 1;
  }
}
