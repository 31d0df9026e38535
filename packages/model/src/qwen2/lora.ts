// LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") on the projections of a Qwen2Model, with
// PEFT's initialisation, scaling and tensor names so adapters move between here and PEFT / vLLM / LLaMA-Factory.
import * as tf from "@tensorflow/tfjs-core";
import type { NamedTensors } from "../engine.js";
import { ModelError } from "../errors.js";
import { loadAdapter, type PeftLoraConfig, resolvePeftLoraConfig, saveAdapter, validatePeftLoraConfig } from "../weights/peft.js";
import { LORA_TARGET_MODULES, type LoraTargetModule, projectionPrefix, type Qwen2Model } from "./model.js";

/** Options of {@link attachLora} (PEFT `LoraConfig` names in camelCase). */
export interface LoraOptions {
  /** Rank r of A `[r, in]` and B `[out, r]`. */
  r: number;
  /** lora_alpha: the adapter output is scaled by alpha / r (Hu et al. 2021, §4.1). @default 2·r */
  alpha?: number;
  /** Dropout on the adapter's input while `model.training` is true. @default 0 */
  dropout?: number;
  /** Projections to adapt in every layer (PEFT `target_modules`). @default ["q_proj", "v_proj"] (PEFT's Qwen2 default) */
  targetModules?: readonly LoraTargetModule[];
  /** Seed of A's init and of the dropout masks. @default 0 */
  seed?: number;
  /** rsLoRA scaling alpha / √r instead of alpha / r (Kalajdzievski 2023, PEFT `use_rslora`). @default false */
  useRslora?: boolean;
}

const fail = (message: string): never => {
  throw new ModelError("lora", message);
};

const resolved = new WeakMap<Qwen2Model, Required<LoraOptions>>();

function inOut(model: Qwen2Model, layer: number, module: LoraTargetModule): [number, number] {
  const shape = model.param(`${projectionPrefix(layer, module)}.weight`).shape as [number, number];
  return [shape[1], shape[0]];
}

/**
 * Adds a LoRA adapter to each `targetModules` projection of every layer: A `[r, in]` kaiming-uniform(a = √5) as PEFT
 * (uniform in ±1/√in), B `[out, r]` zeros, so the model's output is unchanged until B is trained. The forward then adds
 * (alpha/r)·dropout(x)·Aᵀ·Bᵀ to the projection; base parameters become non-trainable and `model.trainableVariables` is the
 * adapters only.
 */
export function attachLora(model: Qwen2Model, options: LoraOptions): void {
  if (model.adapters.size > 0) fail("attachLora: the model already has LoRA adapters; call detachLora first.");
  const r = options.r;
  if (!Number.isInteger(r) || r < 1) fail(`attachLora: option r must be a positive integer; got ${r}.`);
  const opts: Required<LoraOptions> = {
    r,
    alpha: options.alpha ?? 2 * r,
    dropout: options.dropout ?? 0,
    targetModules: options.targetModules ?? ["q_proj", "v_proj"],
    seed: options.seed ?? 0,
    useRslora: options.useRslora ?? false,
  };
  if (!(opts.alpha > 0)) fail(`attachLora: option alpha must be positive; got ${opts.alpha}.`);
  if (!(opts.dropout >= 0 && opts.dropout < 1)) fail(`attachLora: option dropout must be in [0, 1); got ${opts.dropout}.`);
  const unknown = opts.targetModules.filter((m) => !(LORA_TARGET_MODULES as readonly string[]).includes(m));
  if (unknown.length > 0 || opts.targetModules.length === 0) fail(`attachLora: option targetModules must be a non-empty list of ${LORA_TARGET_MODULES.join(", ")}; got ${JSON.stringify(opts.targetModules)}.`);
  let k = 0;
  for (let layer = 0; layer < model.config.numHiddenLayers; layer++) {
    for (const module of opts.targetModules) {
      const [fanIn, out] = inOut(model, layer, module);
      const bound = 1 / Math.sqrt(fanIn);
      const a = tf.tidy(() => tf.variable(tf.randomUniform([r, fanIn], -bound, bound, "float32", opts.seed * 7919 + k++), true));
      const b = tf.variable(tf.zeros([out, r]), true);
      model.adapters.set(projectionPrefix(layer, module), { a, b, scale: opts.useRslora ? opts.alpha / Math.sqrt(r) : opts.alpha / r, dropout: opts.dropout, merged: false });
    }
  }
  for (const v of model.variables.values()) v.trainable = false;
  model.dropoutSeed = opts.seed;
  resolved.set(model, opts);
}

/** Removes and frees the adapters (merged deltas stay in the base weights) and makes the base trainable again. */
export function detachLora(model: Qwen2Model): void {
  tf.dispose([...model.adapters.values()].flatMap((a) => [a.a, a.b]));
  model.adapters.clear();
  resolved.delete(model);
  for (const v of model.variables.values()) v.trainable = true;
}

function adjust(model: Qwen2Model, merge: boolean): void {
  if (model.adapters.size === 0) fail(`${merge ? "mergeLora" : "unmergeLora"}: the model has no LoRA adapters.`);
  for (const [prefix, adapter] of model.adapters) {
    if (adapter.merged === merge) fail(`${merge ? "mergeLora" : "unmergeLora"}: adapter ${prefix} is ${merge ? "already" : "not"} merged.`);
    const w = model.param(`${prefix}.weight`);
    // W ± (alpha/r)·B·A: B·A is [out, r]·[r, in], the shape of W.
    tf.tidy(() => {
      const delta = tf.mul(tf.matMul(adapter.b, adapter.a), adapter.scale);
      w.assign(merge ? tf.add(w, delta) : tf.sub(w, delta));
    });
    adapter.merged = merge;
  }
}

/** Adds scale·B·A into every adapted base weight; the forward then skips the adapter path (inference speed). */
export function mergeLora(model: Qwen2Model): void {
  adjust(model, true);
}

/** Subtracts the merged deltas again: the base weights come back up to float32 rounding. */
export function unmergeLora(model: Qwen2Model): void {
  adjust(model, false);
}

const peftName = (prefix: string, which: "A" | "B") => `base_model.model.${prefix}.lora_${which}.weight`;

/**
 * The adapters' own variables (not copies) under the names {@link loraState} writes their tensors, PEFT's
 * `base_model.model.<projection>.lora_A.weight` / `.lora_B.weight`, A then B per adapter in attach order: what a trainer
 * optimizes, so optimizer state and adapter checkpoints map onto the variables by name.
 */
export function loraVariables(model: Qwen2Model): Map<string, tf.Variable> {
  if (model.adapters.size === 0) fail("loraVariables: the model has no LoRA adapters; call attachLora first.");
  const variables = new Map<string, tf.Variable>();
  for (const [prefix, adapter] of model.adapters) {
    variables.set(peftName(prefix, "A"), adapter.a);
    variables.set(peftName(prefix, "B"), adapter.b);
  }
  return variables;
}

/** The adapters in PEFT layout: adapter_config.json fields and tensors named as PEFT saves them (`…q_proj.lora_A.weight`). */
export function loraState(model: Qwen2Model, options: { baseModelNameOrPath?: string } = {}): { config: PeftLoraConfig; tensors: NamedTensors } {
  const opts = resolved.get(model) ?? fail("loraState: the model has no LoRA adapters; call attachLora first.");
  const tensors: NamedTensors = new Map();
  for (const [prefix, adapter] of model.adapters) {
    tensors.set(peftName(prefix, "A"), { shape: [...adapter.a.shape], data: Float32Array.from(adapter.a.dataSync() as Float32Array) });
    tensors.set(peftName(prefix, "B"), { shape: [...adapter.b.shape], data: Float32Array.from(adapter.b.dataSync() as Float32Array) });
  }
  const config = resolvePeftLoraConfig({
    r: opts.r,
    lora_alpha: opts.alpha,
    lora_dropout: opts.dropout,
    target_modules: [...opts.targetModules],
    use_rslora: opts.useRslora,
    base_model_name_or_path: options.baseModelNameOrPath ?? null,
  });
  return { config, tensors };
}

/**
 * Attaches adapters as `state.config` (an adapter_config.json object) describes, replacing any present, and loads their
 * weights. PEFT features this implementation does not compute (DoRA, bias training, …) are rejected by
 * `validatePeftLoraConfig`; so are `layers_to_transform` and a regular-expression `target_modules`. Missing,
 * unexpected or mis-shaped tensors are named.
 */
export function loadLoraState(model: Qwen2Model, state: { config: unknown; tensors: NamedTensors }): void {
  const c = validatePeftLoraConfig(state.config);
  if (c.layers_to_transform !== null) fail(`loadLoraState: adapter_config.json "layers_to_transform" ${JSON.stringify(c.layers_to_transform)} is not supported (adapters on every layer only).`);
  if (typeof c.target_modules === "string") fail(`loadLoraState: adapter_config.json "target_modules" must be a list of module names (${LORA_TARGET_MODULES.join(", ")}); a regular expression is not supported.`);
  const targets = c.target_modules as string[];
  const unknown = targets.filter((m) => !(LORA_TARGET_MODULES as readonly string[]).includes(m));
  if (unknown.length > 0) fail(`loadLoraState: adapter_config.json "target_modules" has ${unknown.join(", ")}; a Qwen2 LoRA can target ${LORA_TARGET_MODULES.join(", ")}.`);
  if (model.adapters.size > 0) detachLora(model);
  attachLora(model, { r: c.r, alpha: c.lora_alpha, dropout: c.lora_dropout, targetModules: targets as LoraTargetModule[], useRslora: c.use_rslora });
  const expected = new Set<string>();
  const problems: string[] = [];
  for (const [prefix, adapter] of model.adapters) {
    for (const [which, v] of [
      ["A", adapter.a],
      ["B", adapter.b],
    ] as const) {
      const name = peftName(prefix, which);
      expected.add(name);
      const t = state.tensors.get(name);
      if (t === undefined) problems.push(`missing ${name}`);
      else if (t.shape.join() !== v.shape.join()) problems.push(`${name} is [${t.shape}], expected [${v.shape}]`);
      else tf.tidy(() => v.assign(tf.tensor(t.data, v.shape, "float32")));
    }
  }
  for (const name of state.tensors.keys()) if (!expected.has(name)) problems.push(`unexpected ${name}`);
  if (problems.length > 0) {
    detachLora(model);
    fail(`loadLoraState: the adapter does not fit this model: ${problems.slice(0, 8).join("; ")}${problems.length > 8 ? "; …" : ""}.`);
  }
}

/** Writes the adapters as a PEFT adapter directory (adapter_config.json + adapter_model.safetensors), atomically. */
export async function saveLora(model: Qwen2Model, dir: string, options: { baseModelNameOrPath?: string } = {}): Promise<void> {
  await saveAdapter(dir, loraState(model, options));
}

/** Reads a PEFT adapter directory and attaches it to the model ({@link loadLoraState}). */
export async function loadLora(model: Qwen2Model, dir: string): Promise<void> {
  loadLoraState(model, await loadAdapter(dir));
}
