import "@tensorflow/tfjs-backend-cpu";
import { existsSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeSample } from "@infialign/data";
import { ByteTokenizer, parseQwen2Config, Qwen2Model, saveCheckpoint } from "@infialign/model";
import { describeReadme } from "@infialign/test-utils/vitest";
import { expect } from "vitest";
import { loadDpoConfig } from "../src/config.js";

const N = 6;

// The quick start's inputs: a tiny SFT checkpoint at runs/sft/final and canonical samples with gold answers and expert
// solutions under data/train/.
async function setup(dir: string) {
  const config = parseQwen2Config({ vocab_size: 260, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 1024 });
  const model = Qwen2Model.init(config, { seed: 1 });
  await saveCheckpoint(join(dir, "runs", "sft", "final"), { config, weights: model.toWeights(), tokenizer: new ByteTokenizer() });
  model.dispose();
  await mkdir(join(dir, "data", "train"), { recursive: true });
  const samples = Array.from({ length: N }, (_, n) => makeSample({ source: "readme", prompt: `n=${n}; what is n+1?`, gold: String(n + 1), response: `n+1 = \\boxed{${n + 1}}` }));
  writeFileSync(join(dir, "data", "train", "part-00000.jsonl"), `${samples.map((s) => JSON.stringify(s)).join("\n")}\n`);
}

describeReadme(join(dirname(fileURLToPath(import.meta.url)), ".."), {
  // Stands in for the served SFT model: samples with seed < 3 answer n+1 (right), the others n+2 (wrong), so every
  // prompt's pass rate is 3/8, inside the band.
  openAIServer: {
    handler: (req) => {
      const n = Number(/n=(\d+)/.exec(req.messages.at(-1)?.content ?? "")?.[1] ?? 0);
      return `So the answer is \\boxed{${(req.seed ?? 0) % 8 < 3 ? n + 1 : n + 2}}.`;
    },
  },
  setup,
  config: async (file) => {
    const config = await loadDpoConfig(file);
    expect(config.loss.lossType).toBe("sigmoid");
  },
  after: [
    {
      contains: "infialign-dpo export",
      check: (_, dir) => {
        for (const f of ["runs/dpo-data/dpo-pairs/manifest.json", "runs/dpo/final/config.json", "lf-dpo/data/dataset_info.json"]) expect(existsSync(join(dir, f)), f).toBe(true);
      },
    },
  ],
});
