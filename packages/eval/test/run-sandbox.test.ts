import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startOpenAIServer } from "@infialign/test-utils";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { BenchmarkSpec, EvalItem, SampleRecord } from "../src/types.js";
import { protocol } from "./runHelpers.js";

// The sandbox probe and the test runner are scripted, so these run the same with or without bubblewrap.
const sandbox = vi.hoisted(() => ({ ok: false }));
const runTests = vi.hoisted(() => vi.fn(async () => ({ verdict: "passed" })));
vi.mock("@infialign/verify", async (importOriginal) => ({
  ...(await importOriginal<typeof import("@infialign/verify")>()),
  sandboxAvailable: () => (sandbox.ok ? { ok: true } : { ok: false, reason: "bwrap (bubblewrap) is not on PATH" }),
  runTests,
}));

const { endpointRunner } = await import("../src/run/endpointRunner.js");
const { runEvaluation } = await import("../src/run/runEvaluation.js");
const { readSamples } = await import("../src/run/samplesFile.js");
const { gradeCode } = await import("../src/grading/gradeCode.js");
const { mathBench, useTempDirs } = await import("./runHelpers.js");

const tmp = useTempDirs("eval-sandbox-");
afterEach(() => {
  sandbox.ok = false;
  runTests.mockClear();
});

const items: EvalItem[] = [0, 1, 2].map((i) => ({
  benchmark: "code",
  id: `c${i}`,
  messages: [{ role: "user", content: `Print ${i}.` }],
  kind: "code",
  gold: "",
  tests: { cases: [{ input: "", output: `${i}\n`, testtype: "stdin" }] },
  meta: {},
}));
const codeSpec: BenchmarkSpec = { name: "code", title: "Code", kind: "code", column: "CODE", load: async () => items, grade: (item, c) => gradeCode(item.tests?.cases ?? [], c) };
const program = (i: number) => `\`\`\`python\nprint(${i})\n\`\`\``;

describe("runEvaluation with code benchmarks", () => {
  it("fails before any request when the sandbox is unavailable, with the reason and an install hint", async () => {
    const server = await startOpenAIServer({ handler: () => program(0) });
    const runner = endpointRunner({ baseUrl: server.url, model: "m", sleep: async () => {} });
    const out = join(tmp(), "run");
    try {
      const math = mathBench();
      await expect(runEvaluation({ benchmarks: [{ spec: math, items: await math.load() }, { spec: codeSpec, items }], protocol: protocol(1), runner, outDir: out, progress: false })).rejects.toThrow(
        "[infialign/eval] run: code runs the model's programs in @infialign/verify's bubblewrap sandbox, which is unavailable here: bwrap (bubblewrap) is not on PATH. Nothing was requested. Install bubblewrap (e.g. apt-get install -y bubblewrap)",
      );
      expect(server.requests).toHaveLength(0);
      expect(existsSync(out)).toBe(false);
      // A run without code benchmarks does not need it.
      const math2 = mathBench();
      await expect(runEvaluation({ benchmarks: [{ spec: math2, items: await math2.load() }], protocol: protocol(1), runner, outDir: out, progress: false })).resolves.toMatchObject({ newSamples: 6 });
    } finally {
      await runner.close?.();
      await server.close();
    }
  });

  it("grades again, without asking the model, samples an older version saved as sandbox_unavailable", async () => {
    const server = await startOpenAIServer({ handler: () => "unused" });
    const runner = endpointRunner({ baseUrl: server.url, model: "m", sleep: async () => {} });
    const out = tmp();
    mkdirSync(out, { recursive: true });
    const old: SampleRecord[] = items.map((it, i) => ({ benchmark: "code", itemId: it.id, sampleIndex: 0, completion: program(i), finishReason: "stop", grade: { correct: false, extracted: `print(${i})\n`, reason: "sandbox_unavailable" } }));
    writeFileSync(join(out, "samples.jsonl"), old.map((r) => `${JSON.stringify(r)}\n`).join(""));
    sandbox.ok = true;
    try {
      const r = await runEvaluation({ benchmarks: [{ spec: codeSpec, items }], protocol: protocol(1), runner, outDir: out, progress: false });
      expect(r).toMatchObject({ newSamples: 0, resumedSamples: 0, regradedSamples: 3 });
      expect(r.benchmarks[0]!.avgAtN).toBe(1);
      expect(server.requests.filter((q) => q.path.endsWith("/chat/completions"))).toHaveLength(0);
      expect(runTests).toHaveBeenCalledTimes(3);
      const { samples, superseded } = await readSamples(join(out, "samples.jsonl"));
      expect(superseded).toBe(3);
      expect(samples.map((s) => s.grade)).toEqual(items.map((_, i) => ({ correct: true, extracted: `print(${i})\n` })));
      // Nothing is graded twice on the next rerun.
      expect(await runEvaluation({ benchmarks: [{ spec: codeSpec, items }], protocol: protocol(1), runner, outDir: out, progress: false })).toMatchObject({ resumedSamples: 3, regradedSamples: 0 });
    } finally {
      await runner.close?.();
      await server.close();
    }
  });
});
