import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exactDedupStage, normalizeStage, resolveInputs, runPipeline, silentLogger } from "@infialign/data";
import { type BenchmarkItem, benchmarkSetIdentity, Decontaminator, decontamStage, estimateJaccard, lshThreshold, MinHasher, resolveDecontaminatorConfig } from "@infialign/decontam";
import { nearDupStage, qualityStage } from "@infialign/sampling";
import { verifyMath } from "@infialign/verify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalText, generateProblems } from "../src/generator/generateProblems.js";
import { type DefectEntry, type HeldOutItem, resolveSourceCounts, SCHEMAS, type SourcesManifest, writeSources } from "../src/generator/writeSources.js";

const readLines = async (path: string) => (await readFile(path, "utf8")).split("\n").filter(Boolean);
const files = ["manifest.json", "heldout.jsonl", "defects.jsonl", "pool/math.jsonl", "pool/gsm8k.jsonl", "pool/messages.jsonl"];

/** Problem text and shown solution of a parsed pool record, whatever its schema. */
function view(record: Record<string, unknown>): { problem: string; solution: string; gold?: string } {
  if ("messages" in record) {
    const [user, assistant] = record.messages as { content: string }[];
    return { problem: user?.content as string, solution: assistant?.content as string, gold: record.answer as string | undefined };
  }
  if ("question" in record) return { problem: record.question as string, solution: record.answer as string };
  return { problem: record.problem as string, solution: record.solution as string, gold: record.answer as string | undefined };
}

/**
 * Runs the curation stages with default settings (decontamination against the held-out
 * split only) and checks that each stage removes exactly its kind of injected defect.
 */
async function expectFunnel(dir: string, manifest: SourcesManifest, heldOut: HeldOutItem[], defects: DefectEntry[], runsDir: string): Promise<void> {
    const items: BenchmarkItem[] = heldOut.map((h) => ({ benchmark: "heldout", id: h.id, text: h.problem }));
    const config = resolveDecontaminatorConfig();
    const result = await runPipeline({
      name: "funnel",
      runsDir,
      source: { files: await resolveInputs(SCHEMAS.map((s) => join(dir, manifest.files[s]))) },
      stages: [
        normalizeStage(),
        exactDedupStage({ key: "content" }),
        decontamStage({ decontaminator: () => Decontaminator.build(items, config), params: benchmarkSetIdentity(items, config), fields: ["prompt"] }),
        qualityStage({}),
        nearDupStage({ field: "prompt" }),
      ],
      logger: silentLogger,
      progress: false,
    });
    const c = Object.fromEntries(result.stages.map((s) => [s.name, s.manifest.counts]));
    const d = manifest.counts.defects;
    expect(c.normalize?.in).toBe(manifest.counts.records);
    expect(c.normalize?.rejected).toBe(d.malformed + d.answerless);
    expect(c.normalize?.rejectedByReason.missing_final_answer).toBe(d.answerless);
    expect(c.dedup?.deduplicated).toBe(d.exactDuplicates);
    expect(c.decontam?.rejected).toBe(d.contaminated);
    expect(c.quality?.rejected).toBe(d.wrongSolutions);
    expect(c.quality?.rejectedByReason.answer_mismatch).toBe(d.wrongSolutions);
    expect(c["near-dup"]?.deduplicated).toBe(d.nearDuplicates);
    expect(c["near-dup"]?.out).toBe(manifest.counts.pool);
    // The normalize rejects sit exactly on the logged malformed and answerless lines.
    const rejects = (await readLines(join(result.runDir, "normalize", "rejects.jsonl"))).map((l) => JSON.parse(l) as { loc: { file: string; line: number } });
    const where = rejects.map((r) => `${r.loc.file.slice(dir.length + 1)}:${r.loc.line}`).sort();
    const logged = defects.filter((x) => x.kind === "malformed" || x.kind === "answerless").map((x) => `${x.file}:${x.line}`).sort();
    expect(where).toEqual(logged);
  }

describe("writeSources", () => {
  let root: string;
  let dir: string;
  let manifest: SourcesManifest;
  let defects: DefectEntry[];
  let heldOut: HeldOutItem[];
  const seed = 5;
  const counts = { pool: 900 };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "pipegen-"));
    dir = join(root, "a");
    manifest = await writeSources({ seed, outDir: dir, counts });
    defects = (await readLines(join(dir, manifest.files.defects))).map((l) => JSON.parse(l));
    heldOut = (await readLines(join(dir, manifest.files.heldOut))).map((l) => JSON.parse(l));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("writes byte-identical files for the same seed, other files for another seed", async () => {
    await writeSources({ seed, outDir: join(root, "b"), counts });
    await writeSources({ seed: seed + 1, outDir: join(root, "c"), counts });
    for (const f of files) {
      const a = await readFile(join(dir, f));
      expect(a.equals(await readFile(join(root, "b", f))), f).toBe(true);
      if (f !== "manifest.json") expect(a.equals(await readFile(join(root, "c", f))), f).toBe(false);
    }
  });

  it("counts what it wrote: the manifest agrees with the files and the defect log", async () => {
    const expected = resolveSourceCounts({ seed, counts });
    expect(manifest.counts.defects).toEqual(expected.defects);
    expect(expected.defects).toEqual({ exactDuplicates: 27, nearDuplicates: 27, wrongSolutions: 27, answerless: 18, malformed: 14, contaminated: 9 });
    expect(manifest.counts.heldOut).toBe(45);
    expect(heldOut).toHaveLength(45);
    let records = 0;
    for (const schema of SCHEMAS) {
      const lines = await readLines(join(dir, manifest.files[schema]));
      expect(lines).toHaveLength(manifest.counts.perSchema[schema]);
      records += lines.length;
      for (const [kind, n] of Object.entries(manifest.counts.defectsPerSchema[schema])) {
        expect(defects.filter((d) => d.file === manifest.files[schema] && d.kind === kind)).toHaveLength(n);
      }
    }
    expect(records).toBe(manifest.counts.records);
    const totalDefects = Object.values(manifest.counts.defects).reduce((a, b) => a + b, 0);
    expect(records).toBe(manifest.counts.pool + totalDefects);
    const sum = (o: Record<string, number | undefined>) => Object.values(o).reduce((a: number, b) => a + (b ?? 0), 0);
    expect(sum(manifest.counts.poolByDomain)).toBe(manifest.counts.pool);
    expect(sum(manifest.counts.poolByDifficulty)).toBe(manifest.counts.pool);
    expect(Object.keys(manifest.counts.poolByDifficulty)).toEqual(["1", "2", "3", "4", "5"]);
    const heldOutDomains: Record<string, number> = {};
    for (const h of heldOut) heldOutDomains[h.domain] = (heldOutDomains[h.domain] ?? 0) + 1;
    expect(manifest.counts.heldOutByDomain).toEqual(heldOutDomains);
    expect(sum(manifest.counts.heldOutByDifficulty)).toBe(45);
    expect(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"))).toEqual(manifest);
  });

  it("clean solutions verify against their answers, wrong ones do not, answerless ones have none", async () => {
    const answers = new Map(generateProblems({ seed, count: 2000 }).map((p) => [p.id, p.answer]));
    const byLine = new Map(defects.map((d) => [`${d.file}:${d.line}`, d]));
    let clean = 0;
    for (const schema of SCHEMAS) {
      const lines = await readLines(join(dir, manifest.files[schema]));
      for (const [i, line] of lines.entries()) {
        const d = byLine.get(`${manifest.files[schema]}:${i + 1}`);
        if (d?.kind === "malformed") continue;
        const record = JSON.parse(line) as Record<string, unknown>;
        const { solution, gold } = view(record);
        const truth = answers.get(d?.problemId ?? (record.id as string)) as string;
        expect(truth).toBeDefined();
        // verifyMath reads \boxed{}; a GSM8K solution's final answer is its `#### N` line.
        const shown = schema === "gsm8k" ? `\\boxed{${/#### (.+)$/.exec(solution)?.[1] ?? ""}}` : solution;
        const verdict = verifyMath(truth, shown);
        if (d?.kind === "wrongSolutions") {
          expect(verdict.correct, solution).toBe(false);
          expect(gold).toBe(truth);
        } else if (d?.kind === "answerless") {
          // Math-Verify falls back to the last number, so look for the final-answer markers themselves.
          expect(solution).not.toMatch(/\\boxed|####/);
          expect(gold).toBeUndefined();
        } else {
          expect(verdict.correct, solution).toBe(true);
          if (schema !== "gsm8k") expect(gold).toBe(truth);
          if (!d) clean++;
        }
      }
    }
    expect(clean).toBe(manifest.counts.pool);
  });

  it("keeps held-out problems out of the clean pool; only the injected copies carry them", async () => {
    const held = new Map(heldOut.map((h) => [canonicalText(h.problem), h.id]));
    const contaminated = new Set(defects.filter((d) => d.kind === "contaminated").map((d) => `${d.file}:${d.line}`));
    let copies = 0;
    for (const schema of SCHEMAS) {
      const lines = await readLines(join(dir, manifest.files[schema]));
      for (const [i, line] of lines.entries()) {
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line);
        } catch {
          continue;
        }
        const problem = view(record).problem;
        if (problem === undefined) continue;
        const key = canonicalText(problem).replace(/^(question|problem) /, "");
        if (held.has(key)) {
          expect(contaminated.has(`${manifest.files[schema]}:${i + 1}`), problem).toBe(true);
          copies++;
        }
      }
    }
    expect(copies).toBe(manifest.counts.defects.contaminated);
  });

  it("near-duplicates are MinHash neighbours of their originals", async () => {
    const hasher = await MinHasher.create();
    const threshold = lshThreshold(hasher.config.bands, hasher.config.rowsPerBand);
    const originals = new Map<string, string>();
    const siblings: { of: string; problem: string }[] = [];
    for (const schema of SCHEMAS) {
      const lines = await readLines(join(dir, manifest.files[schema]));
      const near = new Map(defects.filter((d) => d.file === manifest.files[schema] && d.kind === "nearDuplicates").map((d) => [d.line, d]));
      for (const [i, line] of lines.entries()) {
        const d = near.get(i + 1);
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line);
        } catch {
          continue;
        }
        if (d) siblings.push({ of: d.of as string, problem: view(record).problem });
        else if (typeof record.id === "string") originals.set(record.id, view(record).problem);
      }
    }
    expect(siblings).toHaveLength(manifest.counts.defects.nearDuplicates);
    for (const s of siblings) {
      const original = originals.get(s.of) as string;
      expect(s.problem).not.toBe(original);
      expect(estimateJaccard(hasher.signature(s.problem), hasher.signature(original)), `${s.problem} | ${original}`).toBeGreaterThanOrEqual(threshold);
    }
  });

  it("the curation stages reject exactly the injected defects, stage by stage", async () => {
    await expectFunnel(dir, manifest, heldOut, defects, join(root, "runs"));
  });

  it("holds at the default size too", async () => {
    const big = join(root, "default");
    const m = await writeSources({ seed: 1, outDir: big });
    expect(m.counts).toMatchObject({ pool: 3000, heldOut: 150, records: 3405 });
    const h = (await readLines(join(big, m.files.heldOut))).map((l) => JSON.parse(l));
    const log = (await readLines(join(big, m.files.defects))).map((l) => JSON.parse(l));
    await expectFunnel(big, m, h, log, join(root, "runs-default"));
  });

  it("draws more problems when the guards skip many (one domain, one level)", async () => {
    const m = await writeSources({ seed: 2, outDir: join(root, "narrow"), counts: { pool: 400 }, domains: ["modular"], difficulties: [1] });
    expect(m.counts.pool).toBe(400);
    expect(m.counts.poolByDomain).toEqual({ modular: 400 });
    expect(m.counts.poolByDifficulty).toEqual({ 1: 400 });
  });

  it("rejects invalid counts, naming each", async () => {
    await expect(writeSources({ seed: -1, outDir: join(root, "bad"), counts: { pool: 10, heldOut: 2, defects: { contaminated: 3, exactDuplicates: 20 } } })).rejects.toThrow(
      /seed must be an integer.*exactDuplicates \+ nearDuplicates \(20\) exceeds counts.pool \(10\).*contaminated \(3\) exceeds the held-out size \(2\)/,
    );
  });
});
