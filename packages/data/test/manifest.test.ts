import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DataError, normalizeStage, readManifest, resolveInputs, runPipeline } from "../src/index.js";

const quiet = { info() {}, warn() {}, debug() {} };

async function completedRun() {
  const dir = await mkdtemp(join(tmpdir(), "infialign-manifest-"));
  const input = join(dir, "pool.jsonl");
  await writeFile(input, `${JSON.stringify({ question: "What is 1+1?", answer: "#### 2" })}\n`);
  const files = await resolveInputs(input);
  const run = (force = false) => runPipeline({ name: "t", runsDir: dir, source: { files }, stages: [normalizeStage({})], force, logger: quiet, progress: false });
  await run();
  return { stageDir: join(dir, "t", "normalize"), run };
}

describe("stage manifests and checkpoints that cannot be trusted", () => {
  it("stops on a corrupt manifest, naming the file and what was expected, instead of rerunning silently", async () => {
    // Regression: readJsonFile swallowed the parse error and the stage counted as "not done".
    const { stageDir, run } = await completedRun();
    const manifest = join(stageDir, "manifest.json");
    await writeFile(manifest, '{"stage": "normalize", "status": "compl');
    await expect(run()).rejects.toThrow(DataError);
    await expect(run()).rejects.toThrow(`[infialign/data] manifest: the stage manifest "${manifest}" is corrupt: expected JSON`);
    await expect(run()).rejects.toThrow(`Delete it (or its stage directory "${stageDir}") and rerun the stage that writes it, or rerun with --force.`);
    await expect(run(true)).resolves.toMatchObject({ stages: [{ skipped: false }] });
    expect(await readManifest(manifest)).toMatchObject({ status: "complete" });
  });

  it("stops on a manifest of the wrong shape and names the field", async () => {
    const { stageDir, run } = await completedRun();
    await writeFile(join(stageDir, "manifest.json"), JSON.stringify({ stage: "normalize", status: "complete", key: "k", counts: { in: 1, out: 1, rejected: 0, deduplicated: 0 }, shards: "part-00000.jsonl" }));
    await expect(run()).rejects.toThrow(/is corrupt: expected "shards" to be an array, got "part-00000\.jsonl"/);
    await writeFile(join(stageDir, "manifest.json"), "[]");
    await expect(run()).rejects.toThrow(/is corrupt: expected an object, got an array/);
  });

  it("stops on a manifest it cannot read", async () => {
    const { stageDir, run } = await completedRun();
    await rm(join(stageDir, "manifest.json"));
    await mkdir(join(stageDir, "manifest.json"));
    await expect(run()).rejects.toThrow(/cannot read the stage manifest ".*manifest\.json" \(EISDIR\)/);
  });

  it("stops on a corrupt checkpoint", async () => {
    const { stageDir, run } = await completedRun();
    await rm(join(stageDir, "manifest.json"));
    await writeFile(join(stageDir, "checkpoint.json"), JSON.stringify({ key: "k", shards: [], counts: { in: 0, out: 0, rejected: 0, deduplicated: 0 } }));
    await expect(run()).rejects.toThrow(/the stage checkpoint ".*checkpoint\.json" is corrupt: expected "inputConsumed" to be a number, got nothing/);
  });

  it("treats a missing manifest as a stage not run yet", async () => {
    const { stageDir, run } = await completedRun();
    await rm(join(stageDir, "manifest.json"));
    await expect(run()).resolves.toMatchObject({ stages: [{ skipped: false }] });
    expect(await readManifest(join(stageDir, "part-00000.jsonl", "manifest.json"))).toBeUndefined();
  });
});
