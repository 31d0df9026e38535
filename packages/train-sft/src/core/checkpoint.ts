// Training checkpoints laid out as Hugging Face Trainer writes them (`<output_dir>/checkpoint-<global_step>/`):
//   model files     HF model directory (config.json, model.safetensors, tokenizer), PEFT adapter (adapter_config.json,
//                   adapter_model.safetensors) or bare model.safetensors
//   optimizer.safetensors  AdamW moments (`exp_avg.<param>`, `exp_avg_sq.<param>`), steps in the metadata
//   trainer_state.json     HF `TrainerState` field names
//   rng_state.json         random state of the run (HF pickles it into rng_state.pth)
//   loss_state.json        state the loss carries across steps (DPO `bco_pair`'s running reward mean); older
//                          checkpoints kept it in rng_state.json, which resume still reads (see trainLoop)
//   data_cursor.json       where the data stream stands (HF re-skips batches instead)
// A checkpoint is built in a hidden temporary directory and renamed into place, so `checkpoint-N/` either exists
// complete or not at all; a crash mid-write leaves the previous checkpoints untouched.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { syncDir } from "@infialign/data";
import {
  type LoadedCheckpoint,
  loadAdapter,
  loadCheckpoint,
  loadWeights,
  type NamedTensors,
  type PeftLoraConfig,
  readSafetensors,
  type SafetensorsWriteDtype,
  type SaveCheckpointOptions,
  saveAdapter,
  saveCheckpoint,
  saveWeights,
  writeSafetensors,
} from "@infialign/model";
import { TrainingError } from "./errors.js";
import type { AdamWState } from "./optimizer.js";
import { assignHostTensors, type NamedVariables } from "./tensors.js";

export const TRAINER_STATE_NAME = "trainer_state.json";
export const OPTIMIZER_NAME = "optimizer.safetensors";
export const RNG_STATE_NAME = "rng_state.json";
export const LOSS_STATE_NAME = "loss_state.json";
export const DATA_CURSOR_NAME = "data_cursor.json";
/** HF `PREFIX_CHECKPOINT_DIR`. */
export const CHECKPOINT_PREFIX = "checkpoint-";
const CHECKPOINT_RE = /^checkpoint-(\d+)$/;
const TEMP_PREFIX = ".tmp-checkpoint-";

/** What model files a checkpoint holds. */
export type CheckpointModel =
  /** A complete HF model directory via `@infialign/model` saveCheckpoint (config, weights, tokenizer). */
  | { format: "model"; options: SaveCheckpointOptions }
  /** A PEFT LoRA adapter via saveAdapter (adapter_config.json + adapter_model.safetensors). */
  | { format: "adapter"; config: PeftLoraConfig; tensors: NamedTensors }
  /** Weights only (`model.safetensors`, sharded as transformers does), for models without a Qwen2 config. */
  | { format: "weights"; weights: NamedTensors; dtype?: SafetensorsWriteDtype }
  /** Any other layout: `write` fills the (temporary) checkpoint directory. */
  | { format: "custom"; write: (dir: string) => Promise<void> };

export type LoadedCheckpointModel =
  | { format: "model"; checkpoint: LoadedCheckpoint }
  | { format: "adapter"; config: PeftLoraConfig; tensors: NamedTensors }
  | { format: "weights"; weights: NamedTensors }
  /** No files this module recognises; the caller reads `dir` itself. */
  | { format: "custom" };

/** One `log_history` entry (HF: the logged metrics plus `step` and `epoch`). */
export type LogEntry = Record<string, number | string | null>;

/** HF `TrainerState` (transformers `trainer_callback.py`), as serialized in trainer_state.json. */
export interface TrainerState {
  epoch: number;
  global_step: number;
  max_steps: number;
  logging_steps: number;
  eval_steps: number;
  save_steps: number;
  train_batch_size: number;
  num_train_epochs: number;
  num_input_tokens_seen: number;
  total_flos: number;
  log_history: LogEntry[];
  best_metric: number | null;
  best_global_step: number | null;
  best_model_checkpoint: string | null;
  is_local_process_zero: boolean;
  is_world_process_zero: boolean;
  is_hyper_param_search: boolean;
  trial_name: string | null;
  trial_params: Record<string, unknown> | null;
  stateful_callbacks: Record<string, unknown>;
}

/** A TrainerState with HF's defaults for every field not given. */
export function createTrainerState(init: Partial<TrainerState> = {}): TrainerState {
  return {
    epoch: 0,
    global_step: 0,
    max_steps: 0,
    logging_steps: 500,
    eval_steps: 500,
    save_steps: 500,
    train_batch_size: 8,
    num_train_epochs: 0,
    num_input_tokens_seen: 0,
    total_flos: 0,
    log_history: [],
    best_metric: null,
    best_global_step: null,
    best_model_checkpoint: null,
    is_local_process_zero: true,
    is_world_process_zero: true,
    is_hyper_param_search: false,
    trial_name: null,
    trial_params: null,
    stateful_callbacks: {},
    ...init,
  };
}

/** Where the data stream stands after the checkpoint's last step (our data_cursor.json). */
export interface DataCursor {
  /** Curriculum phase index (0-based). */
  phase: number;
  /** Epoch within the phase (0-based). */
  epoch: number;
  /** Micro-batches (or samples, as the source defines it) already consumed in this epoch. */
  position: number;
  /** Source-specific extras (shuffle seed, file offsets…), stored as given. */
  [key: string]: unknown;
}

/** Free-form JSON describing the random state (seed, draws, …), written to rng_state.json. */
export type RngState = Record<string, unknown>;

/** Free-form JSON of what the loss carries from step to step (running means, …), written to loss_state.json. */
export type LossState = Record<string, unknown>;

export interface SaveTrainingCheckpointOptions {
  /** Run directory; the checkpoint goes to `<outputDir>/checkpoint-<step>`. */
  outputDir: string;
  /** Global step the checkpoint was taken after. */
  step: number;
  model: CheckpointModel;
  /** Optimizer state; omitted → no optimizer.safetensors (HF `save_only_model`). */
  optimizer?: AdamWState;
  trainerState: TrainerState;
  rngState?: RngState;
  lossState?: LossState;
  dataCursor?: DataCursor;
  /**
   * Keep at most this many checkpoints, deleting the oldest (HF `save_total_limit`); the best checkpoint
   * (`trainerState.best_model_checkpoint`) is never deleted. @default undefined (keep all)
   */
  saveTotalLimit?: number;
  /** Test hook, called after all files are written and before the rename (throw to simulate a crash). @default none */
  beforeCommit?: (tempDir: string) => Promise<void> | void;
}

export interface TrainingCheckpoint {
  dir: string;
  step: number;
  model: LoadedCheckpointModel;
  optimizer?: AdamWState;
  trainerState: TrainerState;
  rngState?: RngState;
  lossState?: LossState;
  dataCursor?: DataCursor;
}

/** Writes `<outputDir>/checkpoint-<step>/` atomically and rotates old checkpoints; returns the directory. */
export async function saveTrainingCheckpoint(options: SaveTrainingCheckpointOptions): Promise<string> {
  const { outputDir, step } = options;
  if (!Number.isInteger(step) || step < 0) throw new TrainingError("checkpoint", `saveTrainingCheckpoint: step=${step} (expected an integer ≥ 0).`);
  await mkdir(outputDir, { recursive: true });
  await removeStaleTemps(outputDir);
  const finalDir = join(outputDir, `${CHECKPOINT_PREFIX}${step}`);
  const temp = join(outputDir, `${TEMP_PREFIX}${step}-${randomBytes(4).toString("hex")}`);
  await mkdir(temp);
  try {
    await writeModel(temp, options.model);
    if (options.optimizer) await writeOptimizerState(join(temp, OPTIMIZER_NAME), options.optimizer);
    await writeJson(join(temp, TRAINER_STATE_NAME), sortKeys(options.trainerState));
    if (options.rngState) await writeJson(join(temp, RNG_STATE_NAME), options.rngState);
    if (options.lossState) await writeJson(join(temp, LOSS_STATE_NAME), options.lossState);
    if (options.dataCursor) await writeJson(join(temp, DATA_CURSOR_NAME), options.dataCursor);
    await options.beforeCommit?.(temp);
    await replaceDir(temp, finalDir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  await syncDir(outputDir);
  if (options.saveTotalLimit !== undefined) {
    await rotateCheckpoints(outputDir, options.saveTotalLimit, options.trainerState.best_model_checkpoint ?? undefined);
  }
  return finalDir;
}

/** Complete checkpoints of a run, oldest first. */
export async function listCheckpoints(outputDir: string): Promise<{ step: number; dir: string }[]> {
  const entries = await readdir(outputDir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  return entries
    .filter((e) => e.isDirectory() && CHECKPOINT_RE.test(e.name))
    .map((e) => ({ step: Number(CHECKPOINT_RE.exec(e.name)![1]), dir: join(outputDir, e.name) }))
    .sort((a, b) => a.step - b.step);
}

/** HF `get_last_checkpoint`: the `checkpoint-<N>` directory with the largest N, or undefined. */
export async function latestCheckpoint(outputDir: string): Promise<string | undefined> {
  return (await listCheckpoints(outputDir)).at(-1)?.dir;
}

/** Deletes the oldest checkpoints beyond `limit` (HF `_rotate_checkpoints`), sparing `keep` (the best one). */
export async function rotateCheckpoints(outputDir: string, limit: number, keep?: string): Promise<string[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new TrainingError("checkpoint", `saveTotalLimit=${limit} (expected an integer ≥ 1).`);
  const all = await listCheckpoints(outputDir);
  const deletable = all.filter((c) => keep === undefined || !samePath(c.dir, keep));
  const keptBest = all.length - deletable.length;
  const excess = all.length - Math.max(limit, keptBest + 1);
  const removed = deletable.slice(0, Math.max(0, excess)).map((c) => c.dir);
  for (const dir of removed) await rm(dir, { recursive: true, force: true });
  return removed;
}

/** Reads a checkpoint directory written by saveTrainingCheckpoint (or an HF one, minus the pickled files). */
export async function loadTrainingCheckpoint(dir: string): Promise<TrainingCheckpoint> {
  const trainerState = createTrainerState((await readJson(join(dir, TRAINER_STATE_NAME))) as Partial<TrainerState>);
  const match = CHECKPOINT_RE.exec(dir.split(/[\\/]/).filter(Boolean).at(-1) ?? "");
  const step = match ? Number(match[1]) : trainerState.global_step;
  const optimizerPath = join(dir, OPTIMIZER_NAME);
  const checkpoint: TrainingCheckpoint = { dir, step, model: await readCheckpointModel(dir), trainerState };
  if (existsSync(optimizerPath)) checkpoint.optimizer = await readOptimizerState(optimizerPath);
  if (existsSync(join(dir, RNG_STATE_NAME))) checkpoint.rngState = (await readJson(join(dir, RNG_STATE_NAME))) as RngState;
  if (existsSync(join(dir, LOSS_STATE_NAME))) checkpoint.lossState = (await readJson(join(dir, LOSS_STATE_NAME))) as LossState;
  if (existsSync(join(dir, DATA_CURSOR_NAME))) checkpoint.dataCursor = validateCursor(await readJson(join(dir, DATA_CURSOR_NAME)), join(dir, DATA_CURSOR_NAME));
  return checkpoint;
}

/** AdamW state as safetensors: `exp_avg.<param>` / `exp_avg_sq.<param>` (torch's names), steps in the metadata. */
export async function writeOptimizerState(path: string, state: AdamWState): Promise<void> {
  const tensors: NamedTensors = new Map();
  for (const [name, m] of state.expAvg) tensors.set(`exp_avg.${name}`, m);
  for (const [name, v] of state.expAvgSq) tensors.set(`exp_avg_sq.${name}`, v);
  const metadata = { format: "infialign-adamw", step: String(state.step), param_steps: JSON.stringify(Object.fromEntries(state.paramSteps)) };
  await writeSafetensors(path, tensors, { metadata });
}

export async function readOptimizerState(path: string): Promise<AdamWState> {
  const { tensors, metadata } = await readSafetensors(path);
  const step = Number(metadata.step);
  let paramSteps: Record<string, number>;
  try {
    paramSteps = JSON.parse(metadata.param_steps ?? "") as Record<string, number>;
  } catch (cause) {
    throw new TrainingError("checkpoint", `${path}: __metadata__.param_steps is not JSON (expected {"<param>": <step>, …} as written by writeOptimizerState).`, { cause });
  }
  if (!Number.isInteger(step) || step < 0) throw new TrainingError("checkpoint", `${path}: __metadata__.step="${metadata.step}" (expected an integer ≥ 0).`);
  const expAvg: NamedTensors = new Map();
  const expAvgSq: NamedTensors = new Map();
  for (const [key, tensor] of tensors) {
    if (key.startsWith("exp_avg_sq.")) expAvgSq.set(key.slice("exp_avg_sq.".length), tensor);
    else if (key.startsWith("exp_avg.")) expAvg.set(key.slice("exp_avg.".length), tensor);
    else throw new TrainingError("checkpoint", `${path}: unexpected tensor "${key}" (expected exp_avg.<param> or exp_avg_sq.<param>).`);
  }
  return { step, paramSteps: new Map(Object.entries(paramSteps)), expAvg, expAvgSq };
}

async function writeModel(dir: string, model: CheckpointModel): Promise<void> {
  switch (model.format) {
    case "model":
      return saveCheckpoint(dir, model.options);
    case "adapter":
      return saveAdapter(dir, { config: model.config, tensors: model.tensors });
    case "weights":
      return saveWeights(dir, model.weights, model.dtype === undefined ? {} : { dtype: model.dtype });
    case "custom":
      return model.write(dir);
  }
}

/**
 * The model files of a checkpoint, or of a trainer's `final/` directory: a PEFT adapter (adapter_config.json), an HF
 * model directory (config.json) or bare weights (model.safetensors); `custom` when there are none of these.
 */
export async function readCheckpointModel(dir: string): Promise<LoadedCheckpointModel> {
  if (existsSync(join(dir, "adapter_config.json"))) return { format: "adapter", ...(await loadAdapter(dir)) };
  if (existsSync(join(dir, "config.json"))) return { format: "model", checkpoint: await loadCheckpoint(dir) };
  if (existsSync(join(dir, "model.safetensors")) || existsSync(join(dir, "model.safetensors.index.json"))) {
    return { format: "weights", weights: await loadWeights(dir) };
  }
  return { format: "custom" };
}

/**
 * Puts checkpointed model files back into the trainer's variables in place (the optimizer holds those very variables),
 * by name: a full model's or bare weights onto the model's parameters, an adapter's tensors onto the LoRA variables
 * (named as `loraVariables` of @infialign/model names them). Every variable must be there with its shape, and nothing
 * else (assignHostTensors), so a checkpoint of another model or LoRA setting is refused before anything changes.
 * @param source directory named in errors
 */
export function restoreCheckpointModel(model: LoadedCheckpointModel, variables: NamedVariables, source: string): void {
  if (model.format === "adapter") assignHostTensors(variables, model.tensors, source);
  else if (model.format === "model") assignHostTensors(variables, model.checkpoint.weights, source);
  else if (model.format === "weights") assignHostTensors(variables, model.weights, source);
  else {
    throw new TrainingError(
      "checkpoint",
      `${source} holds no model files (config.json, adapter_config.json or model.safetensors); a checkpoint with custom model files needs the trainer's own restoreModel.`,
    );
  }
}

function validateCursor(json: unknown, source: string): DataCursor {
  const c = json as Partial<DataCursor> | null;
  const bad = (["phase", "epoch", "position"] as const).filter((k) => typeof c?.[k] !== "number" || !Number.isInteger(c[k]) || c[k] < 0);
  if (c === null || typeof c !== "object" || bad.length > 0) {
    throw new TrainingError("checkpoint", `${source}: field(s) ${bad.join(", ")} missing or invalid (expected integers ≥ 0: {"phase", "epoch", "position"}).`);
  }
  return c as DataCursor;
}

/** Renames `from` to `to`; an existing `to` (same step saved again after a resume) is swapped out, then removed. */
async function replaceDir(from: string, to: string): Promise<void> {
  if (!existsSync(to)) return rename(from, to);
  const trash = `${from}.old`;
  await rename(to, trash);
  await rename(from, to);
  await rm(trash, { recursive: true, force: true });
}

/**
 * Temp dirs left by a process that died mid-save; one trainer owns an output directory, so none are in use. Includes
 * the `.<our temp>.tmp-*` siblings that @infialign/model's atomic saveCheckpoint/saveAdapter make of our temp dir.
 */
async function removeStaleTemps(outputDir: string): Promise<void> {
  for (const entry of await readdir(outputDir)) {
    if (entry.startsWith(TEMP_PREFIX) || entry.startsWith(`.${TEMP_PREFIX}`)) await rm(join(outputDir, entry), { recursive: true, force: true });
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const handle = await open(path, "w");
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new TrainingError("checkpoint", `cannot read ${path}; is this a checkpoint directory written by saveTrainingCheckpoint?`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new TrainingError("checkpoint", `${path} is not valid JSON (${(cause as Error).message}).`, { cause });
  }
}

/** HF writes trainer_state.json with `sort_keys=True`. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/** Checkpoint names are unique within a run directory, so the last path segment identifies one. */
function samePath(a: string, b: string): boolean {
  const base = (p: string) => p.split(/[\\/]/).filter(Boolean).at(-1);
  return base(a) === base(b);
}
