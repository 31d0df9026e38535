// A source adapter written by a user, outside the package: this file imports only the public entry point.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseMeta, missingField, normalizeStage, readShards, requireString, resolveInputs, runPipeline, type Sample, type SourceAdapter, wrongType } from "@infialign/data";
import { describe, expect, it } from "vitest";

const quiet = { info() {}, warn() {}, debug() {} };

/** A quiz export no built-in adapter knows: `{ q, steps: string[], final }`. */
function quizAdapter(version = "1", priority = 50): SourceAdapter {
  return {
    name: "quiz",
    version,
    description: "quiz export: q + steps + final",
    signature: ["q", "steps", "final"],
    priority,
    matches: (fields) => fields.has("q") && fields.has("steps") && fields.has("final"),
    adapt(record, ctx) {
      const q = requireString(record, "q");
      if (!q.ok) return q;
      const steps = record.steps;
      if (steps === undefined) return missingField("steps", "a list of strings");
      if (!Array.isArray(steps) || !steps.every((s) => typeof s === "string")) return wrongType("steps", "a list of strings", steps);
      const final = String(record.final);
      const reasoning = steps.join("\n");
      return {
        ok: true,
        sample: { source: ctx.source, prompt: q.value, reasoning, response: `${reasoning}\n\nThe answer is $\\boxed{${final}}$.`, answer: final, gold: final, meta: baseMeta("quiz", ctx, { tags: ["quiz"] }) },
      };
    },
  };
}

async function quizFile(): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), "infialign-user-adapter-"));
  const file = join(dir, "quiz.jsonl");
  const rows = [
    { q: "What is 3 + 4?", steps: ["Add 3 and 4."], final: 7 },
    { q: "What is 6 * 7?", steps: ["Multiply.", "6 * 7 = 42."], final: 42 },
    { q: "Broken", steps: "not a list", final: 1 },
  ];
  await writeFile(file, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
  return { dir, file };
}

async function run(dir: string, file: string, adapters: SourceAdapter[]) {
  return runPipeline({ name: "quiz", runsDir: join(dir, "runs"), source: { files: await resolveInputs(file) }, stages: [normalizeStage({ adapters })], logger: quiet, progress: false });
}

describe("a user-defined SourceAdapter", () => {
  it("is detected from the fields, maps records and rejects bad ones with its own reasons", async () => {
    const { dir, file } = await quizFile();
    const result = await run(dir, file, [quizAdapter()]);
    const stage = result.stages[0]!;
    expect(stage.manifest.counts).toMatchObject({ in: 3, out: 2, rejected: 1, rejectedByReason: { wrong_type: 1 } });
    expect(stage.manifest.stats).toMatchObject({ adapters: { quiz: 2 } });
    const samples: Sample[] = [];
    for await (const s of readShards(stage.manifest.shards, stage.dir)) samples.push(s as Sample);
    expect(samples.map((s) => [s.prompt, s.answer, s.meta.adapter, s.meta.tags])).toEqual([
      ["What is 3 + 4?", "7", "quiz", ["quiz"]],
      ["What is 6 * 7?", "42", "quiz", ["quiz"]],
    ]);
    const rejects = (await readFile(join(stage.dir, "rejects.jsonl"), "utf8")).trim().split("\n");
    expect(JSON.parse(rejects[0]!)).toMatchObject({ code: "wrong_type", field: "steps", loc: { line: 3 } });
  });

  it("can be forced by name, and without it the schema is unknown", async () => {
    const { file } = await quizFile();
    expect(normalizeStage({ adapter: "quiz", adapters: [quizAdapter()] }).params.adapter).toBe("quiz");
    expect(() => normalizeStage({ adapter: "quiz" })).toThrow(/unknown adapter "quiz"/);
    const { dir } = await quizFile();
    await expect(run(dir, file, [])).rejects.toThrow(/cannot detect the schema .*fields seen: q, steps, final.*normalizeStage\(\{ adapters: \[yourAdapter\] \}\)/s);
  });

  it("keys the stage cache on the adapter's identity: same adapter skips, a new version or priority reruns", async () => {
    const { dir, file } = await quizFile();
    const first = await run(dir, file, [quizAdapter("1")]);
    expect(first.stages[0]!.skipped).toBe(false);
    expect(first.stages[0]!.manifest.params).toMatchObject({ adapters: [{ name: "quiz", version: "1", signature: ["q", "steps", "final"], priority: 50 }] });
    expect((await run(dir, file, [quizAdapter("1")])).stages[0]!.skipped).toBe(true);
    expect((await run(dir, file, [quizAdapter("2")])).stages[0]!.skipped).toBe(false);
    expect((await run(dir, file, [quizAdapter("2", 60)])).stages[0]!.skipped).toBe(false);
    expect((await run(dir, file, [quizAdapter("2", 60)])).stages[0]!.skipped).toBe(true);
  });

  it("leaves the params of a stage without custom adapters as they were, so existing runs stay up to date", () => {
    expect(normalizeStage({}).params).not.toHaveProperty("adapters");
  });

  it("is checked before use: every problem at once, no name of a built-in adapter", () => {
    const bad = { ...quizAdapter(), name: "math", priority: Number.NaN } as SourceAdapter;
    const noParse = { ...quizAdapter(), name: "other", adapt: undefined } as unknown as SourceAdapter;
    expect(() => normalizeStage({ adapters: [bad, noParse] })).toThrow(
      /adapters\[0\] \("math"\): the name is taken by a built-in adapter[\s\S]*adapters\[0\] \("math"\): priority must be a finite number[\s\S]*adapters\[1\] \("other"\): adapt\(record, ctx\) must be a function/,
    );
    expect(() => normalizeStage({ adapters: [quizAdapter(), quizAdapter()] })).toThrow(/two adapters are named "quiz"/);
  });
});
