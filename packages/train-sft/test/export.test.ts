import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSample, type Sample } from "@infialign/data";
import { llamaFactoryDatasetProblems, llamaFactoryRowProblems } from "@infialign/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { infialignRecipe } from "../src/curriculum.js";
import {
  DatasetInfoEntrySchema,
  exportLlamaFactory,
  LlamaFactoryTrainConfigSchema,
  pyYamlNumber,
  SharegptRecordSchema,
  sharegptDatasetInfo,
  stringifyLlamaFactoryConfig,
  toSharegptMessages,
  toSharegptRecord,
  writeDatasetInfo,
} from "../src/export/llamafactory.js";

const root = mkdtempSync(join(tmpdir(), "infialign-llamafactory-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// PyYAML's (YAML 1.1) implicit resolvers for int and float: a value must match one to be read as a number.
const PYYAML_INT = /^[-+]?(?:0|[1-9][0-9_]*)$/;
const PYYAML_FLOAT = /^[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?$|^\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?$/;

const sample = (i: number, extra: Partial<Sample> = {}) => makeSample({ source: "t", prompt: `Problem ${i}`, response: `Answer ${i}`, reasoning: `Think ${i}`, ...extra });

describe("ShareGPT mapping", () => {
  it("puts the system prompt aside and the CoT inside the gpt turn", () => {
    expect(toSharegptRecord(sample(1, { system: "Reason step by step." }))).toEqual({
      system: "Reason step by step.",
      conversations: [
        { from: "human", value: "Problem 1" },
        { from: "gpt", value: "<think>\nThink 1\n</think>\n\nAnswer 1" },
      ],
    });
  });

  it("writes system on every record, \"\" without a system prompt (the mapped column LLaMA-Factory reads)", () => {
    expect(toSharegptRecord(sample(1))).toEqual({
      system: "",
      conversations: [
        { from: "human", value: "Problem 1" },
        { from: "gpt", value: "<think>\nThink 1\n</think>\n\nAnswer 1" },
      ],
    });
    expect(SharegptRecordSchema.safeParse({ conversations: [{ from: "human", value: "q" }, { from: "gpt", value: "a" }] }).success).toBe(false);
  });

  it("maps multi-turn and tool turns, and rejects turns that do not alternate", () => {
    const turns = toSharegptMessages(
      [
        { role: "user", content: "a" },
        { role: "assistant", content: "b" },
        { role: "tool", content: "c" },
        { role: "assistant", content: "d" },
      ],
      "x",
    );
    expect(turns.conversations.map((t) => t.from)).toEqual(["human", "gpt", "observation", "gpt"]);
    const twoUsers = sample(2, { messages: [{ role: "user", content: "a" }, { role: "user", content: "b" }] });
    expect(() => toSharegptRecord(twoUsers)).toThrow(new RegExp(`sample ${twoUsers.id}: turn 2 is "human" but turns must alternate`));
    expect(() => toSharegptMessages([{ role: "user", content: "a" }, { role: "system", content: "s" }], "y")).toThrow(/y: a system message at position 1/);
    expect(SharegptRecordSchema.safeParse({ conversations: [{ from: "gpt", value: "x" }] }).success).toBe(false);
  });
});

describe("YAML and dataset_info writers", () => {
  it("writes numbers PyYAML reads back as numbers", () => {
    expect(pyYamlNumber(2e-5)).toBe("2.0e-5");
    expect(pyYamlNumber(1e-8)).toBe("1.0e-8");
    expect(pyYamlNumber(1.5e-7)).toBe("1.5e-7");
    expect(pyYamlNumber(0.05)).toBe("0.05");
    expect(pyYamlNumber(0.001)).toBe("0.001");
    expect(pyYamlNumber(-3e-4)).toBe("-3.0e-4");
    expect(pyYamlNumber(64)).toBe("64");
    expect(pyYamlNumber(1e21)).toBe("1.0e+21");
    expect(() => pyYamlNumber(Number.NaN)).toThrow(/finite/);
    for (const x of [2e-5, 1e-8, 1.5e-7, 0.05, 0.95, 3e-4, -3e-4, 1e21, 123.456]) {
      expect(pyYamlNumber(x)).toMatch(PYYAML_FLOAT);
      expect(Number(pyYamlNumber(x))).toBe(x);
    }
  });

  it("rejects unknown YAML keys and quotes ambiguous strings", () => {
    const base = { model_name_or_path: "m", stage: "sft", do_train: true, finetuning_type: "full", dataset: "d", template: "qwen", output_dir: "o" } as const;
    expect(() => stringifyLlamaFactoryConfig({ ...base, learning_rat: 1 } as never)).toThrow(/invalid LLaMA-Factory training config \(.*learning_rat/);
    const text = stringifyLlamaFactoryConfig({ ...base, report_to: "none", dataset: "yes", template: "a b: c" }, ["hello"]);
    expect(text.startsWith("# hello\nmodel_name_or_path: m\n")).toBe(true);
    expect(parseYaml(text)).toMatchObject({ dataset: "yes", template: "a b: c", report_to: "none", do_train: true });
  });

  it("merges dataset_info.json entries and validates their keys", async () => {
    const dir = join(root, "info");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "dataset_info.json"), JSON.stringify({ old: { file_name: "old.json" } }));
    await writeDatasetInfo(dir, { pairs: sharegptDatasetInfo("pairs.jsonl", { ranking: true }) });
    const info = JSON.parse(readFileSync(join(dir, "dataset_info.json"), "utf8"));
    expect(Object.keys(info)).toEqual(["old", "pairs"]);
    expect(info.pairs).toEqual({
      file_name: "pairs.jsonl",
      formatting: "sharegpt",
      ranking: true,
      columns: { messages: "conversations", system: "system", chosen: "chosen", rejected: "rejected" },
      tags: { role_tag: "from", content_tag: "value", user_tag: "human", assistant_tag: "gpt", observation_tag: "observation", function_tag: "function_call", system_tag: "system" },
    });
    await expect(writeDatasetInfo(dir, { bad: { file_name: "x", colums: {} } as never })).rejects.toThrow(/entry "bad" is invalid .*colums/);
    await expect(writeDatasetInfo(dir, { nofile: { formatting: "sharegpt" } })).rejects.toThrow(/needs one of hf_hub_url/);
  });
});

describe("exportLlamaFactory", () => {
  const recipe = infialignRecipe({ phase1: { files: ["p1"] }, phase2: { files: ["p2"] }, model: "unused", outputDir: "unused" });
  const phases = recipe.phases.map((config, k) => ({ config, samples: [0, 1, 2].map((i) => sample(10 * k + i)) }));

  it("writes datasets, dataset_info, ZeRO-3 configs and the chained phase YAMLs", async () => {
    const outDir = join(root, "export");
    const result = await exportLlamaFactory({ phases, outDir, datasetName: "infialign_sft", modelNameOrPath: "Qwen/Qwen2.5-Math-7B", optimizer: recipe.optimizer, seed: recipe.seed });
    expect(result.files.sort()).toEqual(
      ["README.md", "data/dataset_info.json", "data/infialign_sft_phase1.jsonl", "data/infialign_sft_phase2.jsonl", "ds_z3_config.json", "phase1.yaml", "phase2.yaml", "train.sh"].sort(),
    );
    expect(result.samples).toEqual({ phase1: 3, phase2: 3 });

    const yamls = ["phase1", "phase2"].map((p) => {
      const text = readFileSync(join(outDir, `${p}.yaml`), "utf8");
      for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
        const value = line.slice(line.indexOf(": ") + 2);
        if (/^[-+.\d]/.test(value)) expect(value).toSatisfy((v: string) => PYYAML_INT.test(v) || PYYAML_FLOAT.test(v));
      }
      const parsed = LlamaFactoryTrainConfigSchema.parse(parseYaml(text));
      expect(parsed).toEqual(result.configs[p]);
      return parsed;
    });
    const [one, two] = yamls as unknown as [Record<string, unknown>, Record<string, unknown>];
    expect(one).toMatchObject({
      model_name_or_path: "Qwen/Qwen2.5-Math-7B",
      stage: "sft",
      do_train: true,
      finetuning_type: "full",
      deepspeed: "ds_z3_config.json",
      dataset: "infialign_sft_phase1",
      dataset_dir: "data",
      template: "qwen",
      cutoff_len: 32_768,
      learning_rate: 2e-5,
      num_train_epochs: 5,
      lr_scheduler_type: "cosine",
      warmup_ratio: 0.05,
      adam_beta1: 0.9,
      adam_beta2: 0.95,
      weight_decay: 0,
      bf16: true,
      per_device_train_batch_size: 1,
      // Global batch 64 = 1 per device × 8 GPUs × 8.
      gradient_accumulation_steps: 8,
      output_dir: "saves/infialign_sft/phase1",
      packing: true,
      neat_packing: true,
    });
    expect(two.model_name_or_path).toBe(one.output_dir);
    expect(two.output_dir).toBe("saves/infialign_sft/phase2");

    const info = JSON.parse(readFileSync(join(outDir, "data/dataset_info.json"), "utf8"));
    expect(Object.keys(info)).toEqual(["infialign_sft_phase1", "infialign_sft_phase2"]);
    for (const [name, entry] of Object.entries(info)) {
      const e = DatasetInfoEntrySchema.parse(entry);
      expect(e).toMatchObject({ formatting: "sharegpt", columns: { messages: "conversations", system: "system" }, tags: { role_tag: "from", user_tag: "human", assistant_tag: "gpt" } });
      // num_samples makes LLaMA-Factory resample the file; it is written only on request (numSamples).
      expect(e.num_samples).toBeUndefined();
      const lines = readFileSync(join(outDir, "data", e.file_name as string), "utf8").trim().split("\n");
      expect(lines).toHaveLength(3);
      for (const line of lines) {
        const record = SharegptRecordSchema.parse(JSON.parse(line));
        expect(record.conversations.map((t) => t.from)).toEqual(["human", "gpt"]);
        expect(record.conversations[1]?.value).toMatch(/^<think>\nThink \d+\n<\/think>\n\nAnswer \d+$/);
      }
      expect(name).toBe(`infialign_sft_${e.file_name?.includes("phase1") ? "phase1" : "phase2"}`);
    }

    const ds = JSON.parse(readFileSync(join(outDir, "ds_z3_config.json"), "utf8"));
    expect(ds.zero_optimization).toMatchObject({ stage: 3, stage3_gather_16bit_weights_on_model_save: true });
    expect(ds.bf16).toEqual({ enabled: "auto" });
    const script = readFileSync(join(outDir, "train.sh"), "utf8");
    expect(script).toContain("llamafactory-cli train phase1.yaml && \\\n  llamafactory-cli train phase2.yaml");
    expect(script.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(readFileSync(join(outDir, "README.md"), "utf8")).toContain("| phase2 | 3 | saves/infialign_sft/phase1 | saves/infialign_sft/phase2 |");
    expect(existsSync(join(outDir, "data/infialign_sft_phase1.jsonl.tmp-" + process.pid))).toBe(false);
  });

  it("writes files LLaMA-Factory's converter accepts: every mapped column in every row, with and without system prompts", async () => {
    const outDir = join(root, "converter");
    const result = await exportLlamaFactory({
      phases: [
        // The usual InfiAlign case: no system prompt anywhere.
        { config: phases[0]!.config, samples: [sample(1), sample(2)] },
        { config: phases[1]!.config, samples: [sample(3, { system: "Reason step by step." }), sample(4)] },
      ],
      outDir,
      datasetName: "lf",
      modelNameOrPath: "m",
    });
    for (const name of ["lf_phase1", "lf_phase2"]) expect(await llamaFactoryDatasetProblems(join(outDir, "data"), name), name).toEqual([]);
    const rows = readFileSync(join(outDir, "data/lf_phase1.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    for (const row of rows) expect(row.system).toBe("");
    expect(result.samples).toEqual({ phase1: 2, phase2: 2 });

    const sampled = await exportLlamaFactory({ phases: phases.slice(0, 1), outDir: join(root, "sampled"), datasetName: "lf", modelNameOrPath: "m", numSamples: { phase1: 10 } });
    const info = JSON.parse(readFileSync(join(root, "sampled/data/dataset_info.json"), "utf8"));
    expect(info.lf_phase1.num_samples).toBe(10);
    expect(sampled.samples.phase1).toBe(3);
    await expect(exportLlamaFactory({ phases, outDir, datasetName: "lf", modelNameOrPath: "m", numSamples: { phase3: 5 } })).rejects.toThrow(/numSamples names unknown phase\(s\) phase3/);
  });

  it("the LLaMA-Factory conformance check catches what the converter rejects", () => {
    const entry = sharegptDatasetInfo("x.jsonl") as Record<string, unknown>;
    const ok = { conversations: [{ from: "human", value: "q" }, { from: "gpt", value: "a" }], system: "" };
    expect(llamaFactoryRowProblems(entry, ok)).toEqual([]);
    expect(llamaFactoryRowProblems(entry, { conversations: ok.conversations })).toEqual([expect.stringMatching(/column system → "system" is missing \(KeyError/)]);
    expect(llamaFactoryRowProblems(entry, { ...ok, conversations: [{ from: "gpt", value: "a" }, { from: "human", value: "q" }] }).join("; ")).toMatch(/turn 1 has role "gpt"/);
    expect(llamaFactoryRowProblems(entry, { ...ok, conversations: [{ from: "human", value: "q" }] }).join("; ")).toMatch(/1 turns: an SFT row needs an even count/);
    const ranking = sharegptDatasetInfo("p.jsonl", { ranking: true }) as Record<string, unknown>;
    const pair = { conversations: [{ from: "human", value: "q" }], system: "", chosen: { from: "gpt", value: "a" }, rejected: { from: "gpt", value: "b" } };
    expect(llamaFactoryRowProblems(ranking, pair)).toEqual([]);
    expect(llamaFactoryRowProblems(ranking, { ...pair, rejected: "b" }).join("; ")).toMatch(/"rejected" must be one turn object, got string/);
    expect(llamaFactoryRowProblems(ranking, { ...pair, chosen: { from: "human", value: "a" } }).join("; ")).toMatch(/"chosen" has role "human"/);
  });

  it("exports LoRA options and checks the batch split", async () => {
    const outDir = join(root, "lora");
    const cpu = infialignRecipe({ phase1: { files: ["p1"] }, phase2: { files: ["p2"] }, model: "m", outputDir: "o", scale: "cpu" });
    const res = await exportLlamaFactory({
      phases: [{ config: cpu.phases[0] as (typeof cpu.phases)[number], samples: [sample(1)] }],
      outDir,
      datasetName: "tiny",
      modelNameOrPath: "m",
      numGpus: 2,
      perDeviceBatchSize: 2,
      lora: { r: 8, alpha: 16, dropout: 0, targetModules: ["q_proj", "v_proj"] },
    });
    expect(res.configs.phase1).toMatchObject({ finetuning_type: "lora", lora_rank: 8, lora_alpha: 16, lora_target: "q_proj,v_proj", gradient_accumulation_steps: 2 });
    await expect(exportLlamaFactory({ phases, outDir, datasetName: "x", modelNameOrPath: "m", numGpus: 3 })).rejects.toThrow(/phase "phase1" has global batch 64 .* not a multiple of perDeviceBatchSize 1 × numGpus 3/);
    await expect(exportLlamaFactory({ phases: [], outDir, datasetName: "x", modelNameOrPath: "m" })).rejects.toThrow(/no phases/);
  });
});
