// Evaluates a model behind an OpenAI-compatible base URL on the shipped benchmarks with @infialign/eval, and writes
// results.json per run plus report.html and table.md beside them.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type EvalItem, type EvalRunResult, endpointRunner, getBenchmark, loadRun, type ProtocolOverrides, renderMarkdownTable, renderReportHtml, resolveProtocol, runEvaluation } from "@infialign/eval";

export interface EvaluateEndpointOptions {
  baseUrl: string;
  model: string;
  /** Benchmark names (`getBenchmark`), e.g. `["aime24", "math500"]`; `name=path` for user files (gpqa-diamond=…csv). */
  benchmarks: readonly string[];
  /** Protocol preset: default | r1 | open-r1 | quick. */
  preset: string;
  overrides: ProtocolOverrides;
  /** Items per benchmark (first N). @default all */
  limit?: number;
  outDir: string;
  concurrency: number;
  apiKey?: string;
  log?: (line: string) => void;
}

export interface EvaluateEndpointResult {
  result: EvalRunResult;
  table: string;
  reportPath: string;
}

export async function evaluateEndpoint(options: EvaluateEndpointOptions): Promise<EvaluateEndpointResult> {
  const benchmarks: { spec: ReturnType<typeof getBenchmark>; items: EvalItem[] }[] = [];
  for (const entry of options.benchmarks) {
    const [name, path] = entry.split("=", 2) as [string, string | undefined];
    const spec = getBenchmark(name);
    const items = await spec.load({ ...(path === undefined ? {} : { path }), ...(options.limit === undefined ? {} : { limit: options.limit }) });
    options.log?.(`${spec.title}: ${items.length} items`);
    benchmarks.push({ spec, items });
  }
  const protocol = resolveProtocol(options.preset, options.overrides);
  const result = await runEvaluation({
    benchmarks,
    protocol,
    runner: endpointRunner({ baseUrl: options.baseUrl, model: options.model, ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }) }),
    outDir: options.outDir,
    model: options.model,
    concurrency: options.concurrency,
  });
  const run = await loadRun(options.outDir);
  const table = renderMarkdownTable([result]);
  const reportPath = join(options.outDir, "report.html");
  await mkdir(options.outDir, { recursive: true });
  await writeFile(reportPath, renderReportHtml([{ result: run.result, samples: run.samples, items: run.items }], { title: `Evaluation of ${options.model}` }));
  await writeFile(join(options.outDir, "table.md"), table);
  return { result, table, reportPath };
}
