// The `infialign-dpo` command line: build pairs from the SFT model's own errors, train DPO, export to LLaMA-Factory.
// Errors go to stderr with exit code 1 (2 for usage errors); results to stdout.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { type InputFile, OpenAIChatClient, resolveInputs, runPipeline, type StageManifest } from "@infialign/data";
import { type BACKEND_NAMES, selectBackend } from "@infialign/kernels/tfjs";
import { type DecodeModel, generate, loadCheckpoint, loadModelTokenizer, OnnxQwen2Model, Qwen2Model } from "@infialign/model";
import { loadDpoConfig } from "../config.js";
import { exportableLosses, exportLlamaFactoryDpo } from "../export/llamafactory.js";
import { hyperparametersOf, lossHyperparameters, preferenceLossDefinition, preferenceLosses } from "../losses/table.js";
import { pairConstructionStage } from "../pairs/pairStage.js";
import { readPreferenceRecords } from "../pairs/readPairs.js";
import { localSampler, openAISampler, type ResponseSampler } from "../pairs/samplers.js";
import { trainDpo } from "../trainer.js";

export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** A usage mistake: printed with the command's help hint, exit code 2. */
class UsageError extends Error {}

/** The usage text; its loss sections are read from the loss table, so losses added with registerLoss are listed. */
const help = () => `infialign-dpo — DPO on pairs built from the SFT model's own errors

Usage:
  infialign-dpo pairs  --input GLOB... --out DIR (--base-url URL[,URL…] --model NAME | --local-model DIR) [options]
  infialign-dpo train  --config dpo.yaml [--resume [CHECKPOINT]] [--engine auto|onnxruntime|tfjs] [--threads N] [--backend cpu|wasm]
  infialign-dpo export --pairs DIR --out DIR --target llamafactory --model NAME_OR_PATH [options]

pairs: samples k responses per prompt from the SFT model, verifies them against the gold answer and keeps prompts
whose pass rate lies in the band; chosen = the expert solution, rejected = a cleaned incorrect response.
  --input GLOB        canonical Sample shards, files, globs or finished stage directories (repeatable)
  --out DIR           run directory; the pairs land in DIR/dpo-pairs
  --base-url URL      OpenAI-compatible server of the SFT model (vLLM, SGLang)   --model NAME   its model name
                      repeated or comma-separated: a fleet of servers of the model (least-loaded routing, failover)
  --api-key KEY       bearer token (default: $OPENAI_API_KEY)
  --local-model DIR   sample from a local Hugging Face model directory instead (onnxruntime when installed, else tfjs)
  --k N               responses per prompt (default 8)
  --band LO,HI        pass-rate band kept (default 0.125,0.75)
  --temperature T     (default 0.6)   --top-p P (default 0.95)   --max-tokens N (default 4096)   --seed N (default 0)
  --concurrency N     prompts in flight (default 4)
  --system-prompt S   --prompt-template T ("{prompt}" is replaced)
  --force             rerun the stage even when it is up to date
  --json              print the stage manifest as JSON

train: runs trainDpo on a config file (see the README); Ctrl-C stops after the current step with a checkpoint.
  --config FILE       dpo.yaml / dpo.json
  --resume [DIR]      continue from the latest checkpoint in outputDir, or from DIR
  --engine NAME       training engine: auto (onnxruntime when installed, else tfjs), onnxruntime or tfjs (default: the config's)
  --threads N         onnxruntime engine threads (default: the config's, else the machine's cores)
  --backend NAME      tfjs backend, which holds the weights and runs the tfjs engine (default: the fastest installed)

export: writes LLaMA-Factory ShareGPT preference data, dataset_info.json, a DPO YAML and the ZeRO-3 config.
  --pairs DIR         finished pair stage directory (…/dpo-pairs)
  --out DIR           LLaMA-Factory working directory
  --target llamafactory
  --model NAME        model_name_or_path of the SFT checkpoint
  --dataset-name N    (default infialign_dpo)   --template T (default qwen)
  --loss TYPE         a loss with a LLaMA-Factory pref_loss: ${exportableLosses().join(" | ")} (default sigmoid)
  --beta B            pref_beta, which sets the loss's ${prefBetaHelp()} (default: the loss table's)
  --learning-rate LR  (default 5e-6)   --epochs N (default 1)   --cutoff-len N (default 16384)
  --finetuning-type full|lora (default full)
  --num-samples N     write num_samples: LLaMA-Factory resamples the pairs to N rows (default: not written, each pair once)

  -h, --help          this help

${lossesHelp()}`;

/** The loss table as help text: every loss with what it reads, then every hyperparameter with its default. */
function lossesHelp(): string {
  const losses = preferenceLosses();
  const width = Math.max(...losses.map((l) => l.name.length)) + 2;
  const lines = ["losses (dpo.yaml loss.lossType; a list is summed with loss.lossWeights):"];
  for (const l of losses) {
    const facts = [l.needsReference ? "reference" : "reference-free", `reads ${hyperparametersOf(l).join(", ") || "nothing"}`];
    if (typeof l.llamaFactory === "object") facts.push(`LLaMA-Factory pref_loss ${l.llamaFactory.prefLoss}`);
    else if (l.llamaFactory === "pref_ftx") facts.push("LLaMA-Factory pref_ftx");
    lines.push(`  ${l.name.padEnd(width)}${l.description}`, `  ${"".padEnd(width)}(${facts.join("; ")})`);
  }
  lines.push("", "loss hyperparameters (dpo.yaml loss.<name>; name (default): meaning):");
  for (const [name, spec] of lossHyperparameters()) lines.push(`  ${name} (${spec.default === undefined ? "unset" : String(spec.default)}): ${spec.description}`);
  return `${lines.join("\n")}\n`;
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: readonly string[], io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === "-h" || command === "--help" || command === "help") {
      io.stdout.write(help());
      return command === undefined ? 2 : 0;
    }
    if (rest.includes("-h") || rest.includes("--help")) {
      io.stdout.write(help());
      return 0;
    }
    if (command === "pairs") return await pairsCommand(rest, io);
    if (command === "train") return await trainCommand(rest, io);
    if (command === "export") return await exportCommand(rest, io);
    throw new UsageError(`unknown command "${command}"; expected pairs, train or export`);
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))) {
      io.stderr.write(`infialign-dpo: ${error.message}\n(run infialign-dpo --help for usage)\n`);
      return 2;
    }
    io.stderr.write(`infialign-dpo: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

function number(value: string | undefined, flag: string, check: (n: number) => boolean, expected: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || !check(n)) throw new UsageError(`${flag} must be ${expected}, got "${value}"`);
  return n;
}
const positiveInt = (v: string | undefined, flag: string) => number(v, flag, (n) => Number.isInteger(n) && n > 0, "a positive integer");
const nonNegative = (v: string | undefined, flag: string) => number(v, flag, (n) => n >= 0, "a number ≥ 0");
const positive = (v: string | undefined, flag: string) => number(v, flag, (n) => n > 0, "a number > 0");

/** Stage directories (with manifest.json) stand for their shards; everything else goes to resolveInputs. */
async function resolveSampleInputs(inputs: readonly string[]): Promise<InputFile[]> {
  const expanded: string[] = [];
  for (const input of inputs) {
    const manifestPath = join(input, "manifest.json");
    if (existsSync(manifestPath)) {
      const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as StageManifest;
      expanded.push(...manifest.shards.map((s) => join(input, s.file)));
    } else expanded.push(input);
  }
  return resolveInputs(expanded);
}

async function pairsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      input: { type: "string", multiple: true },
      out: { type: "string" },
      "base-url": { type: "string", multiple: true },
      model: { type: "string" },
      "api-key": { type: "string" },
      "local-model": { type: "string" },
      k: { type: "string" },
      band: { type: "string" },
      temperature: { type: "string" },
      "top-p": { type: "string" },
      "max-tokens": { type: "string" },
      seed: { type: "string" },
      concurrency: { type: "string" },
      "system-prompt": { type: "string" },
      "prompt-template": { type: "string" },
      force: { type: "boolean" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
    },
    strict: true,
  });
  if (!values.input?.length) throw new UsageError("pairs: --input is required (canonical Sample files, globs or stage directories)");
  if (!values.out) throw new UsageError("pairs: --out is required (run directory)");
  const baseUrls = (values["base-url"] ?? []).flatMap((v) => v.split(",").map((u) => u.trim())).filter(Boolean);
  const remote = values["base-url"] !== undefined;
  const local = values["local-model"] !== undefined;
  if (remote === local) throw new UsageError("pairs: pass either --base-url URL --model NAME (a server) or --local-model DIR, not both or neither");
  if (remote && !values.model) throw new UsageError("pairs: --base-url needs --model NAME (the served model's name)");
  if (remote && baseUrls.length === 0) throw new UsageError("pairs: --base-url lists no URL");
  let band: [number, number] | undefined;
  if (values.band !== undefined) {
    const parts = values.band.split(",").map((p) => Number(p.trim()));
    if (parts.length !== 2 || parts.some((p) => !Number.isFinite(p) || p < 0 || p > 1) || parts[0]! > parts[1]!) throw new UsageError(`pairs: --band must be LO,HI with 0 ≤ LO ≤ HI ≤ 1, got "${values.band}"`);
    band = [parts[0]!, parts[1]!];
  }
  const sampling = {
    ...(values.temperature === undefined ? {} : { temperature: nonNegative(values.temperature, "--temperature")! }),
    ...(values["top-p"] === undefined ? {} : { topP: positive(values["top-p"], "--top-p")! }),
    ...(values["max-tokens"] === undefined ? {} : { maxTokens: positiveInt(values["max-tokens"], "--max-tokens")! }),
    ...(values.seed === undefined ? {} : { seed: number(values.seed, "--seed", (n) => Number.isInteger(n) && n >= 0, "an integer ≥ 0")! }),
  };
  const files = await resolveSampleInputs(values.input);

  let sampler: ResponseSampler;
  let cleanup: () => Promise<void> | void = () => {};
  if (remote) {
    const apiKey = values["api-key"] ?? process.env.OPENAI_API_KEY;
    const servers = baseUrls.length === 1 ? { baseURL: baseUrls[0]! } : { endpoints: baseUrls };
    const client = new OpenAIChatClient({ ...servers, model: values.model!, ...(apiKey ? { apiKey } : {}) });
    sampler = openAISampler({ client, ...sampling });
    cleanup = async () => {
      if (baseUrls.length > 1 && !values.quiet) {
        for (const s of client.endpointStats()) {
          const latency = s.meanLatencyMs === undefined ? "-" : `${Math.round(s.meanLatencyMs)} ms`;
          io.stderr.write(`${s.baseURL} [${s.state}]: ${s.requests} requests, ${s.successes} ok, ${s.failures} failed, mean latency ${latency}${s.failures > 0 && s.lastError ? `; last failure: ${s.lastError}` : ""}\n`);
        }
      }
      await client.close();
    };
  } else {
    const dir = resolve(values["local-model"]!);
    const checkpoint = await loadCheckpoint(dir);
    const tokenizer = await loadModelTokenizer(dir);
    // onnxruntime where it is installed (the fast path generation takes everywhere else), the tfjs model otherwise.
    let model: DecodeModel;
    try {
      const onnx = await OnnxQwen2Model.create(checkpoint.config, checkpoint.weights);
      model = onnx;
      cleanup = () => onnx.dispose();
    } catch {
      await selectBackend();
      const tfModel = Qwen2Model.fromWeights(checkpoint.config, checkpoint.weights);
      model = tfModel;
      cleanup = () => tfModel.dispose();
    }
    sampler = localSampler({ generate, model, tokenizer, modelId: dir, ...sampling });
  }
  const out = resolve(values.out);
  try {
    const result = await runPipeline({
      name: basename(out),
      runsDir: dirname(out),
      source: { files, decode: "samples" },
      stages: [
        pairConstructionStage(
          {
            ...(values.k === undefined ? {} : { k: positiveInt(values.k, "--k")! }),
            ...(band ? { passRateBand: band } : {}),
            ...(values.concurrency === undefined ? {} : { concurrency: positiveInt(values.concurrency, "--concurrency")! }),
            ...(values["system-prompt"] === undefined ? {} : { systemPrompt: values["system-prompt"] }),
            ...(values["prompt-template"] === undefined ? {} : { promptTemplate: values["prompt-template"] }),
          },
          { sampler },
        ),
      ],
      force: !!values.force,
      progress: false,
      logger: {
        info: (m) => {
          if (!values.quiet && !values.json) io.stderr.write(`${m}\n`);
        },
        warn: (m) => io.stderr.write(`warning: ${m}\n`),
        debug: () => {},
      },
    });
    const stage = result.stages[0]!;
    if (values.json) io.stdout.write(`${JSON.stringify(stage.manifest, null, 2)}\n`);
    else {
      const c = stage.manifest.counts;
      const reasons = Object.entries(c.rejectedByReason)
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ");
      io.stdout.write(`prompts ${c.in}  pairs ${c.out}  rejected ${c.rejected}${reasons ? ` (${reasons})` : ""}${stage.skipped ? "  [up to date]" : ""}\n`);
      io.stdout.write(`pairs: ${stage.dir}\n`);
    }
    return 0;
  } finally {
    await cleanup();
  }
}

async function trainCommand(argv: readonly string[], io: CliIo): Promise<number> {
  // `--resume` takes an optional value: a bare flag resumes from the latest checkpoint.
  const args = [...argv];
  let resume: boolean | string = false;
  const at = args.indexOf("--resume");
  if (at >= 0) {
    const next = args[at + 1];
    if (next !== undefined && !next.startsWith("--")) {
      resume = next;
      args.splice(at, 2);
    } else {
      resume = true;
      args.splice(at, 1);
    }
  }
  const { values } = parseArgs({ args, options: { config: { type: "string" }, backend: { type: "string" }, engine: { type: "string" }, threads: { type: "string" }, quiet: { type: "boolean" } }, strict: true });
  if (!values.config) throw new UsageError("train: --config FILE is required (dpo.yaml or dpo.json)");
  const engines = ["auto", "onnxruntime", "tfjs"] as const;
  if (values.engine !== undefined && !(engines as readonly string[]).includes(values.engine)) throw new UsageError(`train: --engine must be one of ${engines.join(", ")}, got "${values.engine}"`);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) throw new UsageError(`train: --threads must be a positive integer, got "${values.threads}"`);
  const config = await loadDpoConfig(values.config);
  const backend = await selectBackend(values.backend === undefined ? {} : { prefer: values.backend as (typeof BACKEND_NAMES)[number] });
  const log = (line: string) => {
    if (!values.quiet) io.stderr.write(`${line}\n`);
  };
  log(`tfjs backend: ${backend.name}`);
  const controller = new AbortController();
  const onSigint = () => {
    log("stopping after the current step (a checkpoint is saved; rerun with --resume)…");
    controller.abort();
  };
  process.once("SIGINT", onSigint);
  try {
    const result = await trainDpo(config, {
      resume,
      signal: controller.signal,
      log,
      ...(values.engine === undefined ? {} : { engine: values.engine as (typeof engines)[number] }),
      ...(threads === undefined ? {} : { threads }),
      ...(values.quiet ? { progress: false as const } : {}),
    });
    log(`training engine: ${result.engine}`);
    const last = result.lastLog;
    const fmt = (key: string) => (typeof last?.[key] === "number" ? (last[key] as number).toFixed(4) : "-");
    io.stdout.write(
      `steps ${result.train.globalStep}  pairs ${result.pairs}  loss ${fmt("loss")}  rewards/accuracies ${fmt("rewards/accuracies")}  rewards/margins ${fmt("rewards/margins")}  ${result.pairsPerSecond.toFixed(2)} pairs/s\n`,
    );
    io.stdout.write(result.finalDir ? `model: ${result.finalDir}\n` : `interrupted at step ${result.train.globalStep}; checkpoint: ${result.train.lastCheckpoint ?? "-"}\n`);
    return 0;
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}

async function exportCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      pairs: { type: "string" },
      out: { type: "string" },
      target: { type: "string" },
      model: { type: "string" },
      "dataset-name": { type: "string" },
      template: { type: "string" },
      loss: { type: "string" },
      beta: { type: "string" },
      "learning-rate": { type: "string" },
      epochs: { type: "string" },
      "cutoff-len": { type: "string" },
      "finetuning-type": { type: "string" },
      "num-samples": { type: "string" },
    },
    strict: true,
  });
  if (!values.pairs) throw new UsageError("export: --pairs DIR is required (a finished dpo-pairs stage)");
  if (!values.out) throw new UsageError("export: --out DIR is required");
  if (values.target !== "llamafactory") throw new UsageError(`export: --target must be llamafactory${values.target === undefined ? "" : `, got "${values.target}"`}`);
  if (!values.model) throw new UsageError("export: --model NAME_OR_PATH is required (model_name_or_path of the SFT checkpoint)");
  const finetuningType = values["finetuning-type"];
  if (finetuningType !== undefined && finetuningType !== "full" && finetuningType !== "lora") throw new UsageError(`export: --finetuning-type must be full or lora, got "${finetuningType}"`);
  const result = await exportLlamaFactoryDpo(readPreferenceRecords(values.pairs), values.out, {
    modelNameOrPath: values.model,
    ...(values["dataset-name"] === undefined ? {} : { datasetName: values["dataset-name"] }),
    ...(values.template === undefined ? {} : { template: values.template }),
    ...(values.loss === undefined ? {} : { lossType: values.loss }),
    ...(values.beta === undefined ? {} : { [prefBetaOf(values.loss ?? "sigmoid")]: positive(values.beta, "--beta")! }),
    ...(values["learning-rate"] === undefined ? {} : { learningRate: positive(values["learning-rate"], "--learning-rate")! }),
    ...(values.epochs === undefined ? {} : { numTrainEpochs: positive(values.epochs, "--epochs")! }),
    ...(values["cutoff-len"] === undefined ? {} : { cutoffLen: positiveInt(values["cutoff-len"], "--cutoff-len")! }),
    ...(finetuningType === undefined ? {} : { finetuningType }),
    ...(values["num-samples"] === undefined ? {} : { numSamples: positiveInt(values["num-samples"], "--num-samples")! }),
  });
  io.stdout.write(`${result.records} pairs → ${values.out}\n${result.files.map((f) => `  ${f}`).join("\n")}\nrun: cd ${values.out} && ${result.command}\n`);
  return 0;
}

/** "beta (sigmoid, hinge, ipo), orpoLambda (orpo), …": which hyperparameter `--beta` sets for each exportable loss. */
function prefBetaHelp(): string {
  const byHyperparameter = new Map<string, string[]>();
  for (const name of exportableLosses()) byHyperparameter.set(prefBetaOf(name), [...(byHyperparameter.get(prefBetaOf(name)) ?? []), name]);
  return [...byHyperparameter].map(([hyperparameter, losses]) => `${hyperparameter} (${losses.join(", ")})`).join(", ");
}

/** The hyperparameter `--beta` sets: the one the loss writes as LLaMA-Factory's `pref_beta` (else β). */
function prefBetaOf(loss: string): string {
  const mapping = preferenceLossDefinition(loss)?.llamaFactory;
  return typeof mapping === "object" ? mapping.prefBeta : "beta";
}
