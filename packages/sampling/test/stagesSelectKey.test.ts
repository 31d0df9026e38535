import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChatResponse, canonicalJson, makeSample, resolveInputs, runPipeline, type Sample, silentLogger } from "@infialign/data";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_KEYWORD_RULES, KeywordLabeler, KnnLabeler, LlmLabeler } from "../src/domain/index.js";
import { HashingEmbedder } from "../src/embed/index.js";
import { type SelectStageOptions, selectStage } from "../src/select/stages/selectStage.js";

const dir = mkdtempSync(join(tmpdir(), "select-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const topics = ["solve the linear equation", "area of the triangle", "remainder modulo seven", "probability of two dice"];
const pool: Sample[] = topics.flatMap((t, ti) =>
  [0, 1, 2, 3, 4, 5].map((v) => makeSample({ source: "pool", prompt: `Problem ${v}: ${t} number ${ti * 6 + v}`, response: `${"step ".repeat(5 + ((v * 7 + ti) % 11))}\\boxed{${v}}` })),
);
const wsTokenizer = { name: "ws", count: (t: string) => t.split(/\s+/).filter(Boolean).length };
const base: SelectStageOptions = { budget: 8, tokenizer: wsTokenizer };
const keyOf = (options: SelectStageOptions) => canonicalJson(selectStage(options).params);

const chat = (model: string) => ({ model, endpoint: "http://localhost:8000/v1/chat/completions", chat: async () => ({ choices: [{ content: "other", finishReason: "stop" }] }) as unknown as ChatResponse });
const seedSet = (domain: "math/algebra" | "math/geometry") => [{ text: "a polygon with equal sides", domain }];
const embedder = { id: "const:2", dim: 2, embed: async (texts: readonly string[]) => Float32Array.from(texts.flatMap((t) => (t.includes("area") ? [1, 0] : [0, 1]))) };

// Every option that changes what the stage outputs, each changed alone.
const variants: Record<string, () => Promise<SelectStageOptions>> = {
  budget: async () => ({ ...base, budget: 9 }),
  domainQuotas: async () => ({ ...base, domainQuotas: "proportional" }),
  clusterAllocation: async () => ({ ...base, clusterAllocation: "proportional" }),
  order: async () => ({ ...base, order: "random" }),
  seed: async () => ({ ...base, seed: 5 }),
  k: async () => ({ ...base, k: 2 }),
  "k per domain": async () => ({ ...base, k: { "math/algebra": 2 } }),
  "kmeans.maxIter": async () => ({ ...base, kmeans: { maxIter: 3 } }),
  "kmeans.engine": async () => ({ ...base, kmeans: { engine: "js" } }),
  "kmeans.nInit": async () => ({ ...base, kmeans: { nInit: 2 } }),
  embedder: async () => ({ ...base, embedder }),
  tokenizer: async () => ({ ...base, tokenizer: { name: "characters", count: (t: string) => t.length } }),
  buckets: async () => ({ ...base, buckets: 3 }),
  domainOf: async () => ({ ...base, domainOf: { id: "first-word-v1", label: (s: Sample) => s.prompt.split(" ")[0] } }),
  "labelOptions.keywords (other rules)": async () => ({ ...base, labelOptions: { keywords: new KeywordLabeler({ rules: DEFAULT_KEYWORD_RULES.slice(1) }) } }),
  "labelOptions.keywords (other threshold)": async () => ({ ...base, labelOptions: { keywords: new KeywordLabeler({ minScore: 2 }) } }),
  "labelOptions.keywords: false": async () => ({ ...base, labelOptions: { keywords: false } }),
  "labelOptions.llm": async () => ({ ...base, labelOptions: { llm: new LlmLabeler(chat("model-a")) } }),
  "labelOptions.knn": async () => ({ ...base, labelOptions: { knn: await KnnLabeler.build(seedSet("math/geometry"), new HashingEmbedder({ dim: 16 })) } }),
  "labelOptions.embedder": async () => ({ ...base, labelOptions: { embedder: new HashingEmbedder({ dim: 16 }) } }),
  "labelOptions.useResponse": async () => ({ ...base, labelOptions: { useResponse: false } }),
};

describe("selectStage's key (params hashed into the manifest)", () => {
  it("changes with every option that changes the output, and not with a rebuilt equal one", async () => {
    const keys = new Map<string, string>([["base", keyOf(base)]]);
    for (const [name, make] of Object.entries(variants)) {
      const key = keyOf(await make());
      const same = [...keys].find(([, k]) => k === key);
      expect(same?.[0], `${name} has the key of ${same?.[0]}`).toBeUndefined();
      keys.set(name, key);
      expect(keyOf(await make()), `${name} rebuilt`).toBe(key);
    }
    // What does not change the output does not change the key.
    expect(keyOf({ ...base, kmeans: { threads: 1 } })).toBe(keys.get("base"));
    expect(keyOf({ ...base, reportPath: join(dir, "r.json"), labelOptions: { signal: new AbortController().signal } })).toBe(keys.get("base"));
    expect(keyOf({ ...base, labelOptions: { keywords: new KeywordLabeler() } })).toBe(keys.get("base"));
    // Labelers are told apart by what they are, not by the instance.
    expect(keyOf({ ...base, labelOptions: { llm: new LlmLabeler(chat("model-a")) } })).not.toBe(keyOf({ ...base, labelOptions: { llm: new LlmLabeler(chat("model-b")) } }));
    expect(keyOf({ ...base, labelOptions: { llm: new LlmLabeler(chat("model-a"), { maxChars: 100 }) } })).not.toBe(keys.get("labelOptions.llm"));
    const knnA = await KnnLabeler.build(seedSet("math/algebra"), new HashingEmbedder({ dim: 16 }));
    expect(keyOf({ ...base, labelOptions: { knn: knnA } })).not.toBe(keys.get("labelOptions.knn"));
    expect(keyOf({ ...base, labelOptions: { embedder: new HashingEmbedder({ dim: 16 }), k: 3 } })).not.toBe(keys.get("labelOptions.embedder"));
  });

  it("refuses an LLM labeler whose client it cannot identify, and takes a clientId", () => {
    const anonymous = { chat: chat("x").chat };
    expect(() => selectStage({ ...base, labelOptions: { llm: new LlmLabeler(anonymous) } })).toThrow(/\[infialign\/sampling\] select: the LLM labeler's client names no model.*clientId/);
    const a = selectStage({ ...base, labelOptions: { llm: new LlmLabeler(anonymous, { clientId: "my-labeler-v1" }) } });
    expect(a.params.labeler.llm).toMatch(/^llm:my-labeler-v1:/);
  });

  it("in runPipeline: an unchanged rerun is skipped, a changed option (the labeler among them) reruns", async () => {
    const input = join(dir, "pool.jsonl");
    writeFileSync(input, `${pool.map((s) => JSON.stringify(s)).join("\n")}\n`);
    const files = await resolveInputs(input);
    const run = (name: string, options: SelectStageOptions) =>
      runPipeline({ name, runsDir: dir, source: { files, decode: "samples" }, stages: [selectStage(options)], logger: silentLogger, progress: false, seed: 1 });
    const first = await run("base", base);
    expect(first.stages[0]!.manifest.counts.out).toBe(8);
    expect((await run("base", base)).stages[0]!.skipped).toBe(true);
    for (const [name, make] of Object.entries(variants)) {
      const runName = `v-${name.replace(/[^a-z]+/gi, "-")}`;
      await run(runName, base);
      expect((await run(runName, await make())).stages[0]!.skipped, name).toBe(false);
    }
    // Swapping the labeler changes the selection itself: every prompt is "other" without keywords.
    const other = await run("no-keywords", { ...base, labelOptions: { keywords: false } });
    expect(other.stages[0]!.manifest.stats.domains).not.toEqual(first.stages[0]!.manifest.stats.domains);
  });
});
