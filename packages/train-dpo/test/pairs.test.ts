import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSample, type RejectEntry, resolveInputs, runPipeline, type Sample } from "@infialign/data";
import type { Judge } from "@infialign/verify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { exportLlamaFactoryDpo } from "../src/export/llamafactory.js";
import { resolvePairConfig } from "../src/pairs/config.js";
import { type PreferenceRecord, pairConstructionStage, promptMessages } from "../src/pairs/pairStage.js";
import { readPreferenceRecords } from "../src/pairs/readPairs.js";
import { ngramRepetition } from "../src/pairs/repetition.js";
import type { ResponseSampler, SampledResponse, SampleRequest } from "../src/pairs/samplers.js";
import { defaultVerifier } from "../src/pairs/verifier.js";

const quiet = { info() {}, warn() {}, debug() {} };
const loop = `${"so we add the numbers again and again ".repeat(30)}\\boxed{4}`;

/** Scripted SFT model: fixed responses per prompt text, by sample index; records what it was asked. */
function scriptedSampler(script: Record<string, Array<string | SampledResponse>>, failAfter?: { n: number }): ResponseSampler & { asked: Array<{ prompt: string; indices: number[] }> } {
  const asked: Array<{ prompt: string; indices: number[] }> = [];
  return {
    id: "scripted:v1",
    asked,
    async sample({ messages, indices, onSample }: SampleRequest) {
      const prompt = messages.at(-1)!.content;
      asked.push({ prompt, indices: [...indices] });
      const out: SampledResponse[] = [];
      for (const i of indices) {
        if (failAfter && failAfter.n-- <= 0) throw new Error("simulated sampler crash");
        const s = script[prompt]?.[i];
        if (s === undefined) throw new Error(`no scripted response ${i} for ${prompt}`);
        const r = typeof s === "string" ? { text: s, finishReason: "stop" } : s;
        await onSample?.(i, r);
        out.push(r);
      }
      return out;
    },
  };
}

const sample = (prompt: string, gold: string | undefined, response: string | undefined): Sample =>
  makeSample({ source: "test", prompt, ...(gold !== undefined && { gold }), ...(response !== undefined && { response }) });

// k = 4, band [0.25, 0.75]: 1 to 3 correct of 4.
const inputs: Sample[] = [
  sample("p-pair", "5", "2 + 3 = 5, so \\boxed{5}"),
  sample("p-easy", "1", "\\boxed{1}"),
  sample("p-hard", "2", "\\boxed{2}"),
  sample("p-badchosen", "8", "I conclude \\boxed{9}"),
  sample("p-nogold", undefined, "\\boxed{3}"),
  sample("p-clean", "4", "Adding gives \\boxed{4}"),
  sample("p-skip", "7", "Seven: \\boxed{7}"),
];
const script: Record<string, Array<string | SampledResponse>> = {
  "p-pair": ["\\boxed{5}", "I get \\boxed{6}", "\\boxed{5}", "\\boxed{7}"],
  "p-easy": ["\\boxed{1}", "\\boxed{1}", "\\boxed{1}", "\\boxed{1}"],
  "p-hard": ["\\boxed{3}", "\\boxed{4}", "\\boxed{5}", "\\boxed{6}"],
  "p-badchosen": [],
  "p-nogold": [],
  // 2 correct; both incorrect ones are truncated → no candidate survives, code "truncated".
  "p-clean": ["\\boxed{4}", { text: "Adding gives \\boxed{3}", finishReason: "length" }, "\\boxed{4}", { text: "and so", finishReason: "length" }],
  // 1 correct; index 1 answerless, index 2 degenerate loop, index 3 usable.
  "p-skip": ["\\boxed{7}", "I am not sure how to finish this.", loop.replace("\\boxed{4}", "\\boxed{8}"), "Seven minus one: \\boxed{6}"],
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "dpo-pairs-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeInputs(samples: Sample[]) {
  const path = join(dir, "samples.jsonl");
  await writeFile(path, `${samples.map((s) => JSON.stringify(s)).join("\n")}\n`);
  return resolveInputs(path);
}

async function readJsonl<T>(path: string): Promise<T[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

async function outputs(runDir: string): Promise<PreferenceRecord[]> {
  const files = (await readdir(join(runDir, "dpo-pairs"))).filter((f) => f.startsWith("part-")).sort();
  return (await Promise.all(files.map((f) => readJsonl<PreferenceRecord>(join(runDir, "dpo-pairs", f))))).flat();
}

describe("pair construction stage", () => {
  it("builds pairs, rejects every dropped prompt with a reason, and the counts add up", async () => {
    const files = await writeInputs(inputs);
    const sampler = scriptedSampler(script);
    const stage = pairConstructionStage({ k: 4, passRateBand: [0.25, 0.75], concurrency: 2 }, { sampler });
    const result = await runPipeline({ name: "run", runsDir: dir, source: { files, decode: "samples" }, stages: [stage], logger: quiet, progress: false });
    const m = result.stages[0]!.manifest;
    expect(m.counts).toMatchObject({ in: 7, out: 2, rejected: 5 });
    expect(m.counts.rejectedByReason).toEqual({ too_easy: 1, too_hard: 1, chosen_unverified: 1, missing_gold: 1, truncated: 1 });
    // Prompts rejected before sampling never reach the sampler.
    expect(sampler.asked.map((a) => a.prompt).sort()).toEqual(["p-clean", "p-easy", "p-hard", "p-pair", "p-skip"]);

    const pairs = await outputs(result.runDir);
    const byPrompt = new Map(pairs.map((p) => [p.prompt.at(-1)!.content, p]));
    const pair = byPrompt.get("p-pair")!;
    expect(pair.prompt).toEqual([{ role: "user", content: "p-pair" }]);
    expect(pair.chosen).toEqual([{ role: "assistant", content: "2 + 3 = 5, so \\boxed{5}" }]);
    expect(pair.rejected).toEqual([{ role: "assistant", content: "I get \\boxed{6}" }]);
    expect(pair.meta).toMatchObject({ pass_rate: 0.5, k: 4, k_correct: 2, rejected_index: 1, gold: "5", sampler: "scripted:v1" });
    expect(pair.meta.verifier.chosen.correct).toBe(true);
    expect(pair.meta.verifier.samples.map((s) => s.correct)).toEqual([true, false, true, false]);

    const skip = byPrompt.get("p-skip")!;
    expect(skip.rejected[0]!.content).toBe("Seven minus one: \\boxed{6}");
    expect(skip.meta.rejected_index).toBe(3);
    expect(skip.meta.pass_rate).toBe(0.25);
    expect(skip.meta.verifier.samples.map((s) => s.dropped)).toEqual([undefined, "no_answer", "degenerate_repetition", undefined]);

    const rejects = await readJsonl<RejectEntry>(join(result.runDir, "dpo-pairs", "rejects.jsonl"));
    expect(rejects).toHaveLength(5);
    const clean = rejects.find((r) => r.code === "truncated")!;
    expect(clean.message).toMatch(/no incorrect response survived cleaning \(truncated=2\)/);
    expect((clean.record as { pairs: { samples: Array<{ dropped?: string }> } }).pairs.samples.map((s) => s.dropped)).toEqual([undefined, "truncated", undefined, "truncated"]);
    expect(rejects.find((r) => r.code === "chosen_unverified")!.message).toMatch(/does not verify against gold "8" \(unequal, answered "9"\)/);
    for (const r of rejects) expect(r.stage).toBe("dpo-pairs");

    // The finished stage reads back validated, straight into the LLaMA-Factory export.
    const read: PreferenceRecord[] = [];
    for await (const r of readPreferenceRecords(join(result.runDir, "dpo-pairs"))) read.push(r);
    expect(read).toEqual(pairs);
    const exported = await exportLlamaFactoryDpo(readPreferenceRecords(join(result.runDir, "dpo-pairs")), join(dir, "lf"), { modelNameOrPath: "sft" });
    expect(exported.records).toBe(2);
  });

  it("readPreferenceRecords fails clearly on an unfinished stage", async () => {
    const iterate = async () => {
      for await (const _ of readPreferenceRecords(join(dir, "nope"))) {
        // unreachable
      }
    };
    await expect(iterate()).rejects.toThrow(/manifest.json is missing or unreadable; the pair stage has not finished/);
  });

  it("persists samples as they arrive: after a crash, a rerun draws only the missing ones", async () => {
    const files = await writeInputs([inputs[0]!, inputs[6]!]);
    const cacheDir = join(dir, "samples-cache");
    const crashing = scriptedSampler(script, { n: 6 });
    const run = (sampler: ResponseSampler) =>
      runPipeline({
        name: "run",
        runsDir: dir,
        source: { files, decode: "samples" },
        stages: [pairConstructionStage({ k: 4, passRateBand: [0.25, 0.75], concurrency: 1 }, { sampler, cacheDir })],
        logger: quiet,
        progress: false,
      });
    await expect(run(crashing)).rejects.toThrow("simulated sampler crash");
    const fresh = scriptedSampler(script);
    const result = await run(fresh);
    // 4 of the first prompt and 2 of the second were persisted before the crash.
    expect(fresh.asked).toEqual([{ prompt: "p-skip", indices: [2, 3] }]);
    expect(result.stages[0]!.manifest.counts).toMatchObject({ in: 2, out: 2 });
    expect(result.stages[0]!.manifest.counters).toMatchObject({ samples_cached: 6, samples_drawn: 2 });

    const again = scriptedSampler(script);
    await runPipeline({
      name: "run2",
      runsDir: dir,
      source: { files, decode: "samples" },
      stages: [pairConstructionStage({ k: 4, passRateBand: [0.25, 0.75] }, { sampler: again, cacheDir })],
      logger: quiet,
      progress: false,
    });
    expect(again.asked).toEqual([]);
  });

  it("gates the chosen response on an LLM judge", async () => {
    const files = await writeInputs([inputs[0]!, inputs[6]!]);
    const judge: Judge = {
      async scoreRubric(prompt) {
        const score = prompt === "p-pair" ? 8 : 3;
        return { score, passed: score >= 7, samples: [score], parseFailures: 0, requestErrors: 0 };
      },
      async comparePair() {
        throw new Error("unused");
      },
    };
    const stage = pairConstructionStage({ k: 4, passRateBand: [0.25, 0.75] }, { sampler: scriptedSampler(script), judge });
    const result = await runPipeline({ name: "judge", runsDir: dir, source: { files, decode: "samples" }, stages: [stage], logger: quiet, progress: false });
    expect(result.stages[0]!.manifest.counts.rejectedByReason).toEqual({ judge_failed: 1 });
    const [pair] = await outputs(result.runDir);
    expect(pair!.meta.judge).toEqual({ score: 8, samples: [8] });
  });

  it("drops identical pairs and extreme length ratios", async () => {
    const chosen = "We compute carefully: 10 / 2 = 5. \\boxed{5}";
    const s = sample("p-ratio", "5", chosen);
    // The verifier is injected: it calls the first two responses incorrect although one equals the chosen text.
    const files = await writeInputs([s]);
    const sampler = scriptedSampler({ "p-ratio": [chosen, `${Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ")} \\boxed{6}`, "\\boxed{5}", "\\boxed{5}"] });
    let calls = 0;
    const verifier = (_gold: string, text: string) => ({ correct: calls++ === 0 || text === "\\boxed{5}", reason: "scripted" });
    const stage = pairConstructionStage({ k: 4, passRateBand: [0.25, 0.75], maxLengthRatio: 4 }, { sampler, verifier });
    const result = await runPipeline({ name: "ratio", runsDir: dir, source: { files, decode: "samples" }, stages: [stage], logger: quiet, progress: false });
    const rejects = await readJsonl<RejectEntry>(join(result.runDir, "dpo-pairs", "rejects.jsonl"));
    expect(rejects.map((r) => r.code)).toEqual(["identical_pair"]);
    const samples = (rejects[0]!.record as { pairs: { samples: Array<{ dropped?: string }> } }).pairs.samples;
    expect(samples.map((x) => x.dropped)).toEqual(["identical_pair", "length_ratio", undefined, undefined]);
  });
});

describe("helpers", () => {
  it("ngramRepetition: a 4-word passage three times with n = 4 repeats 5 of 9 n-grams", () => {
    expect(ngramRepetition("a b c d a b c d a b c d", 4)).toBeCloseTo(5 / 9, 12);
    expect(ngramRepetition("one two three four five six seven eight nine ten", 2)).toBe(0);
    expect(ngramRepetition("too short", 8)).toBe(0);
    expect(ngramRepetition(loop, 8)).toBeGreaterThan(0.8);
  });

  it("promptMessages: system + templated prompt, or the conversation without trailing assistant turns", () => {
    const s = makeSample({ source: "t", prompt: "Q?", system: "Be brief." });
    expect(promptMessages(s, { promptTemplate: "{prompt}\nPut the answer in \\boxed{}." })).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Q?\nPut the answer in \\boxed{}." },
    ]);
    const conv = makeSample({ source: "t", prompt: "Q2", messages: [{ role: "user", content: "Q1" }, { role: "assistant", content: "A1" }, { role: "user", content: "Q2" }, { role: "assistant", content: "A2" }] });
    expect(promptMessages(conv, { promptTemplate: "{prompt}" }).map((m) => m.content)).toEqual(["Q1", "A1", "Q2"]);
  });

  it("resolvePairConfig reports every invalid field", () => {
    expect(() => resolvePairConfig({ k: 0, passRateBand: [0.8, 0.2], promptTemplate: "no placeholder" })).toThrow(/k:[\s\S]*promptTemplate: must contain "\{prompt\}"/);
    expect(() => resolvePairConfig({ passRateBand: [0.8, 0.2] })).toThrow(/passRateBand: min must not exceed max/);
    expect(resolvePairConfig({}).passRateBand).toEqual([0.125, 0.75]);
  });
});

describe("defaultVerifier", () => {
  it("uses verifyChoice when the sample lists options, verifyMath otherwise", () => {
    const mc = makeSample({ source: "t", prompt: "Pick one", gold: "C", meta: { options: ["red", "green", "blue", "black"] } });
    expect(defaultVerifier("C", "The answer is (C).", mc)).toMatchObject({ correct: true, extracted: "C" });
    expect(defaultVerifier("C", "The answer is (B).", mc)).toMatchObject({ correct: false, reason: "unequal", extracted: "B" });
    const math = makeSample({ source: "t", prompt: "Half of 1?", gold: "\\frac{1}{2}" });
    expect(defaultVerifier("\\frac{1}{2}", "so \\boxed{0.5}", math)).toMatchObject({ correct: true });
    expect(defaultVerifier("\\frac{1}{2}", "I give up.", math)).toMatchObject({ correct: false, reason: "no_answer" });
  });
});
