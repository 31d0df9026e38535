import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSample } from "@infialign/data";
import { selectBackend } from "@infialign/kernels/tfjs";
import { type OpenAIServer, runCli, startOpenAIServer } from "@infialign/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/program.js";
import { writeTinyModel } from "./trainerHelpers.js";

const run = (argv: string[]) => runCli(main, argv, "", () => false);

describe("infialign-dpo CLI", () => {
  let server: OpenAIServer;
  let dir: string;
  const N = 6;
  beforeAll(async () => {
    await selectBackend({ prefer: "cpu" });
    // The "SFT model" answers n+1 (right) for seeds 0 and 1 and n+2 (wrong) otherwise: pass rate 2/4 on every prompt,
    // except n = 0, which it always solves (too easy).
    server = await startOpenAIServer({
      handler: (req) => {
        const n = Number(/n=(\d+)/.exec(req.messages.at(-1)!.content)![1]);
        const answer = n === 0 || (req.seed ?? 0) < 2 ? n + 1 : n + 2;
        return `So \\boxed{${answer}}.`;
      },
    });
    dir = await mkdtemp(join(tmpdir(), "dpo-cli-"));
    const samples = Array.from({ length: N }, (_, n) => makeSample({ source: "synthetic", prompt: `n=${n}; n+1?`, gold: String(n + 1), response: `\\boxed{${n + 1}}` }));
    await writeFile(join(dir, "in.jsonl"), `${samples.map((s) => JSON.stringify(s)).join("\n")}\n`);
    await writeTinyModel(join(dir, "model"));
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("samples pairs from a local model directory (--local-model)", async () => {
    const pairs = await run(["pairs", "--input", join(dir, "in.jsonl"), "--out", join(dir, "local"), "--local-model", join(dir, "model"), "--k", "2", "--max-tokens", "8", "--band", "0,1", "--quiet"]);
    expect(pairs.err).toBe("");
    expect(pairs.code).toBe(0);
    // An untrained model never reaches the boxed answer: every prompt is too hard, each accounted for.
    expect(pairs.out).toContain(`prompts ${N}  pairs 0  rejected ${N}`);
  }, 60_000);

  it("builds pairs, trains on them and exports them", async () => {
    const pairs = await run(["pairs", "--input", join(dir, "in.jsonl"), "--out", join(dir, "run"), "--base-url", server.url, "--model", "sft", "--k", "4", "--band", "0.25,0.75", "--quiet"]);
    expect(pairs.err).toBe("");
    expect(pairs.code).toBe(0);
    expect(pairs.out).toContain(`prompts ${N}  pairs ${N - 1}  rejected 1 (too_easy: 1)`);
    expect(server.requests).toHaveLength(N * 4);
    const stageDir = join(dir, "run", "dpo-pairs");
    expect(existsSync(join(stageDir, "manifest.json"))).toBe(true);

    await writeFile(
      join(dir, "dpo.yaml"),
      ["model: model", "pairs: run/dpo-pairs", "outputDir: out", "learningRate: 0.003", "batchSize: 5", "epochs: 3", "loggingSteps: 1", "saveSteps: 0", "maxLength: 96", "maxPromptLength: 48", "reference:", "  engine: tfjs"].join("\n"),
    );
    const train = await run(["train", "--config", join(dir, "dpo.yaml"), "--backend", "cpu", "--quiet"]);
    expect(train.err).toBe("");
    expect(train.code).toBe(0);
    expect(train.out).toMatch(/^steps 3 {2}pairs 5 {2}loss \d/);
    expect(train.out).toContain(`model: ${join(dir, "out", "final")}`);
    expect(JSON.parse(readFileSync(join(dir, "out", "run.json"), "utf8")).engine).toBe("onnxruntime");
    const reference = await run(["train", "--config", join(dir, "dpo.yaml"), "--backend", "cpu", "--quiet", "--engine", "tfjs", "--threads", "1"]);
    expect(reference.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "out", "run.json"), "utf8")).engine).toBe("tfjs");
    expect((await run(["train", "--config", join(dir, "dpo.yaml"), "--engine", "fast"])).code).toBe(2);
    const metrics = (await readFile(join(dir, "out", "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    expect(metrics.at(-1)!["rewards/margins"]).toBeGreaterThan(metrics[0]!["rewards/margins"]!);

    const exported = await run(["export", "--pairs", stageDir, "--out", join(dir, "lf"), "--target", "llamafactory", "--model", "Qwen/Qwen2.5-Math-7B"]);
    expect(exported.code).toBe(0);
    expect(exported.out).toContain(`${N - 1} pairs`);
    const lines = (await readFile(join(dir, "lf", "data", "infialign_dpo.jsonl"), "utf8")).trim().split("\n");
    expect(lines).toHaveLength(N - 1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ chosen: { from: "gpt" }, rejected: { from: "gpt", value: expect.stringMatching(/boxed/) } });
    expect(await readFile(join(dir, "lf", "infialign_dpo.yaml"), "utf8")).toContain("stage: dpo");
  });

  it("prints help and reports usage errors with exit code 2", async () => {
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("infialign-dpo pairs");
    const none = await run([]);
    expect(none.code).toBe(2);
    const unknown = await run(["fly"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "fly"');
    const both = await run(["pairs", "--input", "x", "--out", "y"]);
    expect(both.code).toBe(2);
    expect(both.err).toContain("either --base-url");
    const badFlag = await run(["train", "--config", "a.yaml", "--nope"]);
    expect(badFlag.code).toBe(2);
    const band = await run(["pairs", "--input", "x", "--out", "y", "--local-model", "m", "--band", "0.9,0.1"]);
    expect(band.code).toBe(2);
    expect(band.err).toContain("--band");
  });

  it("reports a bad config with the file and field, exit code 1", async () => {
    await writeFile(join(dir, "bad.yaml"), "model: m\npairs: p\noutputDir: o\nbeta: 0.1\nloss:\n  beta: -1\n");
    const bad = await run(["train", "--config", join(dir, "bad.yaml")]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("bad.yaml is invalid (2 problems)");
    expect(bad.err).toContain('unknown field "beta"');
    expect(bad.err).toContain("loss.beta:");
  });
});
