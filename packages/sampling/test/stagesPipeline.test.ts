import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSample, resolveInputs, runPipeline, type Sample, silentLogger } from "@infialign/data";
import { afterAll, describe, expect, it } from "vitest";
import { nearDupStage } from "../src/select/stages/nearDupStage.js";
import { qualityStage } from "../src/select/stages/qualityStage.js";
import { selectStage } from "../src/select/stages/selectStage.js";

const dir = mkdtempSync(join(tmpdir(), "select-e2e-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VOCAB = "add subtract multiply divide factor expand simplify square root cube term side angle base height prime modulo remainder digit sum product ratio both sides carefully then hence thus note check".split(" ");
// Varied pseudo-random prose (seeded LCG), so that good responses are not themselves repetitive.
function steps(n: number, topic: string, seed: number): string {
  let x = seed * 2654435761 + 1;
  const word = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return VOCAB[x % VOCAB.length];
  };
  return Array.from({ length: n }, (_, i) => `Step ${i + 1} (${topic}): ${Array.from({ length: 9 }, word).join(" ")}.`).join("\n");
}

// A small canonical pool: good records in three domains with varied response lengths, plus
// wrong answers, answerless, truncated, empty and looping responses, and near-duplicate prompts.
function buildPool(): { pool: Sample[]; expected: Record<string, number> } {
  const pool: Sample[] = [];
  const subjects = { algebra: "equation", geometry: "triangle", "number theory": "divisor" } as const;
  for (const [domain, topic] of Object.entries(subjects)) {
    for (let i = 0; i < 12; i++) {
      const prompt = `Question ${i} about the ${topic}: compute the value of expression ${domain} ${i * 11 + 5} and give the exact result with a proof sketch.`;
      pool.push(makeSample({ source: "pool", domain, prompt, response: `${steps(2 + ((i * 5) % 9), topic, i * 31 + topic.length)}\nSo the answer is \\boxed{${i}}.`, gold: String(i) }));
    }
  }
  const bad = [
    makeSample({ source: "pool", domain: "algebra", prompt: "Wrong answer problem: what is two plus two in the usual arithmetic?", response: "Two plus two is \\boxed{5}.", gold: "4" }),
    makeSample({ source: "pool", domain: "algebra", prompt: "Answerless problem: what is three plus three in the usual arithmetic?", response: "It is six, obviously.", gold: "6" }),
    makeSample({ source: "pool", domain: "geometry", prompt: "Truncated problem: how many sides does a hexagon have in total?", response: "<think>Let me count the sides one", gold: "6" }),
    makeSample({ source: "pool", domain: "geometry", prompt: "Empty problem: how many sides does a pentagon have in total?", response: " ", gold: "5" }),
    makeSample({
      source: "pool",
      domain: "number theory",
      prompt: "Looping problem: what is the remainder of ten divided by three?",
      response: `${"Wait, let me recompute the remainder of ten divided by three again.\n".repeat(30)}\\boxed{1}`,
      gold: "1",
    }),
  ];
  // Near-duplicates of kept records: a word appended to the prompt (estimated Jaccard ≈ 0.95).
  const near = [0, 13, 26].map((i) => {
    const s = pool[i]!;
    return makeSample({ source: "pool", domain: s.domain, prompt: `${s.prompt} Thanks`, response: s.response, gold: s.gold });
  });
  return {
    pool: [...pool, ...bad, ...near],
    expected: { answer_mismatch: 1, missing_final_answer: 1, truncated: 1, no_response: 1, repetition: 1 },
  };
}

describe("qualityStage → nearDupStage → selectStage in runPipeline", () => {
  it("accounts for every record, gives reasons, meets the budget and skips on rerun", async () => {
    const { pool, expected } = buildPool();
    const input = join(dir, "pool.jsonl");
    writeFileSync(input, `${pool.map((s) => JSON.stringify(s)).join("\n")}\n`);
    const reportPath = join(dir, "selection-report.json");
    const stages = () => [qualityStage(), nearDupStage(), selectStage({ budget: 15, reportPath })];
    const files = await resolveInputs(input);
    const run = () => runPipeline({ name: "e2e", runsDir: dir, source: { files, decode: "samples" }, stages: stages(), logger: silentLogger, progress: false, seed: 3 });
    const first = await run();
    const [quality, nearDup, select] = first.stages.map((s) => s.manifest.counts);
    for (const c of [quality!, nearDup!, select!]) expect(c.in).toBe(c.out + c.rejected + c.deduplicated);
    expect(quality!.in).toBe(pool.length);
    expect(quality!.rejectedByReason).toEqual(expected);
    expect(nearDup!.deduplicated).toBe(3);
    expect(nearDup!.out).toBe(36);
    expect(select!.out).toBe(15);
    expect(select!.rejected).toBe(21);
    expect(Object.keys(select!.rejectedByReason).every((r) => r === "over_domain_quota" || r === "over_cluster_quota")).toBe(true);
    const report = JSON.parse(readFileSync(reportPath, "utf8"));
    expect(report.budget).toMatchObject({ asked: 15, achieved: 15, pool: 36 });
    expect(report.difficulty.tokenizer).toBe("qwen2.5");
    expect(report.domains.map((d: { after: number }) => d.after)).toEqual([5, 5, 5]);
    expect(existsSync(join(first.runDir, "select"))).toBe(true);

    const again = await run();
    expect(again.stages.map((s) => s.skipped)).toEqual([true, true, true]);
  });
});
