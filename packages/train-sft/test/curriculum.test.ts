import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSample } from "@infialign/data";
import { afterAll, describe, expect, it } from "vitest";
import { infialignRecipe, loadCurriculumConfig, resolveCurriculumConfig } from "../src/curriculum.js";
import { selectSamples } from "../src/data/selectSamples.js";

const root = mkdtempSync(join(tmpdir(), "infialign-curriculum-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const minimal = { model: "m", outputDir: "out", phases: [{ name: "p1", data: { files: ["a.jsonl"] } }] };

describe("resolveCurriculumConfig", () => {
  it("fills TRL / transformers defaults", () => {
    const c = resolveCurriculumConfig(minimal);
    expect(c).toMatchObject({ seed: 42, loggingSteps: 10, saveSteps: 500, evalFraction: 0, optimizer: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, maxGradNorm: 1 } });
    expect(c.phases[0]).toEqual({ name: "p1", data: { files: ["a.jsonl"] }, epochs: 3, learningRate: 2e-5, warmupRatio: 0, scheduler: "linear", batchSize: 8, gradAccumulation: 1, maxLength: 1024, packing: "none", paddingFree: false });
    expect(c.lora).toBeUndefined();
    expect(resolveCurriculumConfig({ ...minimal, lora: {} }).lora).toEqual({ r: 16, alpha: 32, dropout: 0.05, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] });
  });

  it("reports every invalid field at once, with the source name", () => {
    const bad = {
      model: "m",
      outputDir: "out",
      lernRate: 1,
      phases: [
        { name: "p1", data: { files: [] }, learningRate: -1 },
        { name: "p1", data: { files: ["x"], difficulty: { min: 5, max: 1 } }, packing: "ffd" },
      ],
    };
    let message = "";
    try {
      resolveCurriculumConfig(bad, "run.yaml");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^\[infialign\/train-sft\] curriculum: run\.yaml is invalid \(5 problems\)/);
    expect(message).toContain('(root): unknown field "lernRate"; check the spelling');
    expect(message).toMatch(/phases\.0\.data\.files: .*>=1/);
    expect(message).toMatch(/phases\.0\.learningRate: .*>0/);
    expect(message).toContain("phases.1.data.difficulty: min must not exceed max");
    expect(message).toMatch(/phases\.1\.packing: .*"none"\|"bfd"\|"bfd_split"\|"wrapped"/);
  });

  it("rejects duplicate phase names (they name directories)", () => {
    expect(() => resolveCurriculumConfig({ ...minimal, phases: [minimal.phases[0], minimal.phases[0]] })).toThrow(/phases\.1\.name: duplicate phase name "p1"/);
  });

  it("merges phaseDefaults into each phase, the phase winning", () => {
    const c = resolveCurriculumConfig({ ...minimal, phaseDefaults: { epochs: 2, maxLength: 64 }, phases: [{ name: "a", data: { files: ["x"] }, epochs: 7 }, { name: "b", data: { files: ["y"] } }] });
    expect(c.phases.map((p) => [p.epochs, p.maxLength])).toEqual([
      [7, 64],
      [2, 64],
    ]);
  });
});

describe("loadCurriculumConfig", () => {
  it("reads YAML and JSON, resolving paths against the file's directory", async () => {
    const dir = join(root, "cfg");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "run.yaml"), "model: ./base\noutputDir: runs/a\nseed: 7\nphases:\n  - name: foundation\n    data:\n      files: [data/p1/*.jsonl]\n    learningRate: 1.0e-4\n");
    const c = await loadCurriculumConfig(join(dir, "run.yaml"));
    expect(c.model).toBe(join(dir, "base"));
    expect(c.outputDir).toBe(join(dir, "runs/a"));
    expect(c.phases[0]?.data.files).toEqual([join(dir, "data/p1/*.jsonl")]);
    expect(c.phases[0]?.learningRate).toBe(1e-4);
    expect(c.seed).toBe(7);
    writeFileSync(join(dir, "run.json"), JSON.stringify({ ...minimal, model: "/abs/model" }));
    expect((await loadCurriculumConfig(join(dir, "run.json"))).model).toBe("/abs/model");
  });

  it("names the file in parse and validation errors", async () => {
    writeFileSync(join(root, "broken.yaml"), "model: [unclosed\n");
    await expect(loadCurriculumConfig(join(root, "broken.yaml"))).rejects.toThrow(/broken\.yaml is not valid YAML/);
    writeFileSync(join(root, "bad.yaml"), "model: m\noutputDir: o\nphases: []\n");
    await expect(loadCurriculumConfig(join(root, "bad.yaml"))).rejects.toThrow(/bad\.yaml is invalid \(1 problem\):\n {2}phases: /);
    await expect(loadCurriculumConfig(join(root, "missing.yaml"))).rejects.toThrow(/cannot read config file/);
    writeFileSync(join(root, "run.toml"), "");
    await expect(loadCurriculumConfig(join(root, "run.toml"))).rejects.toThrow(/must be \.json, \.yaml or \.yml/);
  });
});

describe("infialignRecipe", () => {
  const phase1 = { files: ["sft-72k/*.jsonl"] };
  const phase2 = { files: ["sft-165k/*.jsonl"] };

  it("reproduces the published hyperparameters at paper scale", () => {
    const c = infialignRecipe({ phase1, phase2, model: "Qwen2.5-Math-7B", outputDir: "runs/infialign" });
    expect(c.optimizer).toEqual({ beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0, maxGradNorm: 1 });
    expect(c.phases.map((p) => p.name)).toEqual(["phase1", "phase2"]);
    for (const p of c.phases) {
      expect(p).toMatchObject({ learningRate: 2e-5, warmupRatio: 0.05, scheduler: "cosine", epochs: 5, maxLength: 32_768, packing: "bfd" });
      expect(p.batchSize * p.gradAccumulation).toBe(64);
    }
    expect(c.phases[1]?.data).toEqual(phase2);
  });

  it("scales to a small CPU model, keeping schedule and optimiser", () => {
    const c = infialignRecipe({ phase1, phase2, model: "tiny", outputDir: "o", scale: "cpu", packing: "none", seed: 3 });
    expect(c.seed).toBe(3);
    expect(c.phases[0]).toMatchObject({ maxLength: 1024, batchSize: 8, gradAccumulation: 1, learningRate: 1e-4, warmupRatio: 0.05, scheduler: "cosine", packing: "none" });
    const custom = infialignRecipe({ phase1, phase2, model: "m", outputDir: "o", scale: { maxLength: 128, batchSize: 2, gradAccumulation: 4, epochs: 1, learningRate: 3e-4 } });
    expect(custom.phases[1]).toMatchObject({ maxLength: 128, batchSize: 2, gradAccumulation: 4, epochs: 1, learningRate: 3e-4 });
    expect(() => infialignRecipe({ phase1, phase2, model: "m", outputDir: "o", scale: "huge" as "cpu" })).toThrow(/scale must be one of paper, cpu/);
  });
});

describe("selectSamples", () => {
  const dir = join(root, "shards");
  mkdirSync(dir, { recursive: true });
  const rows = Array.from({ length: 20 }, (_, i) =>
    makeSample({ source: i % 2 ? "numina" : "openr1", domain: i % 4 < 2 ? "math" : "code", prompt: `problem ${i}`, response: `${i}`, meta: i % 5 === 4 ? {} : { level: i % 5 } }),
  );
  writeFileSync(join(dir, "a.jsonl"), rows.slice(0, 10).map((r) => JSON.stringify(r)).join("\n"));
  writeFileSync(join(dir, "b.jsonl"), rows.slice(10).map((r) => JSON.stringify(r)).join("\n"));

  it("reads globs, filters by difficulty, domain and source, and counts drops", async () => {
    const { samples, report } = await selectSamples({ files: [join(dir, "*.jsonl")], difficulty: { min: 1, max: 2 }, domains: ["math"], sources: ["numina"] });
    // Level 1–2 (i%5 ∈ {1,2}): i = 1 2 6 7 11 12 16 17 (12 dropped); math (i%4 ∈ {0,1}): 1 12 16 17 (4 dropped);
    // numina (odd i): 1 17 (2 dropped).
    expect(samples.map((s) => s.prompt)).toEqual(["problem 1", "problem 17"]);
    expect(report.files).toBe(2);
    expect(report.read).toBe(20);
    expect(report.kept).toBe(2);
    expect(report.dropped).toEqual({ difficulty: 12, domain: 4, source: 2, maxSamples: 0 });
  });

  it("keeps a seeded subset in file order", async () => {
    const a = await selectSamples({ files: [dir], maxSamples: 5 }, { seed: 1 });
    const b = await selectSamples({ files: [dir], maxSamples: 5 }, { seed: 1 });
    const c = await selectSamples({ files: [dir], maxSamples: 5 }, { seed: 2 });
    const order = (s: { prompt: string }[]) => s.map((x) => Number(x.prompt.split(" ")[1]));
    expect(order(a.samples)).toEqual(order(b.samples));
    expect(order(a.samples)).not.toEqual(order(c.samples));
    expect([...order(a.samples)].sort((x, y) => x - y)).toEqual(order(a.samples));
    expect(a.report).toMatchObject({ kept: 5, dropped: { maxSamples: 15 } });
  });

  it("names file and line of a record that is not a canonical Sample", async () => {
    const bad = join(root, "bad.jsonl");
    writeFileSync(bad, `${JSON.stringify(rows[0])}\n{"prompt": "x"}\n`);
    await expect(selectSamples({ files: [bad] })).rejects.toThrow(/bad\.jsonl line 2 is not a canonical Sample \(id: .*source: /);
  });
});
