// `infialign-sft`: train an SFT curriculum, export it for LLaMA-Factory, or print the InfiAlign recipe as a run config.
import { constants } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { outputDirProblem } from "@infialign/data";
import { stringify as stringifyYaml } from "yaml";
import { type CurriculumConfig, infialignRecipe, loadCurriculumConfig, RECIPE_SCALES } from "../curriculum.js";

export const SFT_USAGE = `Usage: infialign-sft <command> [options]

Commands:
  train   --config <run.yaml> [--resume] [--engine auto|onnxruntime|tfjs] [--backend wasm|cpu|tfjs-node|tfjs-node-gpu] [--threads <n>] [--train-on-prompt] [--quiet]
          Run the curriculum: checkpoints, metrics.jsonl, final/ (HF checkpoint), run.json and report.html under outputDir.
          Ctrl-C stops after the current step with a checkpoint; --resume continues from it.
  export  --config <run.yaml> --target llamafactory --out <dir> [--dataset-name <name>] [--model-name-or-path <hf id>]
          [--template qwen] [--num-gpus <n>] [--num-samples <phase>=<n>[,<phase>=<n>…]]
          Write the phases as ShareGPT datasets, dataset_info.json, one LLaMA-Factory YAML per phase and train.sh.
          --num-samples writes num_samples for the named phases, which makes LLaMA-Factory resample them (default: each
          sample once).
  recipe  --phase1 <glob> --phase2 <glob> --model <dir> --output <dir> [--scale cpu|paper] [--packing bfd|bfd_split|wrapped|none] [--seed <n>]
          Print InfiAlign's two-phase SFT recipe as a run config (YAML) on stdout: infialign-sft recipe … > run.yaml
          (relative paths in a config file are read relative to the file's directory).

Options:
  -h, --help   print this help
`;

export interface SftCliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

const defaultIo: SftCliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };

class UsageError extends Error {}

/**
 * Creates an output directory before any work, or throws a message that names the directory
 * in the way and the setting to change (a read-only or misplaced directory otherwise surfaced
 * as "ENOENT … mkdir" after the data had been loaded).
 */
async function ensureOutputDir(dir: string, setting: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (error) {
    throw new Error(`cannot create the output directory "${dir}": ${await outputDirProblem(dir, error)}. Set ${setting} to a writable directory, or fix its permissions.`, { cause: error });
  }
}

const COMMANDS = ["train", "export", "recipe"] as const;

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

/** `phase1=1000,phase2=500` → `{ phase1: 1000, phase2: 500 }`. */
function phaseCounts(value: string | undefined, flag: string): Record<string, number> | undefined {
  if (value === undefined) return undefined;
  const counts: Record<string, number> = {};
  for (const part of value.split(",")) {
    const [name, count, extra] = part.split("=");
    if (!name || count === undefined || extra !== undefined) throw new UsageError(`${flag} takes <phase>=<n>[,<phase>=<n>…], got "${value}"`);
    counts[name.trim()] = positiveInt(count.trim(), `${flag} ${name}`) as number;
  }
  return counts;
}

function required(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value === "") throw new UsageError(`${command} needs ${flag}`);
  return value;
}

function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(", ")}, got "${value}"`);
  return value as T;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      config: { type: "string" },
      resume: { type: "boolean" },
      backend: { type: "string" },
      engine: { type: "string" },
      threads: { type: "string" },
      "train-on-prompt": { type: "boolean" },
      quiet: { type: "boolean" },
      target: { type: "string" },
      out: { type: "string" },
      "dataset-name": { type: "string" },
      "model-name-or-path": { type: "string" },
      template: { type: "string" },
      "num-gpus": { type: "string" },
      "num-samples": { type: "string" },
      phase1: { type: "string" },
      phase2: { type: "string" },
      model: { type: "string" },
      output: { type: "string" },
      scale: { type: "string" },
      packing: { type: "string" },
      seed: { type: "string" },
    },
  });
}

type Parsed = ReturnType<typeof parse>;

/** Runs the CLI; returns the exit code: 0 ok, 1 failure, 2 bad usage, 130 interrupted (resume with --resume). */
export async function main(argv: readonly string[], io: SftCliIo = defaultIo): Promise<number> {
  const out = (text: string) => io.stdout.write(text);
  const err = (line: string) => io.stderr.write(`${line}\n`);
  let parsed: Parsed;
  let command: (typeof COMMANDS)[number];
  try {
    parsed = parse(argv);
    if (parsed.values.help) {
      out(SFT_USAGE);
      return 0;
    }
    const [name, ...extra] = parsed.positionals;
    if (name === undefined) throw new UsageError("missing command");
    if (!(COMMANDS as readonly string[]).includes(name)) throw new UsageError(`unknown command "${name}" (expected ${COMMANDS.join(", ")})`);
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    command = name as (typeof COMMANDS)[number];
  } catch (error) {
    err(`infialign-sft: ${error instanceof Error ? error.message : String(error)}\n\n${SFT_USAGE}`);
    return 2;
  }
  try {
    if (command === "train") return await train(parsed.values, err, out);
    if (command === "export") return await exportCommand(parsed.values, out);
    return recipe(parsed.values, out);
  } catch (error) {
    if (error instanceof UsageError) {
      err(`infialign-sft ${command}: ${error.message}\n\n${SFT_USAGE}`);
      return 2;
    }
    err(`infialign-sft ${command}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

async function train(values: Parsed["values"], err: (line: string) => void, out: (text: string) => void): Promise<number> {
  const configPath = required(values.config, "--config <run.yaml>", "train");
  const { BACKEND_NAMES, selectBackend } = await import("@infialign/kernels/tfjs");
  const backend = oneOf(values.backend, "--backend", BACKEND_NAMES);
  const engine = oneOf(values.engine, "--engine", ["auto", "onnxruntime", "tfjs"] as const);
  const threads = positiveInt(values.threads, "--threads");
  const config: CurriculumConfig = await loadCurriculumConfig(configPath);
  await ensureOutputDir(config.outputDir, `"outputDir" in ${configPath}`);
  const quiet = !!values.quiet;
  await selectBackend({ ...(backend ? { prefer: backend } : {}), ...(threads ? { threads } : {}), ...(quiet ? {} : { log: err }) });
  // Loaded after the backend: the trainer pulls in the model and tfjs.
  const { trainSft } = await import("../trainer.js");
  const controller = new AbortController();
  const onSignal = () => {
    err("infialign-sft train: stopping after the current step (Ctrl-C again to kill)…");
    controller.abort();
    process.off("SIGINT", onSignal);
  };
  process.on("SIGINT", onSignal);
  try {
    const summary = await trainSft(config, {
      signal: controller.signal,
      resume: !!values.resume,
      ...(engine ? { engine } : {}),
      ...(threads ? { threads } : {}),
      ...(values["train-on-prompt"] ? { trainOnPrompt: true } : {}),
      progress: !quiet,
      ...(quiet ? {} : { log: (line: string) => err(line) }),
    });
    for (const p of summary.phases) {
      out(`${p.name}\tsteps ${p.steps}/${p.maxSteps}\tloss ${p.finalTrainLoss?.toFixed(4) ?? "n/a"}\teval_loss ${p.finalEvalLoss?.toFixed(4) ?? "n/a"}\t${p.tokensPerSecond.toFixed(0)} tok/s\n`);
    }
    if (summary.interrupted) {
      out(`interrupted; resume with: infialign-sft train --config ${configPath} --resume\n`);
      return 130;
    }
    out(`final model: ${summary.finalDir}\nreport: ${summary.reportHtml}\n`);
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
  }
}

async function exportCommand(values: Parsed["values"], out: (text: string) => void): Promise<number> {
  const configPath = required(values.config, "--config <run.yaml>", "export");
  const target = required(values.target, "--target llamafactory", "export");
  if (target !== "llamafactory") throw new UsageError(`--target must be "llamafactory", got "${target}"`);
  const outDir = required(values.out, "--out <dir>", "export");
  const numGpus = positiveInt(values["num-gpus"], "--num-gpus");
  const numSamples = phaseCounts(values["num-samples"], "--num-samples");
  const config = await loadCurriculumConfig(configPath);
  await ensureOutputDir(outDir, "--out");
  const [{ selectSamples }, { exportLlamaFactory }] = await Promise.all([import("../data/selectSamples.js"), import("../export/llamafactory.js")]);
  const phases = [];
  for (const phase of config.phases) phases.push({ config: phase, samples: (await selectSamples(phase.data, { seed: config.seed })).samples });
  const datasetName = values["dataset-name"] ?? (basename(config.outputDir).replace(/[^\w.-]/g, "_") || "infialign_sft");
  const result = await exportLlamaFactory({
    phases,
    outDir,
    datasetName,
    modelNameOrPath: values["model-name-or-path"] ?? config.model,
    ...(values.template ? { template: values.template } : {}),
    ...(numGpus ? { numGpus } : {}),
    ...(numSamples ? { numSamples } : {}),
    optimizer: config.optimizer,
    ...(config.lora ? { lora: config.lora } : {}),
    seed: config.seed,
    loggingSteps: config.loggingSteps,
    saveSteps: config.saveSteps,
    ...(config.saveTotalLimit === undefined ? {} : { saveTotalLimit: config.saveTotalLimit }),
  });
  for (const [phase, n] of Object.entries(result.samples)) out(`${phase}\t${n} samples\n`);
  out(`wrote ${result.files.length} files to ${outDir}; run: cd ${outDir} && bash train.sh\n`);
  return 0;
}

function recipe(values: Parsed["values"], out: (text: string) => void): number {
  const scale = oneOf(values.scale, "--scale", Object.keys(RECIPE_SCALES) as (keyof typeof RECIPE_SCALES)[]) ?? "paper";
  const packing = oneOf(values.packing, "--packing", ["none", "bfd", "bfd_split", "wrapped"] as const);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0)) throw new UsageError(`--seed must be an integer ≥ 0, got "${values.seed}"`);
  const config = infialignRecipe({
    phase1: { files: [required(values.phase1, "--phase1 <glob>", "recipe")] },
    phase2: { files: [required(values.phase2, "--phase2 <glob>", "recipe")] },
    model: required(values.model, "--model <dir>", "recipe"),
    outputDir: required(values.output, "--output <dir>", "recipe"),
    scale,
    ...(packing ? { packing } : {}),
    ...(seed === undefined ? {} : { seed }),
  });
  out(`# InfiAlign two-phase SFT (infialign-sft recipe --scale ${scale}); edit and run: infialign-sft train --config <this file>\n${stringifyYaml(config)}`);
  return 0;
}
