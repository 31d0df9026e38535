import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const cliPath = join(pkgDir, "src", "cli", "main.ts");
// The tests run the CLI from a temporary directory, so the tsx loader is named by URL.
const tsxLoader = pathToFileURL(join(pkgDir, "node_modules", "tsx", "dist", "loader.mjs")).href;

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, ["--import", tsxLoader, cliPath, ...args], { cwd, encoding: "utf8", env: { ...process.env, CI: "true" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("infialign-data CLI", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "infialign-cli-"));
    const lines = [
      { problem: "What is $1+1$?", solution: "It is $\\boxed{2}$.", level: "Level 1", type: "Prealgebra" },
      { problem: "What is $2+2$?", solution: "It is $\\boxed{4}$.", level: "Level 1", type: "Prealgebra" },
      { problem: "What is $1+1$?", solution: "It is $\\boxed{2}$.", level: "Level 1", type: "Prealgebra" },
    ].map((r) => JSON.stringify(r));
    await writeFile(join(dir, "math.jsonl"), `${lines.join("\n")}\n{broken\n`);
    await writeFile(join(dir, "weird.jsonl"), `${JSON.stringify({ foo: 1, bar: 2 })}\n`);
  });

  it("prints help for every command", () => {
    for (const command of [[], ["inspect"], ["normalize"], ["dedup"], ["run"], ["stats"], ["export"]]) {
      const r = cli([...command, "--help"], dir);
      expect(r.code, command.join(" ")).toBe(0);
      expect(r.stdout).toMatch(/Usage: infialign-data/);
    }
  });

  it("inspects a file: format, counts, problems, detected adapter, field stats", () => {
    const r = cli(["inspect", "math.jsonl", "--json"], dir);
    expect(r.code).toBe(0);
    const [report] = JSON.parse(r.stdout);
    expect(report).toMatchObject({ format: "jsonl", records: 4, problems: { malformed_json: 1 }, adapter: "math" });
    expect(report.fields.problem.present).toBe(3);
  });

  it("normalizes, deduplicates and reports stats, with exit code 0", async () => {
    const norm = cli(["normalize", "math.jsonl", "--name", "c", "--json"], dir);
    expect(norm.code, norm.stderr).toBe(0);
    expect(JSON.parse(norm.stdout)[0].counts).toMatchObject({ in: 4, out: 3, rejected: 1 });
    const dedup = cli(["dedup", "runs/c/normalize/part-*.jsonl", "--name", "c2", "--json"], dir);
    expect(dedup.code, dedup.stderr).toBe(0);
    expect(JSON.parse(dedup.stdout)[0].counts).toMatchObject({ in: 3, out: 2, deduplicated: 1 });
    const stats = cli(["stats", "runs/c2/dedup", "--json"], dir);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ records: 2, byDomain: { prealgebra: 2 } });
    const rejects = await readFile(join(dir, "runs/c/normalize/rejects.jsonl"), "utf8");
    expect(JSON.parse(rejects.trim())).toMatchObject({ code: "malformed_json", loc: { line: 4 } });
  });

  it("exports canonical shards as a Hugging Face Parquet folder that reads back identically", async () => {
    expect(cli(["normalize", "math.jsonl", "--name", "e", "--quiet"], dir).code).toBe(0);
    const r = cli(["export", "runs/e/normalize", "--out", "hf", "--format", "parquet"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/exported 3 records to 1 parquet file/);
    const { resolveInputs, readRecords } = await import("../src/index.js");
    const [file] = await resolveInputs(join(dir, "hf"), { split: "train" });
    expect(file!.path).toMatch(/data\/train-00000\.parquet$/);
    const back = [];
    for await (const raw of readRecords(file!)) if (raw.ok) back.push(raw.value);
    const original = (await readFile(join(dir, "runs/e/normalize/part-00000.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(back).toEqual(original);
    expect(cli(["export", "math.jsonl", "--out", "bad"], dir).stderr).toMatch(/math\.jsonl:1 is not a canonical Sample/);
  });

  it("fails with a clear message and non-zero exit code on bad input", () => {
    const missing = cli(["normalize", "nope.jsonl"], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/\[infialign\/data\].*nope\.jsonl/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const unknown = cli(["normalize", "weird.jsonl"], dir);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/fields seen: .*foo/);
    const strict = cli(["normalize", "math.jsonl", "--strict", "--name", "s"], dir);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/math\.jsonl:4 \(malformed_json\)/);
    expect(cli(["frobnicate"], dir).code).toBe(2);
    expect(cli(["normalize", "math.jsonl", "--max-record-bytes", "-3"], dir).stderr).toMatch(/--max-record-bytes must be a positive integer/);
  });

  it("rejects records over --max-record-bytes with their line", async () => {
    const r = cli(["normalize", "math.jsonl", "--name", "small", "--max-record-bytes", "90", "--json"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)[0].counts.rejectedByReason).toMatchObject({ record_too_large: 3 });
    const rejects = (await readFile(join(dir, "runs/small/normalize/rejects.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(rejects.filter((e) => e.code === "record_too_large").map((e) => e.loc.line)).toEqual([1, 2, 3]);
  });
});
