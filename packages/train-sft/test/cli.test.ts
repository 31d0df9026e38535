import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selectBackend } from "@infialign/kernels/tfjs";
import { runCli } from "@infialign/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { main } from "../src/cli/program.js";
import { resolveCurriculumConfig } from "../src/curriculum.js";
import { patternSamples, writeSamples, writeTinyModel } from "./trainerFixtures.js";

const run = (argv: string[]) => runCli(main, argv, "", () => false);

let root: string;
beforeAll(async () => {
  await selectBackend({ prefer: "wasm" });
  root = await mkdtemp(join(tmpdir(), "sft-cli-"));
  await writeTinyModel(join(root, "model"));
  await writeSamples(join(root, "data", "p1.jsonl"), patternSamples(12));
  await writeSamples(join(root, "data", "p2.jsonl"), patternSamples(8, 50));
  // Relative paths: they are resolved against the config file's directory.
  const config = {
    model: "model",
    outputDir: "run",
    loggingSteps: 1,
    saveSteps: 2,
    evalFraction: 0.2,
    optimizer: { beta1: 0.9, beta2: 0.95 },
    phaseDefaults: { epochs: 1, learningRate: 3e-3, batchSize: 4, maxLength: 128, scheduler: "cosine", warmupRatio: 0.1 },
    phases: [
      { name: "phase1", data: { files: ["data/p1.jsonl"] }, packing: "bfd" },
      { name: "phase2", data: { files: ["data/p2.jsonl"] }, packing: "none" },
    ],
  };
  await writeFile(join(root, "run.yaml"), stringifyYaml(config));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("infialign-sft", () => {
  it("prints help and rejects bad usage with exit code 2", async () => {
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("Usage: infialign-sft <command>");
    for (const argv of [[], ["fit"], ["train"], ["train", "--config", "x.yaml", "--bogus"], ["train", "--config", "x.yaml", "--backend", "gpu"], ["export", "--config", "x.yaml", "--target", "axolotl", "--out", "o"], ["recipe", "--phase1", "a"]]) {
      const r = await run(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err).toMatch(/^infialign-sft/);
      expect(r.err).toContain("Usage:");
    }
  });

  it("fails with exit code 1 and the path when the config is missing", async () => {
    const r = await run(["train", "--config", join(root, "nope.yaml"), "--quiet"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("nope.yaml");
  });

  it("names the output directory it cannot create and the setting to change, without a stack trace", async () => {
    // Regression: "ENOENT: no such file or directory, mkdir …" after the data was loaded. A file where
    // the directory should be fails for root too, unlike chmod 0555.
    const blocked = join(root, "blocked");
    await writeFile(blocked, "not a directory");
    const config = join(root, "blocked.yaml");
    await writeFile(config, readFileSync(join(root, "run.yaml"), "utf8").replace(/^outputDir: run$/m, "outputDir: blocked/run"));
    const trained = await run(["train", "--config", config, "--backend", "wasm", "--quiet"]);
    expect(trained.code).toBe(1);
    expect(trained.err).toBe(`infialign-sft train: cannot create the output directory "${join(blocked, "run")}": "${blocked}" is a file, not a directory. Set "outputDir" in ${config} to a writable directory, or fix its permissions.\n`);
    const exported = await run(["export", "--config", join(root, "run.yaml"), "--target", "llamafactory", "--out", join(blocked, "lf")]);
    expect(exported.code).toBe(1);
    expect(exported.err).toMatch(/^infialign-sft export: cannot create the output directory ".*blocked\/lf": ".*blocked" is a file, not a directory\. Set --out to a writable directory/);
  });

  it("says which config field to set when the model cannot be loaded", async () => {
    // Regression: "pass options.model", which a CLI user cannot do.
    const config = join(root, "nomodel.yaml");
    await writeFile(config, readFileSync(join(root, "run.yaml"), "utf8").replace(/^model: model$/m, "model: no-such-model").replace(/^outputDir: run$/m, "outputDir: run-nomodel"));
    const r = await run(["train", "--config", config, "--backend", "wasm", "--quiet"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`cannot load the model from "${join(root, "no-such-model")}"`);
    expect(r.err).toContain('Set "model" in the run config (infialign-sft train --config <run.yaml>; infialign-sft recipe --model <dir>) to a Hugging Face Qwen2 directory');
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it("prints the InfiAlign recipe as a config that validates", async () => {
    const r = await run(["recipe", "--phase1", "data/p1/*.jsonl", "--phase2", "data/p2/*.jsonl", "--model", "base", "--output", "out", "--scale", "cpu"]);
    expect(r.code).toBe(0);
    const config = resolveCurriculumConfig(parseYaml(r.out));
    expect(config.phases.map((p) => p.name)).toEqual(["phase1", "phase2"]);
    expect(config.optimizer).toMatchObject({ beta1: 0.9, beta2: 0.95, weightDecay: 0 });
    expect(config.phases[0]).toMatchObject({ learningRate: 1e-4, maxLength: 1024, scheduler: "cosine", warmupRatio: 0.05, packing: "bfd", data: { files: ["data/p1/*.jsonl"] } });
  });

  it("trains a tiny two-phase config and exports it for LLaMA-Factory", async () => {
    const trained = await run(["train", "--config", join(root, "run.yaml"), "--backend", "wasm", "--quiet"]);
    expect(trained.err).toBe("");
    expect(trained.code).toBe(0);
    // phase1: 12 samples − 2 held out = 10, two ~54-token samples per 128-token bfd row = 5 rows, batch 4 → 2 steps;
    // phase2: 8 − 2 = 6 padded rows, batch 4 → 2 steps.
    expect(trained.out).toMatch(/^phase1\tsteps 2\/2\tloss \d/m);
    expect(trained.out).toMatch(/^phase2\tsteps 2\/2/m);
    for (const f of ["final/config.json", "final/model.safetensors", "final/tokenizer.json", "run.json", "report.html", "phase1/checkpoint-2/trainer_state.json", "phase2/final/config.json"]) {
      expect(existsSync(join(root, "run", f)), f).toBe(true);
    }
    const resumed = await run(["train", "--config", join(root, "run.yaml"), "--backend", "wasm", "--quiet", "--resume"]);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toContain("phase2\tsteps 2/2");
    // The default engine where onnxruntime-node is installed (a devDependency here); --engine picks the reference.
    expect(JSON.parse(readFileSync(join(root, "run", "run.json"), "utf8")).engine).toBe("onnxruntime");
    const reference = await run(["train", "--config", join(root, "run.yaml"), "--backend", "wasm", "--quiet", "--engine", "tfjs", "--threads", "1"]);
    expect(reference.code).toBe(0);
    expect(JSON.parse(readFileSync(join(root, "run", "run.json"), "utf8")).engine).toBe("tfjs");
    expect((await run(["train", "--config", join(root, "run.yaml"), "--engine", "fast"])).code).toBe(2);

    const out = join(root, "lf");
    const exported = await run(["export", "--config", join(root, "run.yaml"), "--target", "llamafactory", "--out", out, "--model-name-or-path", "Qwen/Qwen2.5-Math-7B", "--num-gpus", "4"]);
    expect(exported.err).toBe("");
    expect(exported.code).toBe(0);
    expect(exported.out).toContain("phase1\t12 samples");
    const phase1 = parseYaml(readFileSync(join(out, "phase1.yaml"), "utf8"));
    expect(phase1).toMatchObject({ stage: "sft", model_name_or_path: "Qwen/Qwen2.5-Math-7B", dataset: "run_phase1", lr_scheduler_type: "cosine" });
    expect(existsSync(join(out, "train.sh"))).toBe(true);
    const info = JSON.parse(readFileSync(join(out, "data", "dataset_info.json"), "utf8"));
    expect(info.run_phase1.num_samples).toBeUndefined();

    // num_samples makes LLaMA-Factory resample a dataset, so it is written only when asked for.
    const resampled = join(root, "lf-resampled");
    const exported2 = await run(["export", "--config", join(root, "run.yaml"), "--target", "llamafactory", "--out", resampled, "--num-gpus", "4", "--num-samples", "phase2=100"]);
    expect(exported2.err).toBe("");
    expect(exported2.code).toBe(0);
    const info2 = JSON.parse(readFileSync(join(resampled, "data", "dataset_info.json"), "utf8"));
    expect(info2.run_phase1.num_samples).toBeUndefined();
    expect(info2.run_phase2.num_samples).toBe(100);
    const bad = await run(["export", "--config", join(root, "run.yaml"), "--target", "llamafactory", "--out", resampled, "--num-samples", "phase2"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--num-samples takes <phase>=<n>");
  }, 60_000);
});
