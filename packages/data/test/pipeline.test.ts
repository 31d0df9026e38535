import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  DataError,
  exactDedupStage,
  normalizeStage,
  resolveInputs,
  runPipeline,
  type Sample,
  type Stage,
  StrictModeError,
  statsStage,
} from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const quiet = { info() {}, warn() {}, debug() {} };

/** GSM8K-style lines, with every 7th a duplicate of an earlier record and a few broken ones. */
function gsm8kLines(n: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 7 === 6 ? i - 3 : i;
    lines.push(JSON.stringify({ question: `Tom has ${k} apples and buys ${k + 2} more. How many apples does he have?`, answer: `He has ${k} + ${k + 2} = <<${k}+${k + 2}=${2 * k + 2}>>${2 * k + 2} apples.\n#### ${2 * k + 2}` }));
    if (i === 10) lines.push("{not json");
    if (i === 20) lines.push(JSON.stringify({ question: "No final answer here", answer: "It is unclear." }));
    if (i === 30) lines.push(JSON.stringify({ question: 42, answer: "#### 1" }));
  }
  return lines;
}

async function fixture(n = 300): Promise<{ dir: string; input: string }> {
  const dir = await mkdtemp(join(tmpdir(), "infialign-pipeline-"));
  const input = join(dir, "pool.jsonl");
  await writeFile(input, `${gsm8kLines(n).join("\n")}\n`);
  return { dir, input };
}

async function readAll(dir: string, prefix = "part-"): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.startsWith(prefix)).sort();
  const parts = await Promise.all(files.map((f) => readFile(join(dir, f), "utf8")));
  return parts.join("");
}

const stages = () => [normalizeStage({}), exactDedupStage(), statsStage()];

describe("runPipeline", () => {
  it("accounts for every record and records rejects and duplicates with locations", async () => {
    const { dir, input } = await fixture();
    const result = await runPipeline({ name: "t", runsDir: dir, source: { files: await resolveInputs(input) }, stages: stages(), shard: { maxRecords: 64 }, logger: quiet, progress: false });
    const [norm, dedup, stats] = result.stages;
    expect(norm!.manifest.counts).toMatchObject({ in: 303, out: 300, rejected: 3, deduplicated: 0 });
    expect(norm!.manifest.counts.rejectedByReason).toEqual({ malformed_json: 1, missing_final_answer: 1, wrong_type: 1 });
    expect(dedup!.manifest.counts).toMatchObject({ in: 300, out: 300 - 42, deduplicated: 42, rejected: 0 });
    expect(stats!.manifest.counts.out).toBe(258);
    for (const s of result.stages) {
      const c = s.manifest.counts;
      expect(c.in).toBe(c.out + c.rejected + c.deduplicated);
      expect(s.manifest.accounting.balanced).toBe(true);
    }
    const rejects = (await readFile(join(dir, "t", "normalize", "rejects.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(rejects.map((r) => [r.code, r.loc.line])).toEqual([
      ["malformed_json", 12],
      ["missing_final_answer", 23],
      ["wrong_type", 34],
    ]);
    expect(rejects[2].field).toBe("question");
    const dups = (await readFile(join(dir, "t", "dedup", "duplicates.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(dups).toHaveLength(42);
    const out = (await readAll(join(dir, "t", "dedup"))).trim().split("\n").map((l) => JSON.parse(l) as Sample);
    const ids = new Set(out.map((s) => s.id));
    expect(ids.size).toBe(out.length);
    for (const d of dups) expect(ids.has(d.duplicateOf)).toBe(true);
    expect(norm!.manifest.shards.length).toBe(Math.ceil(300 / 64));
  });

  it("skips stages whose manifest matches and reruns from the first changed stage", async () => {
    const { dir, input } = await fixture(100);
    const files = await resolveInputs(input);
    const first = await runPipeline({ name: "t", runsDir: dir, source: { files }, stages: stages(), logger: quiet, progress: false });
    const again = await runPipeline({ name: "t", runsDir: dir, source: { files }, stages: stages(), logger: quiet, progress: false });
    expect(again.stages.map((s) => s.skipped)).toEqual([true, true, true]);
    expect(again.stages[2]!.manifest.counts).toEqual(first.stages[2]!.manifest.counts);
    const changed = await runPipeline({ name: "t", runsDir: dir, source: { files }, stages: [normalizeStage({}), exactDedupStage({ key: "prompt" }), statsStage()], logger: quiet, progress: false });
    expect(changed.stages.map((s) => s.skipped)).toEqual([true, false, false]);
  });

  it("stops at the first reject under strict mode with the location in the message", async () => {
    const { dir, input } = await fixture(50);
    const run = runPipeline({ name: "t", runsDir: dir, source: { files: await resolveInputs(input) }, stages: stages(), strict: true, logger: quiet, progress: false });
    await expect(run).rejects.toThrow(StrictModeError);
    await expect(run).rejects.toThrow(/pool\.jsonl:12 \(malformed_json\)/);
  });

  it("refuses a stage that loses records", async () => {
    const { dir, input } = await fixture(20);
    const lossy: Stage = {
      name: "lossy",
      params: {},
      async *run(records) {
        let i = 0;
        for await (const r of records) if (i++ % 2 === 0) yield r;
      },
    };
    const run = runPipeline({ name: "t", runsDir: dir, source: { files: await resolveInputs(input) }, stages: [normalizeStage({}), lossy], logger: quiet, progress: false });
    await expect(run).rejects.toThrow(/lost track of records/);
  });

  it("resumes after an in-process crash with identical output and logs", async () => {
    const { dir, input } = await fixture(400);
    const files = await resolveInputs(input);
    const reference = await runPipeline({ name: "ref", runsDir: dir, source: { files }, stages: stages(), shard: { maxRecords: 25 }, logger: quiet, progress: false });
    let crashAt = 237;
    const crashing = (): Stage => ({
      name: "crashy",
      params: {},
      async *run(records) {
        for await (const r of records) {
          if (--crashAt === 0) throw new Error("simulated crash");
          yield r;
        }
      },
    });
    const withCrash = () => [normalizeStage({}), exactDedupStage(), crashing(), statsStage()];
    await expect(runPipeline({ name: "run", runsDir: dir, source: { files }, stages: withCrash(), shard: { maxRecords: 25 }, logger: quiet, progress: false })).rejects.toThrow("simulated crash");
    expect(existsSync(join(dir, "run", "dedup", "checkpoint.json"))).toBe(true);
    crashAt = -1;
    const resumed = await runPipeline({ name: "run", runsDir: dir, source: { files }, stages: withCrash(), shard: { maxRecords: 25 }, logger: quiet, progress: false });
    expect(resumed.stages.slice(0, 2).every((s) => s.resumed)).toBe(true);
    for (const stage of ["normalize", "dedup"]) {
      expect(await readAll(join(dir, "run", stage))).toBe(await readAll(join(dir, "ref", stage)));
      expect(await readFile(join(dir, "run", stage, "rejects.jsonl"), "utf8")).toBe(await readFile(join(dir, "ref", stage, "rejects.jsonl"), "utf8"));
      expect(await readFile(join(dir, "run", stage, "duplicates.jsonl"), "utf8")).toBe(await readFile(join(dir, "ref", stage, "duplicates.jsonl"), "utf8"));
    }
    expect(resumed.stages[3]!.manifest.counts).toEqual(reference.stages[2]!.manifest.counts);
    expect(resumed.stages[3]!.manifest.stats).toEqual(reference.stages[2]!.manifest.stats);
  });

  it("resumes after SIGKILL mid-stage: no duplicates, no loss, identical output", async () => {
    const { dir, input } = await fixture(3000);
    const files = await resolveInputs(input);
    await runPipeline({ name: "crash-ref", runsDir: dir, source: { files }, stages: [normalizeStage({}), exactDedupStage(), passThrough("slow"), statsStage()], shard: { maxRecords: 50 }, logger: quiet, progress: false });

    const child = spawn(process.execPath, ["--import", "tsx", join(here, "helpers", "crashChild.ts"), input, dir, "10"], { stdio: "ignore" });
    const checkpoint = join(dir, "crash", "slow", "checkpoint.json");
    const deadline = Date.now() + 30_000;
    while (!existsSync(checkpoint) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    const killed = child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(killed).toBe(true);
    expect(existsSync(join(dir, "crash", "stats", "manifest.json"))).toBe(false);

    const resumed = await runPipeline({ name: "crash", runsDir: dir, source: { files }, stages: [normalizeStage({}), exactDedupStage(), passThrough("slow"), statsStage()], shard: { maxRecords: 50 }, logger: quiet, progress: false });
    expect(resumed.stages.some((s) => s.resumed || s.skipped)).toBe(true);
    for (const stage of ["normalize", "dedup", "slow", "stats"]) {
      expect(await readAll(join(dir, "crash", stage)), stage).toBe(await readAll(join(dir, "crash-ref", stage)));
      expect(await readFile(join(dir, "crash", stage, "rejects.jsonl"), "utf8")).toBe(await readFile(join(dir, "crash-ref", stage, "rejects.jsonl"), "utf8"));
    }
    const leftovers = (await readdir(join(dir, "crash", "slow"))).filter((f) => !/^(part-\d{5}\.jsonl|rejects\.jsonl|duplicates\.jsonl|manifest\.json)$/.test(f));
    expect(leftovers).toEqual([]);
  });

  it("fails clearly on duplicate stage names and empty inputs", async () => {
    const { dir, input } = await fixture(5);
    const files = await resolveInputs(input);
    await expect(runPipeline({ name: "t", runsDir: dir, source: { files }, stages: [statsStage(), statsStage()], logger: quiet })).rejects.toThrow(DataError);
    await expect(runPipeline({ name: "t", runsDir: dir, source: { files: [] }, stages: [statsStage()], logger: quiet })).rejects.toThrow(/no input files/);
  });
});

function passThrough(name: string): Stage {
  return {
    name,
    params: {},
    async *run(records) {
      yield* records;
    },
  };
}
