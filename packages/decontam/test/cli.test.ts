import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { exactDedupStage, makeSample, resolveInputs, runPipeline, type Sample, type StageManifest, silentLogger } from "@infialign/data";
import { runCli } from "@infialign/test-utils";
import { describe, expect, it } from "vitest";
import { loadGpqa, loadLiveCodeBench, loadMmluPro } from "../src/benchmarks/userBenchmarks.js";
import { main } from "../src/cli/program.js";
import { loadBenchmark } from "../src/index.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/loaders/", import.meta.url));
const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

const run = (argv: string[], input: string) => runCli(main, argv, input, (a) => a[0] === "check");

describe("infialign-decontam CLI", () => {
  it("check: one verdict per input line, in order, malformed lines included", async () => {
    const aime = (await loadBenchmark("aime24"))[0]!.text;
    const math = (await loadBenchmark("math500"))[0]!.text;
    const input = [
      JSON.stringify({ text: aime }),
      "{not json",
      JSON.stringify({ prompt: "x" }),
      "",
      JSON.stringify({ text: "Tell me a story about a dragon." }),
      JSON.stringify({ text: math.toUpperCase() }),
      "[1]",
    ].join("\n");
    const { code, lines } = await run(["check"], input);
    expect(code).toBe(0);
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatchObject({ contaminated: true });
    expect(lines[0]!.matches).toContainEqual(expect.objectContaining({ benchmark: "aime24", id: "60", overlap: 1 }));
    expect(lines[1]).toMatchObject({ contaminated: false, matches: [] });
    expect(lines[1]!.error).toMatch(/invalid JSON/);
    expect(lines[2]!.error).toMatch(/field "text" missing or not a string \(fields seen: prompt\)/);
    expect(lines[3]).toEqual({ contaminated: false, matches: [] });
    expect(lines[4]).toMatchObject({ contaminated: true, matches: [expect.objectContaining({ benchmark: "math500", id: "test/precalculus/807.json" })] });
    expect(lines[5]!.error).toMatch(/must be a JSON object/);
  });

  it("check --background reads a training corpus: repeated ids and records without text are fine, a broken line is named", async () => {
    const dir = mkdtempSync(join(tmpdir(), "decontam-background-"));
    const corpus = join(dir, "corpus.jsonl");
    writeFileSync(corpus, `${[{ id: 1, problem: "Compute the sum of the first ten odd numbers." }, { id: 1, problem: "Compute the product of 3 and 4." }, { id: 2, answer: "7" }].map((r) => JSON.stringify(r)).join("\n")}\n`);
    const ok = await run(["check", "--benchmarks", "math500", "--background", corpus], `${JSON.stringify({ text: "What is 2+2?" })}\n`);
    expect(ok.code).toBe(0);
    expect(ok.lines).toEqual([{ contaminated: false, matches: [] }]);
    writeFileSync(corpus, `${JSON.stringify({ problem: "fine" })}\n{broken\n`);
    const bad = await run(["check", "--benchmarks", "math500", "--background", corpus], "");
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/--background ".*corpus.jsonl" line 2/);
  });

  it("--benchmarks restricts the index, --no-paraphrase leaves only verbatim n-grams", async () => {
    const aime = (await loadBenchmark("aime24"))[0]!.text;
    expect((await run(["check", "--benchmarks", "math500"], JSON.stringify({ text: aime }))).lines[0]).toMatchObject({ contaminated: false });
    // Renamed person and variable, reworded clauses: no 20-word verbatim run survives, the paraphrase layer still matches.
    const paraphrase = `Consider this. ${aime
      .replace(/Aya/g, "Bea")
      .replace("goes for a $9$-kilometer-long walk and stops at", "takes a $9$-kilometer walk, stopping at")
      .replace(/\$s\$/g, "$v$")
      .replace(/s\+/g, "v+")
      .replace(/the walk takes her/g, "her walk lasts")
      .replace(/spent in the coffee shop/g, "at the cafe")}`;
    const full = await run(["check", "--benchmarks", "aime24"], JSON.stringify({ text: paraphrase }));
    expect(full.lines[0]).toMatchObject({ contaminated: true, matches: [expect.objectContaining({ benchmark: "aime24", id: "60", method: "paraphrase" })] });
    expect((await run(["check", "--benchmarks", "aime24", "--no-paraphrase"], JSON.stringify({ text: paraphrase }))).lines[0]).toEqual({ contaminated: false, matches: [] });
  });

  it("--help, bad commands and bad options", async () => {
    const help = await run(["--help"], "");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/infialign-decontam check/);
    expect((await run([], "")).code).toBe(2);
    expect((await run(["scan"], "")).err).toMatch(/unknown command "scan"/);
    const badN = await run(["check", "--n", "0"], "");
    expect(badN.code).toBe(2);
    expect(badN.err).toMatch(/--n must be a positive integer/);
    expect((await run(["check", "--benchmarks", "gpqa"], "")).err).toMatch(/unknown benchmark\(s\) gpqa/);
    // A gated set the registry knows but does not ship is not loadable by name.
    const gated = (await run(["check", "--benchmarks", "gpqa-diamond"], "")).err;
    expect(gated).toMatch(/unknown benchmark\(s\) gpqa-diamond in --benchmarks; loadable: .*math500/);
    expect(gated).not.toMatch(/loadable: [^(]*gpqa-diamond/);
    expect((await run(["check", "--benchmark-file", "x.jsonl:yaml"], "")).err).toMatch(/unknown format "yaml"; use generic, gpqa, mmlu-pro, livecodebench/);
    expect((await run(["check", "--benchmarks", "none"], "")).err).toMatch(/no benchmark items to check against/);
    const badGpqa = await run(["check", "--gpqa", join(FIXTURES, "mmlu_pro_test.jsonl")], "");
    expect(badGpqa.code).toBe(2);
    expect(badGpqa.err).toMatch(/GPQA file ".*mmlu_pro_test.jsonl" line 1 has no usable "Record ID" id/);
    expect((await run(["run", "--output", "x"], "")).err).toMatch(/run needs --input/);
    expect((await run(["run", "--input", "x", "--output", "y", "--fields", "answer"], "")).err).toMatch(/--fields must list prompt, response, reasoning/);
  });

  it("check: --gpqa, --mmlu-pro, --livecodebench and --benchmark-file FILE:format add user benchmarks, matches carry method", async () => {
    const gpqa = await loadGpqa(join(FIXTURES, "gpqa_diamond.csv"));
    const mmlu = await loadMmluPro(join(FIXTURES, "mmlu_pro_test.jsonl"));
    const lcb = await loadLiveCodeBench(join(FIXTURES, "lcb_code_generation_lite.jsonl"));
    const input = [gpqa[2]!.text, `Please solve: ${mmlu[1]!.text}`, lcb[1]!.text.split("\n\n")[1]!, "An unrelated question about ducks and eggs."]
      .map((text) => JSON.stringify({ text }))
      .join("\n");
    const args = ["check", "--benchmarks", "none", "--n", "8"];
    const named = await run([...args, "--gpqa", join(FIXTURES, "gpqa_diamond.csv"), "--mmlu-pro", join(FIXTURES, "mmlu_pro_test.jsonl"), "--livecodebench", join(FIXTURES, "lcb_code_generation_lite.jsonl")], input);
    expect(named.code).toBe(0);
    expect(named.lines.map((l) => l.contaminated)).toEqual([true, true, true, false]);
    expect(named.lines[0]!.matches).toEqual([expect.objectContaining({ benchmark: "gpqa", id: "recSynth0003", method: "ngram" })]);
    expect(named.lines[1]!.matches).toEqual([expect.objectContaining({ benchmark: "mmlu-pro", id: "10234", method: "ngram" })]);
    expect(named.lines[2]!.matches).toEqual([expect.objectContaining({ benchmark: "livecodebench", id: "abc999_c" })]);
    const viaSpec = await run([...args, "--benchmark-file", `${join(FIXTURES, "gpqa_diamond.csv")}:gpqa`, "--benchmark-file", `${join(FIXTURES, "mmlu_pro_test.jsonl")}:mmlu-pro`], input);
    expect(viaSpec.lines[0]!.matches).toEqual([expect.objectContaining({ benchmark: "gpqa_diamond", id: "recSynth0003" })]);
    expect(viaSpec.lines[1]!.matches).toEqual([expect.objectContaining({ benchmark: "mmlu_pro_test", id: "10234" })]);
    expect(viaSpec.lines[2]!.contaminated).toBe(false);
  });
});

/** A small canonical shard set made the way users make it: infialign-data dedup output. */
async function canonicalShards(dir: string): Promise<{ stageDir: string; rows: Sample[] }> {
  const math = await loadBenchmark("math500");
  const rows: Sample[] = [];
  for (let i = 0; i < 30; i++) {
    const prompt = i % 6 === 0 ? math[i]!.text : `Training problem ${i}: compute ${i} plus ${i * 3} and explain each step of the addition.`;
    rows.push(makeSample({ source: "pool", prompt, response: `The answer is ${i * 4}.`, reasoning: i === 7 ? `Reminds me of ${math[40]!.text}` : undefined }));
  }
  const input = join(dir, "pool.jsonl");
  writeFileSync(input, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
  const res = await runPipeline({ name: "prep", runsDir: dir, source: { files: await resolveInputs(input), decode: "samples" }, stages: [exactDedupStage()], shard: { maxRecords: 8 }, logger: silentLogger, progress: false });
  return { stageDir: res.stages[0]!.dir, rows };
}

const jsonl = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe("infialign-decontam run", () => {
  it("in process: rejects contaminated shards with evidence, reruns only when the benchmark set changes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "decontam-run-"));
    const { stageDir, rows } = await canonicalShards(dir);
    const out = join(dir, "clean");
    const first = await run(["run", "--input", stageDir, "--output", out, "--benchmarks", "math500", "--batch-size", "4"], "");
    expect(first.err).not.toMatch(/warning|error/i);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^decontam: in 30 {2}out 25 {2}rejected 5 \(contaminated 5\) {2}→ .*clean\/decontam\n$/);
    const manifest = JSON.parse(readFileSync(join(out, "decontam", "manifest.json"), "utf8")) as StageManifest;
    expect(manifest.counters).toMatchObject({ "contaminated.benchmark.math500": 5, "contaminated.method.ngram": 5 });
    expect(manifest.params).toMatchObject({ fields: ["prompt"], learnRecords: 10_000, checker: { benchmarks: { math500: 500 }, config: { ngram: { n: 13 }, paraphrase: { enabled: true } } } });
    const rejects = jsonl(join(out, "decontam", "rejects.jsonl"));
    expect(rejects.map((r) => r.id)).toEqual(rows.filter((_, i) => i % 6 === 0).map((r) => r.id));
    expect(((rejects[0]!.record as Sample).meta.decontam as { matches: unknown[] }).matches[0]).toMatchObject({ benchmark: "math500", method: "ngram", field: "prompt" });
    expect((await run(["run", "--input", stageDir, "--output", out, "--benchmarks", "math500"], "")).out).toMatch(/\[up to date\]/);
    const withReasoning = await run(["run", "--input", stageDir, "--output", out, "--benchmarks", "math500", "--fields", "prompt,reasoning"], "");
    expect(withReasoning.out).toMatch(/rejected 6 /);
    const n8 = await run(["run", "--input", stageDir, "--output", out, "--benchmarks", "math500", "--n", "8"], "");
    expect(n8.out).not.toMatch(/up to date/);
    expect(JSON.parse(readFileSync(join(out, "decontam", "manifest.json"), "utf8")).params.checker.config.ngram.n).toBe(8);
    const otherSet = await run(["run", "--input", stageDir, "--output", out, "--benchmarks", "aime24"], "");
    expect(otherSet.out).toMatch(/in 30 {2}out 30 {2}rejected 0 /);
    expect(otherSet.out).not.toMatch(/up to date/);
  });

  it("end to end: the built dist/cli.js runs check and run", async () => {
    expect(existsSync(CLI), `${CLI} missing: build first (pnpm --filter @infialign/decontam build; turbo test does)`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "decontam-e2e-"));
    const { stageDir } = await canonicalShards(dir);
    const exec = promisify(execFile);
    const out = join(dir, "e2e");
    const res = await exec(process.execPath, [CLI, "run", "--input", stageDir, "--output", out, "--benchmarks", "math500,aime24", "--gpqa", join(FIXTURES, "gpqa_diamond.csv")]);
    expect(res.stdout).toMatch(/^decontam: in 30 {2}out 25 {2}rejected 5 \(contaminated 5\)/);
    const manifest = JSON.parse(readFileSync(join(out, "decontam", "manifest.json"), "utf8")) as StageManifest;
    expect(manifest.counts).toMatchObject({ in: 30, out: 25, rejected: 5 });
    expect(manifest.shards.reduce((n, s) => n + s.records, 0)).toBe(25);
    expect(jsonl(join(out, "decontam", "rejects.jsonl"))).toHaveLength(5);
    const child = execFile(process.execPath, [CLI, "check", "--benchmarks", "math500"]);
    let stdout = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stdin!.end(`${JSON.stringify({ text: (await loadBenchmark("math500"))[3]!.text })}\n{bad\n`);
    const code = await new Promise((r) => child.on("close", r));
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ contaminated: true, matches: [expect.objectContaining({ benchmark: "math500", method: "ngram" })] });
    expect(lines[1]).toMatchObject({ contaminated: false, matches: [], error: expect.stringMatching(/invalid JSON/) });
  }, 120_000);
});
