// The training loss's gradients (fused ops' custom gradients + tfjs' registered ones) equal central finite differences of
// the float64 reference loss, for entries of every kind of parameter, on cpu and wasm.
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { NamedTensors } from "../src/engine.js";
import { Qwen2Model } from "../src/qwen2/model.js";
import { referenceLogits } from "../src/qwen2/reference.js";
import { randomIds, TEST_BACKENDS, tinyConfig, useBackend } from "./qwen2Helpers.js";

const config = tinyConfig({ num_hidden_layers: 1, initializer_range: 0.2 });
const ids = randomIds(8, config.vocabSize, 3);
const labels = ids.map((id, t) => (t === 2 ? -100 : id));

/** Mean next-token NLL of the float64 reference (labels shifted as transformers does). */
function referenceLoss(weights: NamedTensors): number {
  const v = config.vocabSize;
  const logits = referenceLogits(config, weights, ids);
  let sum = 0;
  let count = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const label = labels[t + 1] as number;
    if (label === -100) continue;
    const row = logits.subarray(t * v, (t + 1) * v);
    const max = Math.max(...row);
    sum += max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0)) - (row[label] as number);
    count++;
  }
  return sum / count;
}

const CHECKED = [
  "model.embed_tokens.weight",
  "model.layers.0.input_layernorm.weight",
  "model.layers.0.self_attn.q_proj.weight",
  "model.layers.0.self_attn.q_proj.bias",
  "model.layers.0.self_attn.k_proj.weight",
  "model.layers.0.self_attn.k_proj.bias",
  "model.layers.0.self_attn.v_proj.weight",
  "model.layers.0.self_attn.o_proj.weight",
  "model.layers.0.post_attention_layernorm.weight",
  "model.layers.0.mlp.gate_proj.weight",
  "model.layers.0.mlp.up_proj.weight",
  "model.layers.0.mlp.down_proj.weight",
  "model.norm.weight",
  "lm_head.weight",
];

describe.each(TEST_BACKENDS)("Qwen2Model gradients on %s", (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it("d loss / d parameter equals float64 finite differences of the reference loss", () => {
    const model = Qwen2Model.init(config, { seed: 2 });
    const weights = model.toWeights();
    const { value, grads } = tf.variableGrads(() =>
      tf.tidy(() => model.loss({ inputIds: tf.tensor2d(ids, [1, ids.length], "int32"), labels: tf.tensor2d(labels, [1, ids.length], "int32") }).loss),
    );
    expect(Math.abs((value.dataSync()[0] as number) - referenceLoss(weights))).toBeLessThan(1e-5);
    const eps = 1e-3;
    for (const name of CHECKED) {
      const variable = model.param(name);
      const grad = (grads[variable.name] as tf.Tensor).dataSync();
      const t = weights.get(name) as { shape: number[]; data: Float32Array };
      // Entries with the largest analytic gradient (a gradient routed to the wrong entry shows there) and a fixed one.
      const order = [...grad.keys()].sort((a, b) => Math.abs(grad[b] as number) - Math.abs(grad[a] as number));
      for (const i of [order[0] as number, order[1] as number, Math.floor(t.data.length / 3)]) {
        const original = t.data[i] as number;
        t.data[i] = original + eps;
        const up = t.data[i] as number;
        const plus = referenceLoss(weights);
        t.data[i] = original - eps;
        const down = t.data[i] as number;
        const minus = referenceLoss(weights);
        t.data[i] = original;
        // The float32 entries move by exactly up − down.
        const numeric = (plus - minus) / (up - down);
        expect(Math.abs(numeric - (grad[i] as number)), `${name}[${i}]: numeric ${numeric}, analytic ${grad[i]}`).toBeLessThan(2e-4 + 2e-3 * Math.abs(numeric));
      }
    }
    tf.dispose([value, ...Object.values(grads)]);
    model.dispose();
  });
});
