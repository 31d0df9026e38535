// The files that launch and describe an SFT export for a person on the cluster: `train.sh`, running the phases as
// consecutive LLaMA-Factory trainings, and `README.md`.
import type { LlamaFactoryTrainConfig } from "./trainConfig.js";
import { pyYamlNumber } from "./yaml.js";

/** One exported phase as the README lists it. */
export interface ExportedPhase {
  name: string;
  samples: number;
  config: LlamaFactoryTrainConfig;
}

/** `train.sh`: `commands` in order, each phase starting only when the previous one succeeded. */
export function trainScript(commands: readonly string[]): string {
  return ["#!/usr/bin/env bash", "# Curriculum SFT: each phase starts from the previous phase's output_dir.", "set -euo pipefail", 'cd "$(dirname "$0")"', commands.join(" && \\\n  "), ""].join("\n");
}

/** The export's `README.md`: the phases, how to run them and what each file is. */
export function exportReadme(datasetName: string, outputRoot: string, commands: readonly string[], phases: readonly ExportedPhase[]): string {
  const rows = phases.map(({ name, samples, config: c }) => `| ${name} | ${samples} | ${c.model_name_or_path} | ${c.output_dir} | ${pyYamlNumber(c.learning_rate as number)} | ${c.num_train_epochs} | ${c.cutoff_len} |`);
  return [
    `# ${datasetName}: LLaMA-Factory SFT export`,
    "",
    "Written by `@infialign/train-sft`. The curriculum runs as consecutive LLaMA-Factory trainings; each phase starts from the previous phase's `output_dir`.",
    "",
    "| phase | samples | starts from | output_dir | learning rate | epochs | cutoff_len |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "## Run",
    "",
    "From this directory, with LLaMA-Factory installed (`pip install -e \".[torch,metrics,deepspeed]\"` in its checkout):",
    "",
    "```bash",
    commands.join(" && \\\n  "),
    "```",
    "",
    "or `bash train.sh`. Multi-node: set `FORCE_TORCHRUN=1 NNODES=… NODE_RANK=… MASTER_ADDR=… MASTER_PORT=…` as LLaMA-Factory's README describes.",
    "",
    "## Files",
    "",
    "- `data/*.jsonl`: ShareGPT records (`conversations` human/gpt, `system`); the assistant turn holds the chain of thought as `<think>\\n…\\n</think>\\n\\nanswer`.",
    "- `data/dataset_info.json`: the dataset entries (`formatting: sharegpt`, `columns`, `tags`).",
    "- `<phase>.yaml`: training configs (stage sft, DeepSpeed ZeRO-3 via `ds_z3_config.json`, bf16).",
    `- Checkpoints go to \`${outputRoot}/<phase>\`.`,
    "",
  ].join("\n");
}

