// Hugging Face model directories: config.json, generation_config.json, model.safetensors or sharded
// model-0000i-of-0000N.safetensors + model.safetensors.index.json, and tokenizer files — the layout transformers'
// `save_pretrained` writes and `from_pretrained`, vLLM and LLaMA-Factory read.
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseQwen2Config, type Qwen2Config, qwen2ConfigToJson } from "../config.js";
import type { ModelTokenizer, NamedTensors } from "../engine.js";
import { ModelError } from "../errors.js";
import { ByteTokenizer } from "../tokenizer/byteTokenizer.js";
import { byteTokenizerFiles } from "../tokenizer/byteTokenizerFiles.js";
import { HfTokenizer } from "../tokenizer/hfTokenizer.js";
import { writeDirAtomically } from "./atomicDir.js";
import { readSafetensors, type SafetensorsWriteDtype, tensorBytes, writeSafetensors } from "./safetensors.js";

export const SAFETENSORS_FILE = "model.safetensors";
export const SAFETENSORS_INDEX_FILE = "model.safetensors.index.json";
/** transformers' `save_pretrained(max_shard_size="5GB")` default, in bytes (decimal GB, as `convert_file_size_to_int`). */
export const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;
/** transformers writes this metadata into every safetensors file; `from_pretrained` warns on files without it. */
const SAFETENSORS_METADATA = { format: "pt" };

export interface SaveWeightsOptions {
  /** Element type on disk; F16/BF16 halve the files (rounded to nearest even). @default "F32" */
  dtype?: SafetensorsWriteDtype;
  /** Largest shard in bytes; more tensors than fit go to numbered shards with an index. @default 5_000_000_000 (transformers' "5GB") */
  maxShardBytes?: number;
}

export interface SaveCheckpointOptions {
  config: Qwen2Config;
  weights: NamedTensors;
  /** Tokenizer files to include: a ByteTokenizer's generated files, or an HfTokenizer's source files. @default none */
  tokenizer?: ModelTokenizer;
  /** Keys merged over the generated generation_config.json (bos/eos/pad ids). @default {} */
  generationConfig?: Record<string, unknown>;
  /** @default "F32" */
  dtype?: SafetensorsWriteDtype;
  /** @default 5_000_000_000 */
  maxShardBytes?: number;
}

export interface LoadedCheckpoint {
  config: Qwen2Config;
  weights: NamedTensors;
  /** generation_config.json, when the directory has one. */
  generationConfig?: Record<string, unknown>;
}

const TORCH_DTYPE: Record<SafetensorsWriteDtype, string> = { F32: "float32", F16: "float16", BF16: "bfloat16" };
const SHARD_PATTERN = /^model-\d{5}-of-\d{5}\.safetensors$/;

const fail = (message: string, cause?: unknown): never => {
  throw new ModelError("checkpoint", message, cause === undefined ? undefined : { cause });
};

/** transformers' `json.dumps(obj, indent=2, sort_keys=True) + "\n"` (keys sorted at every level). */
function prettyJson(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
    return v;
  };
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    return fail(`cannot read ${path} (${error instanceof Error ? error.message : String(error)}).`, error);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(`${path} is not valid JSON (${error instanceof Error ? error.message : String(error)}).`, error);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) fail(`${path} must hold a JSON object.`);
  return json as Record<string, unknown>;
}

/**
 * Groups tensors into shards as huggingface_hub's `split_state_dict_into_shards_factory` does: in order, a new shard
 * when the next tensor would overflow the current one; a tensor larger than the limit gets a shard of its own.
 */
function planShards(tensors: NamedTensors, dtype: SafetensorsWriteDtype, maxShardBytes: number): string[][] {
  const shards: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const [name, tensor] of tensors) {
    const bytes = tensorBytes(tensor, dtype);
    if (bytes > maxShardBytes) {
      shards.push([name]);
      continue;
    }
    if (current.length > 0 && size + bytes > maxShardBytes) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(name);
    size += bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

/**
 * Writes weights as transformers does: `model.safetensors` when they fit in one shard, else
 * `model-00001-of-0000N.safetensors` … plus `model.safetensors.index.json` (`{metadata: {total_size}, weight_map}`).
 * Creates `dir`; removes weight files of an earlier save there that this one does not overwrite.
 */
export async function saveWeights(dir: string, tensors: NamedTensors, options: SaveWeightsOptions = {}): Promise<void> {
  const dtype = options.dtype ?? "F32";
  const maxShardBytes = options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  if (!(maxShardBytes > 0)) fail(`maxShardBytes must be a positive number of bytes; got ${maxShardBytes}.`);
  await mkdir(dir, { recursive: true });
  const shards = planShards(tensors, dtype, maxShardBytes);
  const written = new Set<string>();
  if (shards.length === 1) {
    await writeSafetensors(join(dir, SAFETENSORS_FILE), tensors, { dtype, metadata: SAFETENSORS_METADATA });
    written.add(SAFETENSORS_FILE);
  } else {
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    for (const [i, names] of shards.entries()) {
      const file = `model-${String(i + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`;
      const shard: NamedTensors = new Map(names.map((n) => [n, tensors.get(n) as NonNullable<ReturnType<NamedTensors["get"]>>]));
      await writeSafetensors(join(dir, file), shard, { dtype, metadata: SAFETENSORS_METADATA });
      for (const [name, tensor] of shard) {
        weightMap[name] = file;
        totalSize += tensorBytes(tensor, dtype);
      }
      written.add(file);
    }
    await writeFile(join(dir, SAFETENSORS_INDEX_FILE), prettyJson({ metadata: { total_size: totalSize }, weight_map: weightMap }));
    written.add(SAFETENSORS_INDEX_FILE);
  }
  for (const file of await readdir(dir)) {
    if ((file === SAFETENSORS_FILE || file === SAFETENSORS_INDEX_FILE || SHARD_PATTERN.test(file)) && !written.has(file)) await rm(join(dir, file), { force: true });
  }
}

/**
 * Reads the weights of a model directory: `model.safetensors.index.json` with its shards, else `model.safetensors`.
 * Every tensor is converted to float32. Rejects an index that names a missing file or another directory, a shard
 * tensor the index maps to another file or to none (e.g. a tensor stored in two shards), or an index entry whose shard
 * lacks the tensor.
 */
export async function loadWeights(dir: string): Promise<NamedTensors> {
  const indexPath = join(dir, SAFETENSORS_INDEX_FILE);
  if (existsSync(indexPath)) {
    const index = await readJson(indexPath);
    const map = index.weight_map;
    if (map === null || typeof map !== "object" || Array.isArray(map)) return fail(`${indexPath}: "weight_map" must be an object {tensor name: shard file}.`);
    const byFile = new Map<string, Set<string>>();
    for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
      if (typeof file !== "string" || basename(file) !== file) fail(`${indexPath}: weight_map["${name}"] must be a file name in the same directory; got ${JSON.stringify(file)}.`);
      const names = byFile.get(file as string) ?? new Set<string>();
      names.add(name);
      byFile.set(file as string, names);
    }
    // Every shard must exist before gigabytes of the others are read.
    for (const [file, names] of byFile) {
      if (!existsSync(join(dir, file))) fail(`${indexPath} lists ${names.size} tensor(s) in ${file}, which does not exist in ${dir} (incomplete download?).`);
    }
    const tensors: NamedTensors = new Map();
    for (const [file, names] of byFile) {
      const path = join(dir, file);
      const shard = await readSafetensors(path);
      for (const [name, tensor] of shard.tensors) {
        // A tensor stored in two shards shows up here too: the index maps each name to one file only.
        const mapped = (map as Record<string, string>)[name];
        if (mapped !== file) fail(`${path} holds tensor "${name}", which ${indexPath} maps ${mapped === undefined ? "to no file" : `to ${mapped}`}; the index and the shards disagree.`);
        tensors.set(name, tensor);
      }
      for (const name of names) if (!shard.tensors.has(name)) fail(`${indexPath} maps tensor "${name}" to ${file}, which does not contain it.`);
    }
    return tensors;
  }
  const single = join(dir, SAFETENSORS_FILE);
  if (existsSync(single)) return (await readSafetensors(single)).tensors;
  const hint = existsSync(join(dir, "pytorch_model.bin")) ? " It has pytorch_model.bin: convert it to safetensors first (transformers: `model.save_pretrained(dir, safe_serialization=True)`)." : "";
  return fail(`${dir} has neither ${SAFETENSORS_FILE} nor ${SAFETENSORS_INDEX_FILE}.${hint}`);
}

/** Tokenizer files for a checkpoint: generated for a ByteTokenizer, the source files of an HfTokenizer. */
function tokenizerFiles(tokenizer: ModelTokenizer): Record<string, string> {
  if (tokenizer instanceof ByteTokenizer) return byteTokenizerFiles(tokenizer);
  if (tokenizer instanceof HfTokenizer) return { ...tokenizer.files };
  return fail(`cannot save tokenizer "${tokenizer.name}": only ByteTokenizer and HfTokenizer know their Hugging Face files; copy the tokenizer files into the checkpoint yourself.`);
}

/**
 * Writes a complete model directory: config.json (qwen2ConfigToJson, `torch_dtype` = the saved dtype),
 * generation_config.json (bos/eos/pad ids from the config and tokenizer, then `generationConfig`), the weights
 * (see saveWeights) and the tokenizer's files. Everything is written into a temporary sibling directory that then
 * replaces `dir`, so an interrupted save never leaves a half-written checkpoint under `dir`; an existing `dir` is
 * replaced as a whole.
 */
export async function saveCheckpoint(dir: string, options: SaveCheckpointOptions): Promise<void> {
  const dtype = options.dtype ?? "F32";
  const files: Record<string, string> = options.tokenizer ? tokenizerFiles(options.tokenizer) : {};
  const config = { ...qwen2ConfigToJson(options.config), torch_dtype: TORCH_DTYPE[dtype] };
  const eos = options.tokenizer?.eosTokenIds.length ? [...options.tokenizer.eosTokenIds] : options.config.eosTokenId;
  const generation: Record<string, unknown> = {
    ...(options.config.bosTokenId === undefined ? {} : { bos_token_id: options.config.bosTokenId }),
    ...(eos === undefined ? {} : { eos_token_id: Array.isArray(eos) && eos.length === 1 ? eos[0] : eos }),
    ...(options.tokenizer ? { pad_token_id: options.tokenizer.padTokenId } : {}),
    ...options.generationConfig,
  };
  try {
    await writeDirAtomically(dir, async (temp) => {
      await writeFile(join(temp, "config.json"), prettyJson(config));
      await writeFile(join(temp, "generation_config.json"), prettyJson(generation));
      for (const [name, content] of Object.entries(files)) await writeFile(join(temp, name), content);
      await saveWeights(temp, options.weights, { dtype, ...(options.maxShardBytes === undefined ? {} : { maxShardBytes: options.maxShardBytes }) });
    });
  } catch (error) {
    if (error instanceof ModelError) throw error;
    fail(`cannot save the checkpoint to ${dir} (${error instanceof Error ? error.message : String(error)}).`, error);
  }
}

/** Reads config.json (parseQwen2Config), the weights (loadWeights) and generation_config.json when present. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath)) fail(`${dir} has no config.json; pass a Hugging Face model directory.`);
  const config = parseQwen2Config(await readJson(configPath), configPath);
  const weights = await loadWeights(dir);
  const generationPath = join(dir, "generation_config.json");
  return existsSync(generationPath) ? { config, weights, generationConfig: await readJson(generationPath) } : { config, weights };
}
