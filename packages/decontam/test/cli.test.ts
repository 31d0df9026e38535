import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { loadBenchmark } from "../src/index.js";
import { main } from "../src/cli/program.js";

async function run(argv: string[], input: string) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  const code = await main(argv, { stdin: Readable.from([input]), stdout, stderr });
  const lines = () => out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, lines: argv[0] === "check" && code === 0 ? lines() : [], out, err };
}

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

  it("--benchmarks restricts the index and --n changes the n-gram size", async () => {
    const aime = (await loadBenchmark("aime24"))[0]!.text;
    expect((await run(["check", "--benchmarks", "math500,gsm8k-test"], JSON.stringify({ text: aime }))).lines[0]).toMatchObject({ contaminated: false });
    const eight = "every morning aya goes for a 9 kilometer";
    expect((await run(["check", "--benchmarks", "aime24"], JSON.stringify({ text: eight }))).lines[0]!.contaminated).toBe(false);
    expect((await run(["check", "--benchmarks", "aime24", "--n", "8"], JSON.stringify({ text: eight }))).lines[0]!.contaminated).toBe(true);
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
  });
});
