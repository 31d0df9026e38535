// pnpm --filter @infialign/example-eval-endpoint start -- --base-url URL --model NAME [options]
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { evaluateEndpoint } from "./evaluateEndpoint.js";
import { startTinyServer } from "./tinyServer.js";

export const HELP = `Usage: pnpm --filter @infialign/example-eval-endpoint start -- --base-url <url> --model <name> [options]
       pnpm --filter @infialign/example-eval-endpoint start -- --local-demo

Evaluates the model behind an OpenAI-compatible API (vLLM, SGLang, Ollama, llama.cpp server, infialign-serve) on the
benchmarks shipped with InfiAlign-TS, with @infialign/eval: every completion is saved as it arrives (rerun to resume),
then results.json, table.md (laid out like the InfiAlign paper) and report.html are written to --out.

Options:
  --base-url <url>       the API root, ending in /v1 (e.g. http://localhost:8000/v1)
  --model <name>         the served model name
  --benchmarks <list>    comma-separated (default: aime24,aime25,amc23,math500,gsm8k); user files as name=path,
                         e.g. gpqa-diamond=gpqa_diamond.csv, mmlu-pro=test.parquet, livecodebench=test6.jsonl
  --preset <name>        default | r1 | open-r1 | quick (default: default = R1 sampling, T 0.6, top_p 0.95, 32768 tokens, n 1)
  --samples <n>          samples per problem for every benchmark (avg@n)
  --max-tokens <n>       completion budget
  --limit <n>            first n problems of each benchmark
  --concurrency <n>      requests in flight (default 8)
  --api-key <key>        bearer token (default: $OPENAI_API_KEY)
  --out <dir>            run directory (default: runs/eval-endpoint/<model>)
  --local-demo           no server of your own: serve a tiny random Qwen2 with infialign-serve and evaluate it on
                         5 problems per benchmark (checks the plumbing; its accuracy is ~0 by construction)
  -h, --help             this help
`;

export async function main(argv: readonly string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv.filter((a) => a !== "--"),
      options: {
        "base-url": { type: "string" },
        model: { type: "string" },
        benchmarks: { type: "string", default: "aime24,aime25,amc23,math500,gsm8k" },
        preset: { type: "string", default: "default" },
        samples: { type: "string" },
        "max-tokens": { type: "string" },
        limit: { type: "string" },
        concurrency: { type: "string", default: "8" },
        "api-key": { type: "string" },
        out: { type: "string" },
        "local-demo": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    err(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    out(HELP);
    return 0;
  }
  const positive = (name: string): number | undefined => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} "${String(raw)}": expected a positive integer`);
    return n;
  };
  let server: { url: string; close(): Promise<void> } | undefined;
  try {
    let baseUrl = values["base-url"] as string | undefined;
    let model = values.model as string | undefined;
    let limit = positive("limit");
    let maxTokens = positive("max-tokens");
    if (values["local-demo"]) {
      server = await startTinyServer();
      baseUrl = `${server.url}/v1`;
      model = "tiny-random";
      limit ??= 5;
      maxTokens ??= 64;
      err(`local demo: a tiny random Qwen2 (hidden 64, 2 layers) served by infialign-serve at ${baseUrl}`);
    }
    if (!baseUrl || !model) {
      err(`--base-url and --model are required (or --local-demo)\n\n${HELP}`);
      return 2;
    }
    const samples = positive("samples");
    const outDir = resolve((values.out as string | undefined) ?? `runs/eval-endpoint/${model.replace(/[^\w.-]+/g, "_")}`);
    const apiKey = (values["api-key"] as string | undefined) ?? process.env.OPENAI_API_KEY;
    const { table, reportPath } = await evaluateEndpoint({
      baseUrl,
      model,
      benchmarks: String(values.benchmarks).split(",").filter(Boolean),
      preset: String(values.preset),
      overrides: { ...(samples === undefined ? {} : { samples: { default: samples } }), ...(maxTokens === undefined ? {} : { maxTokens }) },
      ...(limit === undefined ? {} : { limit }),
      outDir,
      concurrency: positive("concurrency") ?? 8,
      ...(apiKey ? { apiKey } : {}),
      log: err,
    });
    out(table);
    err(`report: ${reportPath}`);
    return 0;
  } catch (e) {
    err((e as Error).message);
    return 1;
  } finally {
    await server?.close();
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${resolve(process.argv[1])}`).href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
