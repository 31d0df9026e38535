// `infialign-serve`: loads a Hugging Face Qwen2 checkpoint directory and serves it on the OpenAI API (src/serve).
import { parseArgs } from "node:util";
import type { BackendName } from "@infialign/kernels/tfjs";
import type { DecodeModel } from "../engine.js";
import { samplingDefaultsFromGenerationConfig, startServer } from "../serve/server.js";

export const SERVE_USAGE = `Usage: infialign-serve --model <checkpoint dir> [options]

Serves a Qwen2 checkpoint (config.json, model.safetensors, tokenizer.json) on an OpenAI-compatible API:
GET /v1/models, POST /v1/completions, POST /v1/chat/completions.

Options:
  --model <dir>               Hugging Face model directory (required)
  --engine tfjs|onnx          inference engine (default: tfjs)
  --backend <name>            tfjs backend: tfjs-node-gpu, tfjs-node, wasm, cpu (default: the first installed)
  --threads <n>               wasm threads (tfjs) or onnxruntime intra-op threads (onnx)
  --host <host>               address to listen on (default: 127.0.0.1)
  --port <port>               port; 0 picks a free one (default: 8000)
  --served-model-name <name>  id clients send as "model" (default: the --model argument)
  --max-batch-size <n>        most rows (prompts x n) generated together (default: 16)
  --batching <mode>           continuous: requests join and leave the running batch at every decode step;
                              static: a request waits for the running generation to end (default: continuous)
  --max-queue <n>             most requests waiting; more get 429 (default: 256)
  --max-body-bytes <n>        largest request body; larger ones get 413 (default: 4194304 = 4 MiB)
  -h, --help                  print this help
`;

/** Where the CLI writes and how it learns to stop; tests pass their own. */
export interface ServeCliIo {
  /** The one line with the URL. @default process.stdout */
  out: (line: string) => void;
  /** Progress, request logs and errors. @default process.stderr */
  err: (line: string) => void;
  /** Resolves with the reason to shut down. @default the first SIGINT or SIGTERM */
  shutdown: () => Promise<string>;
}

const defaultIo: ServeCliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  shutdown: () =>
    new Promise((resolve) => {
      const on = (signal: string) => () => {
        process.off("SIGINT", onInt);
        process.off("SIGTERM", onTerm);
        resolve(signal);
      };
      const onInt = on("SIGINT");
      const onTerm = on("SIGTERM");
      process.once("SIGINT", onInt);
      process.once("SIGTERM", onTerm);
    }),
};

class UsageError extends Error {}

function positiveInt(value: string | undefined, flag: string, min = 1, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Runs the server until SIGINT/SIGTERM; returns the exit code (0 after a clean shutdown, 1 on errors, 2 on bad usage). */
export async function main(argv: string[], io: ServeCliIo = defaultIo): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    io.err(`infialign-serve: ${error instanceof Error ? error.message : String(error)}\n\n${SERVE_USAGE}`);
    return 2;
  }
  if (args === "help") {
    io.out(SERVE_USAGE);
    return 0;
  }
  let model: (DecodeModel & { dispose(): unknown }) | undefined;
  try {
    // Loaded lazily: the onnx engine never loads tfjs and the CLI's --help loads neither.
    const [{ loadCheckpoint }, { loadModelTokenizer }] = await Promise.all([import("../weights/checkpoint.js"), import("../tokenizer/hfTokenizer.js")]);
    const [checkpoint, tokenizer] = await Promise.all([loadCheckpoint(args.model), loadModelTokenizer(args.model)]);
    let engine: string;
    if (args.engine === "onnx") {
      const { OnnxQwen2Model } = await import("../onnx/engine.js");
      model = await OnnxQwen2Model.create(checkpoint.config, checkpoint.weights, args.threads === undefined ? {} : { threads: args.threads });
      engine = "onnx (onnxruntime-node)";
    } else {
      const [{ selectBackend }, { Qwen2Model }] = await Promise.all([import("@infialign/kernels/tfjs"), import("../qwen2/model.js")]);
      const backend = await selectBackend({ ...(args.backend === undefined ? {} : { prefer: args.backend as BackendName }), ...(args.threads === undefined ? {} : { threads: args.threads }), log: io.err });
      model = Qwen2Model.fromWeights(checkpoint.config, checkpoint.weights);
      engine = `tfjs (${backend.name}, ${backend.threads} thread${backend.threads === 1 ? "" : "s"})`;
    }
    checkpoint.weights.clear();
    // As vLLM: the checkpoint's generation_config.json sets the sampling defaults of requests that omit them.
    const { defaults, ignored } = samplingDefaultsFromGenerationConfig(checkpoint.generationConfig);
    if (Object.keys(defaults).length > 0) io.err(`infialign-serve: sampling defaults from generation_config.json: ${JSON.stringify(defaults)}`);
    if (ignored.length > 0) io.err(`infialign-serve: generation_config.json sets ${ignored.join(", ")}, which this server does not apply`);
    const server = await startServer({
      defaultSampling: defaults,
      model,
      tokenizer,
      modelId: args.servedModelName,
      host: args.host,
      port: args.port,
      maxBatchSize: args.maxBatchSize,
      batching: args.batching,
      maxQueue: args.maxQueue,
      maxBodyBytes: args.maxBodyBytes,
      log: io.err,
    });
    io.out(`infialign-serve: serving "${args.servedModelName}" (${engine}) at ${server.url}/v1`);
    const reason = await io.shutdown();
    io.err(`infialign-serve: ${reason}, shutting down`);
    await server.close();
    return 0;
  } catch (error) {
    io.err(`infialign-serve: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await model?.dispose();
  }
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      model: { type: "string" },
      engine: { type: "string", default: "tfjs" },
      backend: { type: "string" },
      threads: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8000" },
      "served-model-name": { type: "string" },
      "max-batch-size": { type: "string", default: "16" },
      batching: { type: "string", default: "continuous" },
      "max-queue": { type: "string", default: "256" },
      "max-body-bytes": { type: "string", default: String(4 * 1024 * 1024) },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help" as const;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.model) throw new UsageError("--model <checkpoint dir> is required");
  if (values.engine !== "tfjs" && values.engine !== "onnx") throw new UsageError(`--engine must be tfjs or onnx, got "${values.engine}"`);
  if (values.batching !== "continuous" && values.batching !== "static") throw new UsageError(`--batching must be continuous or static, got "${values.batching}"`);
  if (values.backend !== undefined && values.engine === "onnx") throw new UsageError("--backend selects a tfjs backend; it has no effect with --engine onnx");
  return {
    model: values.model,
    engine: values.engine,
    backend: values.backend,
    threads: positiveInt(values.threads, "--threads"),
    host: values.host,
    port: positiveInt(values.port, "--port", 0, 65535) as number,
    servedModelName: values["served-model-name"] ?? values.model,
    maxBatchSize: positiveInt(values["max-batch-size"], "--max-batch-size") as number,
    batching: values.batching as "continuous" | "static",
    maxQueue: positiveInt(values["max-queue"], "--max-queue") as number,
    maxBodyBytes: positiveInt(values["max-body-bytes"], "--max-body-bytes") as number,
  };
}
