import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { NamedTensors } from "../src/engine.js";
import { ModelError } from "../src/errors.js";
import { loadAdapter, type PeftLoraConfig, resolvePeftLoraConfig, saveAdapter, validatePeftLoraConfig } from "../src/weights/peft.js";
import { parseSafetensors, serializeSafetensors } from "../src/weights/safetensors.js";

const root = mkdtempSync(join(tmpdir(), "infialign-peft-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const r = 4;
const config = resolvePeftLoraConfig({ r, lora_alpha: 8, target_modules: ["q_proj", "v_proj"], base_model_name_or_path: "Qwen/Qwen2.5-0.5B" });

function adapterTensors(layers: number): NamedTensors {
  let x = 0;
  const tensor = (rows: number, cols: number) => ({ shape: [rows, cols], data: Float32Array.from({ length: rows * cols }, () => Math.sin(++x)) });
  const tensors: NamedTensors = new Map();
  for (let l = 0; l < layers; l++) {
    for (const [module, out] of [["q_proj", 16], ["v_proj", 8]] as const) {
      const prefix = `base_model.model.model.layers.${l}.self_attn.${module}`;
      tensors.set(`${prefix}.lora_A.weight`, tensor(r, 16));
      tensors.set(`${prefix}.lora_B.weight`, tensor(out, r));
    }
  }
  return tensors;
}

describe("PEFT adapters", () => {
  it("fills PEFT's defaults", () => {
    expect(config).toMatchObject({ peft_type: "LORA", task_type: "CAUSAL_LM", r: 4, lora_alpha: 8, lora_dropout: 0, bias: "none", fan_in_fan_out: false, use_rslora: false, use_dora: false, modules_to_save: null, inference_mode: false });
  });

  it("saves adapter_config.json + adapter_model.safetensors as PEFT does and loads them back bit-exact", async () => {
    const dir = join(root, "adapter");
    const tensors = adapterTensors(2);
    await saveAdapter(dir, { config, tensors });
    expect(readdirSync(dir).sort()).toEqual(["adapter_config.json", "adapter_model.safetensors"]);
    const text = readFileSync(join(dir, "adapter_config.json"), "utf8");
    const json = JSON.parse(text);
    expect(Object.keys(json)).toEqual(Object.keys(json).sort());
    expect(json).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj"], base_model_name_or_path: "Qwen/Qwen2.5-0.5B" });
    const file = parseSafetensors(readFileSync(join(dir, "adapter_model.safetensors")));
    expect(file.metadata).toEqual({ format: "pt" });
    expect([...file.tensors.keys()]).toContain("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
    const loaded = await loadAdapter(dir);
    expect(loaded.config).toEqual(config);
    expect(loaded.tensors.size).toBe(tensors.size);
    for (const [name, t] of tensors) expect(loaded.tensors.get(name)).toEqual(t);
  });

  it("loads a config as PEFT 0.13 writes it (extra keys pass through, target_modules as a regex)", async () => {
    const dir = join(root, "peft-written");
    const peftJson = {
      alpha_pattern: {},
      auto_mapping: null,
      base_model_name_or_path: "Qwen/Qwen2.5-Math-7B",
      bias: "none",
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      layer_replication: null,
      layers_pattern: null,
      layers_to_transform: null,
      loftq_config: {},
      lora_alpha: 16,
      lora_dropout: 0.05,
      megatron_config: null,
      megatron_core: "megatron.core",
      modules_to_save: null,
      peft_type: "LORA",
      r: 4,
      rank_pattern: {},
      revision: null,
      target_modules: ".*\\.(q_proj|v_proj)",
      task_type: "CAUSAL_LM",
      use_dora: false,
      use_rslora: false,
    };
    await saveAdapter(dir, { config: config, tensors: adapterTensors(1) });
    writeFileSync(join(dir, "adapter_config.json"), JSON.stringify(peftJson));
    const loaded = await loadAdapter(dir);
    expect(loaded.config.megatron_core).toBe("megatron.core");
    expect(loaded.config.target_modules).toBe(".*\\.(q_proj|v_proj)");
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ["not LoRA", { peft_type: "IA3" }, /"peft_type": must be "LORA"/],
    ["bias", { bias: "all" }, /"bias": a bias other than "none" is not supported/],
    ["DoRA", { use_dora: true }, /"use_dora": DoRA is not supported/],
    ["rank pattern", { rank_pattern: { q_proj: 8 } }, /"rank_pattern\.q_proj": a non-empty pattern/],
    ["modules_to_save", { modules_to_save: ["lm_head"] }, /"modules_to_save": modules_to_save .* not supported/],
    ["rank", { r: 0 }, /"r":/],
  ];
  it.each(invalid)("rejects an unsupported config: %s", (_name, patch, message) => {
    expect(() => validatePeftLoraConfig({ ...config, ...patch }, "x/adapter_config.json")).toThrow(message);
  });

  it("reports every invalid field at once", () => {
    expect(() => validatePeftLoraConfig({ ...config, r: -1, lora_dropout: 2, target_modules: [] })).toThrow(/"r":.*; "lora_dropout":.*; "target_modules":/);
  });

  it("rejects inconsistent tensors with the module and expectation named", async () => {
    const tensors = adapterTensors(1);
    const a = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
    const b = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight";
    const without = (name: string) => new Map([...tensors].filter(([n]) => n !== name));
    const cases: [NamedTensors, RegExp][] = [
      [without(b), /module model\.layers\.0\.self_attn\.q_proj has lora_A but no lora_B/],
      [new Map([...tensors, [a, { shape: [3, 16], data: new Float32Array(48) }]]), /q_proj has lora_A \[3,16\] and lora_B \[16,4\]; expected A \[r, in\] and B \[out, r\] with r = 4/],
      [new Map([...tensors, ["base_model.model.model.layers.0.mlp.up_proj.lora_A.weight", { shape: [4, 16], data: new Float32Array(64) }]]), /adapts model\.layers\.0\.mlp\.up_proj, which target_modules \["q_proj","v_proj"\] does not select/],
      [new Map([...tensors, ["model.layers.0.self_attn.q_proj.weight", { shape: [1, 1], data: new Float32Array(1) }]]), /is not a LoRA weight; expected base_model\.model\.<module>\.lora_A\.weight/],
      [new Map([...tensors, ["base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector", { shape: [16], data: new Float32Array(16) }]]), /DoRA and embedding adapters are not supported/],
    ];
    for (const [bad, message] of cases) {
      await expect(saveAdapter(join(root, "bad"), { config, tensors: bad })).rejects.toThrow(message);
      // The same files written by someone else are rejected on load, naming the file.
      const dir = join(root, "bad-on-disk");
      await saveAdapter(dir, { config, tensors });
      writeFileSync(join(dir, "adapter_model.safetensors"), serializeSafetensors(bad));
      const error = await loadAdapter(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain("adapter_model.safetensors");
    }
    expect(readdirSync(root)).not.toContain("bad");
  });

  it("names missing files", async () => {
    await expect(loadAdapter(join(root, "none"))).rejects.toThrow(/none has no adapter_config\.json/);
    const dir = join(root, "config-only");
    await saveAdapter(dir, { config: config as PeftLoraConfig, tensors: adapterTensors(1) });
    rmSync(join(dir, "adapter_model.safetensors"));
    writeFileSync(join(dir, "adapter_model.bin"), "");
    await expect(loadAdapter(dir)).rejects.toThrow(/has no adapter_model\.safetensors\. It has adapter_model\.bin/);
  });
});
