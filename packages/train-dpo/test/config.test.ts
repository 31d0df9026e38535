import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDpoConfig, lossTypesOf, referenceCacheDir, resolveDpoConfig } from "../src/config.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dpo-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("resolveDpoConfig", () => {
  it("applies TRL's DPO defaults", () => {
    const c = resolveDpoConfig({ model: "sft", pairs: "pairs", outputDir: "out" });
    expect(c).toMatchObject({ learningRate: 1e-6, maxLength: 1024, maxPromptLength: 512, batchSize: 8, gradAccumulation: 1, epochs: 1, seed: 42, loggingSteps: 10, saveSteps: 500, lrSchedulerType: "linear" });
    expect(c.loss).toMatchObject({ lossType: ["sigmoid"], beta: 0.1, labelSmoothing: 0, simpoBeta: 2, simpoGammaBetaRatio: 0.25, orpoLambda: 0.1, orpoNllScope: "prompt_and_completion" });
    expect(c.optimizer).toEqual({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, maxGradNorm: 1 });
    expect(c.reference).toMatchObject({ engine: "auto", batchSize: 8 });
    expect(c.pairs).toEqual(["pairs"]);
    expect(lossTypesOf(c)).toEqual(["sigmoid"]);
    expect(referenceCacheDir(c)).toBe(join("out", "ref-logps"));
  });

  // Cross-field checks (maxPromptLength < maxLength, one weight per loss) run once every field is valid on its own.
  it("reports every invalid field at once", () => {
    const attempt = () =>
      resolveDpoConfig({ model: "m", pairs: [], outputDir: "o", learningRate: -1, maxLength: 64, maxPromptLength: 64, loss: { lossType: ["sigmoid", "sft"], lossWeights: [1], lossTyp: "x" }, reference: { engine: "gpu" } }, "dpo.yaml");
    expect(attempt).toThrow(/dpo\.yaml is invalid \(4 problems\)/);
    const message = (() => {
      try {
        attempt();
      } catch (e) {
        return (e as Error).message;
      }
    })()!;
    for (const field of ["pairs:", "learningRate:", "loss: unknown field \"lossTyp\"", "reference.engine:"]) expect(message).toContain(field);
  });

  it("checks maxPromptLength against maxLength and lossWeights against lossType", () => {
    expect(() => resolveDpoConfig({ model: "m", pairs: "p", outputDir: "o", maxLength: 64, maxPromptLength: 64 })).toThrow(/maxPromptLength: must be below maxLength \(64\)/);
    expect(() => resolveDpoConfig({ model: "m", pairs: "p", outputDir: "o", loss: { lossType: ["sigmoid", "sft"], lossWeights: [1] } })).toThrow(/loss\.lossWeights: has 1 entries for 2 loss types/);
    // TRL ≥ v0.29 raises for exo_pair with label_smoothing 0; caught here, before any model is loaded.
    expect(() => resolveDpoConfig({ model: "m", pairs: "p", outputDir: "o", loss: { lossType: "exo_pair" } })).toThrow(/loss\.labelSmoothing: exo_pair needs ε > 0/);
    expect(resolveDpoConfig({ model: "m", pairs: "p", outputDir: "o", loss: { lossType: "exo_pair", labelSmoothing: 1e-3 } }).loss.labelSmoothing).toBe(1e-3);
  });

  it("throws only its own errors for arbitrary input", () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        try {
          resolveDpoConfig(input);
        } catch (e) {
          expect((e as Error).message).toMatch(/^\[infialign\/train-dpo\] config: config is invalid/);
        }
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});

describe("loadDpoConfig", () => {
  it("reads YAML and resolves paths against the file's directory", async () => {
    const path = join(dir, "dpo.yaml");
    await writeFile(path, "model: ./sft\npairs: [runs/a/dpo-pairs, /abs/pairs.jsonl]\noutputDir: out\nloss:\n  lossType: simpo\nreference:\n  cacheDir: cache\n");
    const c = await loadDpoConfig(path);
    expect(c.model).toBe(join(dir, "sft"));
    expect(c.pairs).toEqual([join(dir, "runs/a/dpo-pairs"), "/abs/pairs.jsonl"]);
    expect(c.outputDir).toBe(join(dir, "out"));
    expect(c.reference.cacheDir).toBe(join(dir, "cache"));
    expect(lossTypesOf(c)).toEqual(["simpo"]);
  });

  it("names the file on unreadable, unparsable or unknown-format configs", async () => {
    await expect(loadDpoConfig(join(dir, "missing.yaml"))).rejects.toThrow(/cannot read config file ".*missing\.yaml"/);
    await writeFile(join(dir, "broken.json"), "{ model: ");
    await expect(loadDpoConfig(join(dir, "broken.json"))).rejects.toThrow(/broken\.json is not valid JSON/);
    await writeFile(join(dir, "dpo.toml"), "model = 1");
    await expect(loadDpoConfig(join(dir, "dpo.toml"))).rejects.toThrow(/must be \.json, \.yaml or \.yml/);
  });
});
