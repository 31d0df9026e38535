import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { canonicalAdapter, detectAdapter, makeSample } from "../src/index.js";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsxLoader = pathToFileURL(join(pkgDir, "node_modules", "tsx", "dist", "loader.mjs")).href;

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, ["--import", tsxLoader, join(pkgDir, "src", "cli", "main.ts"), ...args], { cwd, encoding: "utf8", env: { ...process.env, CI: "true" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const ctx = { source: "file-name", loc: { file: "x.parquet", row: 3 }, requireAnswer: true };
const sample = makeSample({ source: "gsm8k-train", prompt: "What is 1+1?", response: "1+1=2\n#### 2", answer: "2", meta: { adapter: "gsm8k", origin: { file: "gsm8k.jsonl", line: 7 } }, lineage: ["normalize"] });

describe("canonicalAdapter", () => {
  it("is detected for canonical Sample fields before any public schema", () => {
    expect(detectAdapter(Object.keys(sample)).name).toBe("canonical");
    expect(detectAdapter(["question", "answer"]).name).toBe("gsm8k");
  });

  it("keeps source, origin and lineage; Parquet nulls count as absent", () => {
    const result = canonicalAdapter.adapt({ ...sample, system: null, reasoning: null }, ctx);
    expect(result).toEqual({ ok: true, sample: { source: "gsm8k-train", prompt: sample.prompt, response: sample.response, answer: "2", meta: { adapter: "canonical", origin: { file: "gsm8k.jsonl", line: 7 } }, lineage: ["normalize"] } });
  });

  it("rejects a record that is not a valid Sample, naming the field", () => {
    expect(canonicalAdapter.adapt({ ...sample, prompt: 3 }, ctx)).toMatchObject({ ok: false, code: "invalid_record", field: "prompt", message: expect.stringMatching(/^not a canonical Sample: prompt: /) });
    expect(canonicalAdapter.adapt({ ...sample, answer: undefined }, ctx)).toMatchObject({ ok: false, code: "missing_final_answer" });
    expect(canonicalAdapter.adapt({ ...sample, answer: undefined }, { ...ctx, requireAnswer: false }).ok).toBe(true);
  });
});

describe("infialign-data reads the output of its own export", () => {
  it("inspect detects the canonical adapter and normalize gives the same records back", async () => {
    // Regression: inspect reported "adapter: unknown" and normalize refused export's files.
    const dir = await mkdtemp(join(tmpdir(), "infialign-canonical-"));
    const lines = [1, 2, 3].map((n) => JSON.stringify({ question: `What is ${n}+${n}?`, answer: `${n}+${n}=${2 * n}\n#### ${2 * n}` }));
    await writeFile(join(dir, "pool.jsonl"), `${lines.join("\n")}\n`);
    expect(cli(["normalize", "pool.jsonl", "--name", "a", "--quiet"], dir).code).toBe(0);
    expect(cli(["export", "runs/a/normalize", "--out", "hf"], dir).code).toBe(0);
    const inspect = cli(["inspect", "hf", "--json"], dir);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject([{ format: "parquet", records: 3, adapter: "canonical" }]);
    const again = cli(["normalize", "hf", "--name", "b", "--json"], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)[0].counts).toMatchObject({ in: 3, out: 3, rejected: 0 });
    const read = async (run: string) => (await readFile(join(dir, "runs", run, "normalize", "part-00000.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    const [first, second] = [await read("a"), await read("b")];
    expect(second.map((s) => s.id)).toEqual(first.map((s) => s.id));
    expect(second[0]).toMatchObject({ source: "pool", lineage: ["normalize", "normalize"], meta: { adapter: "canonical", origin: { line: 1 } } });
  });
});
