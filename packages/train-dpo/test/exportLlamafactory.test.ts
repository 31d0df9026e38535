import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { llamaFactoryDatasetProblems } from "@infialign/test-utils";
import { pyYamlNumber } from "@infialign/train-sft";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  exportLlamaFactoryDpo,
  LlamaFactoryDpoConfigSchema,
  llamaFactoryPreferenceArgs,
  PreferenceDatasetInfoSchema,
  SharegptPreferenceRecordSchema,
  toSharegptPreference,
} from "../src/export/llamafactory.js";
import type { PreferenceRecord } from "../src/pairs/pairStage.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "dpo-lf-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const record = (id: string, prompt: PreferenceRecord["prompt"]): PreferenceRecord =>
  ({
    id,
    source: "t",
    prompt,
    chosen: [{ role: "assistant", content: `<think>work</think> \\boxed{${id}}` }],
    rejected: [{ role: "assistant", content: "\\boxed{0}" }],
    meta: {} as PreferenceRecord["meta"],
  }) as PreferenceRecord;

const records = [
  record("1", [
    { role: "system", content: "Reason step by step." },
    { role: "user", content: "What is 0+1?" },
  ]),
  record("2", [
    { role: "user", content: "Q1" },
    { role: "assistant", content: "A1" },
    { role: "user", content: "Now 1+1?" },
  ]),
];

// PyYAML's implicit float resolver (resolver.py, YAML 1.1): a dot is required and an exponent must be signed, so
// `5e-6` stays a string. `yaml`'s own 1.1 mode is laxer, hence the explicit check.
const PYYAML_FLOAT = /^[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?$/;
const PYYAML_INT = /^[-+]?(?:0|[1-9][0-9_]*)$/;
const pyYaml = (text: string) => parse(text, { version: "1.1" }) as Record<string, unknown>;

describe("LLaMA-Factory DPO export", () => {
  it("writes ShareGPT DPO records, a ranking dataset_info entry merged into an existing file, and a stage-dpo YAML", async () => {
    // An SFT export's entry already there must survive.
    await mkdir(join(dir, "data"), { recursive: true });
    await writeFile(join(dir, "data", "dataset_info.json"), JSON.stringify({ infialign_sft_phase1: { file_name: "sft.jsonl", formatting: "sharegpt" } }));

    const result = await exportLlamaFactoryDpo(records, dir, { modelNameOrPath: "saves/sft/phase2", datasetName: "math_dpo" });
    expect(result.records).toBe(2);
    expect(result.files).toEqual(["data/math_dpo.jsonl", "data/dataset_info.json", "math_dpo.yaml", "ds_z3_config.json"]);

    const lines = (await readFile(join(dir, "data", "math_dpo.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    for (const l of lines) expect(SharegptPreferenceRecordSchema.safeParse(l).success).toBe(true);
    expect(lines[0]).toEqual({
      conversations: [{ from: "human", value: "What is 0+1?" }],
      system: "Reason step by step.",
      chosen: { from: "gpt", value: "<think>work</think> \\boxed{1}" },
      rejected: { from: "gpt", value: "\\boxed{0}" },
    });
    expect(lines[1].conversations.map((t: { from: string }) => t.from)).toEqual(["human", "gpt", "human"]);
    expect(lines[1].system).toBe("");

    const info = JSON.parse(await readFile(join(dir, "data", "dataset_info.json"), "utf8"));
    expect(Object.keys(info).sort()).toEqual(["infialign_sft_phase1", "math_dpo"]);
    expect(PreferenceDatasetInfoSchema.parse(info.math_dpo)).toMatchObject({ file_name: "math_dpo.jsonl", formatting: "sharegpt", ranking: true });
    expect(info.math_dpo.num_samples).toBeUndefined();
    expect(info.math_dpo.columns).toEqual({ messages: "conversations", system: "system", chosen: "chosen", rejected: "rejected" });

    const yamlText = await readFile(join(dir, "math_dpo.yaml"), "utf8");
    expect(yamlText).toContain("learning_rate: 5.0e-6\n");
    const yaml = pyYaml(yamlText);
    expect(LlamaFactoryDpoConfigSchema.parse(yaml)).toBeTruthy();
    expect(yaml).toMatchObject({
      stage: "dpo",
      do_train: true,
      finetuning_type: "full",
      pref_beta: 0.1,
      pref_loss: "sigmoid",
      pref_ftx: 0,
      learning_rate: 5e-6,
      dataset: "math_dpo",
      dataset_dir: "data",
      deepspeed: "ds_z3_config.json",
      model_name_or_path: "saves/sft/phase2",
    });
    const ds = JSON.parse(await readFile(join(dir, "ds_z3_config.json"), "utf8"));
    expect(ds.zero_optimization.stage).toBe(3);
    expect(result.command).toBe("llamafactory-cli train math_dpo.yaml");
  });

  it("writes a file LLaMA-Factory's converter accepts when no pair has a system prompt (the usual case)", async () => {
    const noSystem = [record("a", [{ role: "user", content: "1+1?" }]), record("b", [{ role: "user", content: "2+2?" }])];
    await exportLlamaFactoryDpo(noSystem, dir, { modelNameOrPath: "m", datasetName: "plain" });
    await exportLlamaFactoryDpo(records, dir, { modelNameOrPath: "m", datasetName: "mixed", numSamples: 5 });
    const dataDir = join(dir, "data");
    expect(await llamaFactoryDatasetProblems(dataDir, "plain")).toEqual([]);
    expect(await llamaFactoryDatasetProblems(dataDir, "mixed")).toEqual([]);
    const rows = (await readFile(join(dataDir, "plain.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    for (const row of rows) expect(Object.keys(row).sort()).toEqual(["chosen", "conversations", "rejected", "system"]);
    const info = JSON.parse(await readFile(join(dataDir, "dataset_info.json"), "utf8"));
    expect(info.plain.num_samples).toBeUndefined();
    // Only on request: LLaMA-Factory then draws 5 rows from the 2 pairs.
    expect(info.mixed.num_samples).toBe(5);
    await expect(exportLlamaFactoryDpo(records, dir, { modelNameOrPath: "m", numSamples: 0 })).rejects.toThrow(/numSamples must be a positive integer, got 0/);
  });

  it("maps loss settings to pref_loss / pref_beta / simpo_gamma / pref_ftx and refuses the rest", () => {
    expect(llamaFactoryPreferenceArgs({ lossType: "simpo", simpoBeta: 2.5, simpoGammaBetaRatio: 0.55 })).toEqual({ pref_loss: "simpo", pref_beta: 2.5, pref_ftx: 0, simpo_gamma: 1.375 });
    expect(llamaFactoryPreferenceArgs({ lossType: "orpo", orpoLambda: 0.2 })).toEqual({ pref_loss: "orpo", pref_beta: 0.2, pref_ftx: 0 });
    expect(llamaFactoryPreferenceArgs({ lossType: ["sigmoid", "sft"], lossWeights: [1, 0.5], beta: 0.05, labelSmoothing: 0.1 })).toEqual({
      pref_loss: "sigmoid",
      pref_beta: 0.05,
      pref_ftx: 0.5,
      dpo_label_smoothing: 0.1,
    });
    expect(llamaFactoryPreferenceArgs({ lossType: "ipo" })).toEqual({ pref_loss: "ipo", pref_beta: 0.1, pref_ftx: 0 });
    expect(() => llamaFactoryPreferenceArgs({ lossType: "nca_pair" })).toThrow(/loss "nca_pair" has no LLaMA-Factory pref_loss \(supported: sigmoid, hinge, ipo, orpo, simpo\)/);
    expect(() => llamaFactoryPreferenceArgs({ lossType: ["sigmoid", "bco_pair"] })).toThrow(/one preference loss/);
    expect(() => llamaFactoryPreferenceArgs({ lossType: "hinge", labelSmoothing: 0.1 })).toThrow(/sigmoid only/);
  });

  it("writes numbers PyYAML reads as floats", () => {
    expect(pyYamlNumber(5e-6)).toBe("5.0e-6");
    expect(pyYamlNumber(2.5e-7)).toBe("2.5e-7");
    expect(pyYamlNumber(0.1)).toBe("0.1");
    expect(pyYamlNumber(8)).toBe("8");
    for (const x of [5e-6, 2.5e-7, 0.1, 1.375, 1e-3]) {
      expect(pyYamlNumber(x)).toMatch(PYYAML_FLOAT);
      expect(pyYaml(`v: ${pyYamlNumber(x)}`).v).toBe(x);
    }
    expect(pyYamlNumber(180000000)).toMatch(PYYAML_INT);
    expect("5e-6").not.toMatch(PYYAML_FLOAT);
  });

  it("names the record and field when a record cannot be mapped", async () => {
    const bad = { ...records[0]!, id: "bad", chosen: [{ role: "user" as const, content: "x" }] };
    expect(() => toSharegptPreference(bad)).toThrow(/record bad: "chosen" must be exactly one assistant message, got user/);
    const endsWithAssistant = record("e", [{ role: "user", content: "q" }, { role: "assistant", content: "a" }]);
    expect(() => toSharegptPreference(endsWithAssistant)).toThrow(/record e: conversations: must end with a human turn/);
    await expect(exportLlamaFactoryDpo([], dir, { modelNameOrPath: "m" })).rejects.toThrow(/no preference records to export/);
    await expect(exportLlamaFactoryDpo(records, dir, { modelNameOrPath: "m", lossType: "discopop" })).rejects.toThrow(/discopop/);
  });
});
