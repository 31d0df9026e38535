// LoRA adapters in the PEFT format (https://github.com/huggingface/peft): adapter_config.json + adapter_model.safetensors
// with PEFT's tensor names, so adapters trained here load with `PeftModel.from_pretrained`, vLLM's `--lora-modules` and
// LLaMA-Factory, and adapters trained there load here.
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { HostTensor, NamedTensors } from "../engine.js";
import { ModelError } from "../errors.js";
import { writeDirAtomically } from "./atomicDir.js";
import { readSafetensors, writeSafetensors } from "./safetensors.js";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";

/**
 * PEFT's `LoraConfig` as adapter_config.json stores it (snake_case). Fields this implementation cannot apply are
 * pinned: `bias` "none", `fan_in_fan_out` false, `use_dora` false, empty `rank_pattern` / `alpha_pattern`.
 * Other keys PEFT writes (`loftq_config`, `megatron_config`, …) pass through unchanged.
 */
export interface PeftLoraConfig {
  peft_type: "LORA";
  /** @default "CAUSAL_LM" */
  task_type: string | null;
  /** Rank of every adapter (A is `[r, in]`, B is `[out, r]`). */
  r: number;
  /** Scale numerator: the update is (lora_alpha / r) · B·A (or lora_alpha / √r with `use_rslora`, Kalajdzievski 2023). */
  lora_alpha: number;
  /** Dropout on the adapter input during training. @default 0 */
  lora_dropout: number;
  /** Module names (suffixes such as "q_proj"), or one regular expression matched against full module names. */
  target_modules: string[] | string;
  /** @default "none" */
  bias: "none";
  /** @default false */
  fan_in_fan_out: false;
  /** Base model the adapter was trained on (a hub id or a path). @default null */
  base_model_name_or_path: string | null;
  /** @default false (true marks an adapter saved for inference only) */
  inference_mode: boolean;
  /** @default false */
  use_rslora: boolean;
  /** @default false */
  use_dora: false;
  /** Whole modules trained and saved besides the adapters; not supported here. @default null */
  modules_to_save: null;
  /** @default true */
  init_lora_weights: boolean | string;
  /** Layer indices that carry adapters; null = all. @default null */
  layers_to_transform: number[] | number | null;
  /** @default null */
  layers_pattern: string | string[] | null;
  /** @default {} */
  rank_pattern: Record<string, never>;
  /** @default {} */
  alpha_pattern: Record<string, never>;
  /** @default null */
  revision: string | null;
  [key: string]: unknown;
}

const PEFT_DEFAULTS = {
  peft_type: "LORA",
  task_type: "CAUSAL_LM",
  lora_dropout: 0,
  bias: "none",
  fan_in_fan_out: false,
  base_model_name_or_path: null,
  inference_mode: false,
  use_rslora: false,
  use_dora: false,
  modules_to_save: null,
  init_lora_weights: true,
  layers_to_transform: null,
  layers_pattern: null,
  rank_pattern: {},
  alpha_pattern: {},
  revision: null,
} as const;

const unsupported = (what: string) => ({ message: `${what} is not supported by this LoRA implementation` });
const emptyRecord = z.record(z.string(), z.never(unsupported("a non-empty pattern (per-module rank/alpha)")));

const peftLoraConfigSchema = z.looseObject({
  peft_type: z.literal("LORA", { message: 'must be "LORA" (only LoRA adapters are supported)' }),
  task_type: z.string().nullable(),
  r: z.int().positive(),
  lora_alpha: z.number().positive(),
  lora_dropout: z.number().min(0).lt(1),
  target_modules: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]),
  bias: z.literal("none", unsupported('a bias other than "none"')),
  fan_in_fan_out: z.literal(false, unsupported("fan_in_fan_out (Conv1D layout)")),
  base_model_name_or_path: z.string().nullable(),
  inference_mode: z.boolean(),
  use_rslora: z.boolean(),
  use_dora: z.literal(false, unsupported("DoRA")),
  modules_to_save: z.null(unsupported("modules_to_save (fully trained extra modules)")),
  init_lora_weights: z.union([z.boolean(), z.string()]),
  layers_to_transform: z.union([z.array(z.int().nonnegative()), z.int().nonnegative()]).nullable(),
  layers_pattern: z.union([z.string(), z.array(z.string())]).nullable(),
  rank_pattern: emptyRecord,
  alpha_pattern: emptyRecord,
  revision: z.string().nullable(),
});

const fail = (message: string, cause?: unknown): never => {
  throw new ModelError("peft", message, cause === undefined ? undefined : { cause });
};

/**
 * A complete PeftLoraConfig from the fields that matter (`r`, `lora_alpha`, `target_modules`, …) and PEFT's defaults
 * for the rest; validated. PEFT itself writes `modules_to_save: null` and `lora_dropout: 0.0` the same way.
 */
export function resolvePeftLoraConfig(init: Partial<PeftLoraConfig> & Pick<PeftLoraConfig, "r" | "lora_alpha" | "target_modules">, source = "PeftLoraConfig"): PeftLoraConfig {
  return validatePeftLoraConfig({ ...PEFT_DEFAULTS, ...init }, source);
}

/** Checks an adapter_config.json object, reporting every invalid field at once. Missing optional fields get PEFT's defaults. */
export function validatePeftLoraConfig(json: unknown, source = ADAPTER_CONFIG_FILE): PeftLoraConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return fail(`${source} must hold a JSON object.`);
  const withDefaults = { ...PEFT_DEFAULTS, ...(json as Record<string, unknown>) };
  const result = peftLoraConfigSchema.safeParse(withDefaults);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `"${i.path.join(".") || "(root)"}": ${i.message}`);
    return fail(`${source} is not a supported PEFT LoRA config: ${problems.join("; ")}.`, result.error);
  }
  return result.data as PeftLoraConfig;
}

const TENSOR_NAME = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;

/** Whether PEFT would target `module` (a full module name) with `targets` (peft `check_target_module_exists`). */
function isTarget(module: string, targets: string[] | string): boolean {
  if (typeof targets === "string") return new RegExp(`^(?:${targets})$`).test(module);
  return targets.some((t) => module === t || module.endsWith(`.${t}`));
}

/**
 * Checks adapter tensors against the config: every name is PEFT's `base_model.model.<module>.lora_{A,B}.weight`, every
 * module is a target and has both A `[r, in]` and B `[out, r]` with the config's r, and data length matches shape.
 * Returns the modules (`model.layers.0.self_attn.q_proj`, …) in name order.
 */
function validateAdapterTensors(config: PeftLoraConfig, tensors: NamedTensors, source: string): string[] {
  const modules = new Map<string, { A?: HostTensor; B?: HostTensor }>();
  for (const [name, tensor] of tensors) {
    const match = TENSOR_NAME.exec(name);
    if (!match) {
      const hint = /lora_(magnitude_vector|embedding_[AB])/.test(name) ? " (DoRA and embedding adapters are not supported)" : "";
      fail(`${source}: tensor "${name}" is not a LoRA weight; expected base_model.model.<module>.lora_A.weight or .lora_B.weight${hint}.`);
    }
    const [, module, which] = match as unknown as [string, string, "A" | "B"];
    if (!isTarget(module, config.target_modules)) fail(`${source}: tensor "${name}" adapts ${module}, which target_modules ${JSON.stringify(config.target_modules)} does not select.`);
    if (tensor.shape.length !== 2 || tensor.data.length !== (tensor.shape[0] as number) * (tensor.shape[1] as number)) {
      fail(`${source}: tensor "${name}" must be a 2-D matrix whose data matches its shape; got shape [${tensor.shape}] with ${tensor.data.length} values.`);
    }
    const entry = modules.get(module) ?? {};
    entry[which] = tensor;
    modules.set(module, entry);
  }
  for (const [module, { A, B }] of modules) {
    if (!A || !B) fail(`${source}: module ${module} has lora_${A ? "A" : "B"} but no lora_${A ? "B" : "A"}; both factors are required.`);
    const [rA] = (A as HostTensor).shape;
    const [, rB] = (B as HostTensor).shape;
    if (rA !== config.r || rB !== config.r) fail(`${source}: module ${module} has lora_A [${A?.shape}] and lora_B [${B?.shape}]; expected A [r, in] and B [out, r] with r = ${config.r} (adapter_config.json "r").`);
  }
  return [...modules.keys()].sort();
}

/**
 * Writes adapter_config.json (keys sorted, indent 2, as PEFT's `save_pretrained`) and adapter_model.safetensors
 * (float32, metadata `{format: "pt"}`) into `dir`, atomically. Tensors are named as PEFT names them:
 * `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight` `[r, in]` and `…lora_B.weight` `[out, r]`.
 */
export async function saveAdapter(dir: string, adapter: { config: PeftLoraConfig; tensors: NamedTensors }): Promise<void> {
  const config = validatePeftLoraConfig(adapter.config, "PeftLoraConfig");
  validateAdapterTensors(config, adapter.tensors, "saveAdapter");
  const sorted = Object.fromEntries(Object.keys(config).sort().map((k) => [k, config[k]]));
  await writeDirAtomically(dir, async (temp) => {
    await writeFile(join(temp, ADAPTER_CONFIG_FILE), `${JSON.stringify(sorted, null, 2)}\n`);
    await writeSafetensors(join(temp, ADAPTER_WEIGHTS_FILE), adapter.tensors, { metadata: { format: "pt" } });
  });
}

/** Reads and validates a PEFT LoRA adapter directory (config fields, tensor names, A/B pairs, ranks and shapes). */
export async function loadAdapter(dir: string): Promise<{ config: PeftLoraConfig; tensors: NamedTensors }> {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(configPath)) fail(`${dir} has no ${ADAPTER_CONFIG_FILE}; pass a PEFT adapter directory.`);
  if (!existsSync(weightsPath)) {
    const bin = existsSync(join(dir, "adapter_model.bin")) ? " It has adapter_model.bin: re-save it with safe_serialization=True." : "";
    fail(`${dir} has no ${ADAPTER_WEIGHTS_FILE}.${bin}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(configPath, "utf8"));
  } catch (error) {
    fail(`${configPath} is not valid JSON (${error instanceof Error ? error.message : String(error)}).`, error);
  }
  const config = validatePeftLoraConfig(json, configPath);
  const { tensors } = await readSafetensors(weightsPath);
  validateAdapterTensors(config, tensors, weightsPath);
  return { config, tensors };
}
