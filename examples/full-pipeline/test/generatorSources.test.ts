import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exactDedupStage, normalizeStage, resolveInputs, runPipeline, silentLogger } from "@infialign/data";
import { type BenchmarkItem, benchmarkSetIdentity, Decontaminator, decontamStage, resolveDecontaminatorConfig, tokenizeForMatch } from "@infialign/decontam";
import { nearDupStage, qualityStage } from "@infialign/sampling";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIFFICULTIES, DOMAIN_SPECS, DOMAINS, domainOfProblem } from "../src/generator/domains.js";
import { canonicalText } from "../src/generator/generateProblems.js";
import { DEFECT_KINDS, type DefectCounts, type DefectEntry, type HeldOutItem, resolveSourceCounts, SOURCES, type Source, type SourcesManifest, writeSources } from "../src/generator/writeSources.js";

const readLines = async (path: string) => (await readFile(path, "utf8")).split("\n").filter(Boolean);
const files = ["manifest.json", "heldout.jsonl", "dev.jsonl", "defects.jsonl", "pool/math.jsonl", "pool/messages.jsonl", "pool/teacher.jsonl"];

/** Problem text, shown solution and gold answer field of a parsed pool record, whatever its source. */
function view(record: Record<string, unknown>): { id: unknown; problem?: string; solution?: string; gold?: unknown } {
  if ("messages" in record) {
    const [user, assistant] = record.messages as { role?: string; content: string }[];
    return { id: record.id, problem: user?.content, solution: assistant?.content, gold: record.answer };
  }
  return { id: record.id, problem: record.problem as string | undefined, solution: record.solution as string | undefined, gold: record.answer };
}

const boxed = (solution: string | undefined) => /\\boxed\{([^}]*)\}$/.exec(solution ?? "")?.[1];

/** The true answer of a problem statement (prefixed or reformatted too), computed from its numbers with BigInt. */
function truth(problem: string): string {
  const [a, b] = (problem.match(/\d+/g) ?? []) as [string, string];
  const domain = domainOfProblem(problem);
  if (domain === "addition") return String(BigInt(a) + BigInt(b));
  if (domain === "subtraction") return String(BigInt(a) - BigInt(b));
  if (domain === "multiplication") return String(BigInt(a) * BigInt(b));
  if (domain === "comparison") return BigInt(a) > BigInt(b) ? a : b;
  throw new Error(`no family: ${problem}`);
}

/** Canonical text without the light-reformatting prefix. */
const bare = (problem: string) => canonicalText(problem).replace(/^(question|problem) /, "");

const cellsOf = (items: readonly HeldOutItem[]) => {
  const cells: Record<string, number> = {};
  for (const h of items) cells[`${h.domain}/${h.difficulty}`] = (cells[`${h.domain}/${h.difficulty}`] ?? 0) + 1;
  return cells;
};

describe("writeSources", () => {
  let root: string;
  let dir: string;
  let manifest: SourcesManifest;
  let defects: DefectEntry[];
  let heldOut: HeldOutItem[];
  let dev: HeldOutItem[];
  const lines = {} as Record<Source, string[]>;
  const seed = 5;
  const counts = { pool: 600, heldOut: 48, dev: 24, defects: { contaminated: 6, malformed: 4 } };
  const duplicateCopies = 6;
  const options = () => ({ seed, outDir: dir, counts, duplicateCopies });
  const defectAt = () => new Map(defects.map((d) => [`${d.file}:${d.line}`, d]));

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "pipegen-"));
    dir = join(root, "a");
    manifest = await writeSources(options());
    defects = (await readLines(join(dir, manifest.files.defects))).map((l) => JSON.parse(l));
    heldOut = (await readLines(join(dir, manifest.files.heldOut))).map((l) => JSON.parse(l));
    dev = (await readLines(join(dir, manifest.files.dev))).map((l) => JSON.parse(l));
    for (const s of SOURCES) lines[s] = await readLines(join(dir, manifest.files[s]));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("writes byte-identical files for the same seed, other files for another seed", async () => {
    await writeSources({ ...options(), outDir: join(root, "b") });
    await writeSources({ ...options(), seed: seed + 1, outDir: join(root, "c") });
    for (const f of files) {
      const a = await readFile(join(dir, f));
      expect(a.equals(await readFile(join(root, "b", f))), f).toBe(true);
      expect(a.equals(await readFile(join(root, "c", f))), f).toBe(false);
    }
  });

  it("counts what it wrote: the manifest agrees with the files and the defect log", async () => {
    expect(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"))).toEqual(manifest);
    expect(manifest.version).toBe(2);
    expect(manifest.seed).toBe(seed);
    const expected = resolveSourceCounts({ seed, counts, duplicateCopies });
    expect(expected.defects).toEqual({ exactDuplicates: 24, nearDuplicates: 12, answerless: 6, malformed: 4, contaminated: 6 });
    expect(manifest.counts.defects).toEqual({ ...expected.defects, wrongSolutions: manifest.counts.teacher.wrong });
    expect(manifest.counts).toMatchObject({ pool: 600, heldOut: 48, dev: 24 });
    expect(heldOut).toHaveLength(48);
    expect(dev).toHaveLength(24);

    let records = 0;
    const total = Object.fromEntries(DEFECT_KINDS.map((k) => [k, 0])) as DefectCounts;
    for (const s of SOURCES) {
      expect(lines[s], s).toHaveLength(manifest.counts.perSource[s]);
      records += lines[s].length;
      for (const kind of DEFECT_KINDS) {
        const logged = defects.filter((d) => d.file === manifest.files[s] && d.kind === kind).length;
        expect(logged, `${s} ${kind}`).toBe(manifest.counts.defectsPerSource[s][kind]);
        total[kind] += logged;
      }
    }
    expect(total).toEqual(manifest.counts.defects);
    expect(defects.every((d) => (Object.values(manifest.files) as string[]).includes(d.file) && d.file.startsWith("pool/"))).toBe(true);
    expect(new Set(defects.map((d) => `${d.file}:${d.line}`)).size).toBe(defects.length);
    expect(records).toBe(manifest.counts.records);
    // Teacher-worked problems are pool problems; every other defect comes on top of the pool.
    const sum = (o: Record<string, number | undefined>) => Object.values(o).reduce((a: number, b) => a + (b ?? 0), 0);
    expect(records).toBe(manifest.counts.pool + sum(manifest.counts.defects) - manifest.counts.defects.wrongSolutions);
    expect(manifest.counts.perSource.teacher).toBe(manifest.counts.teacher.wrong + manifest.counts.teacher.unaffected);
    expect(manifest.counts.teacher.wrong).toBeGreaterThan(0);
    expect(manifest.counts.teacher.unaffected).toBeGreaterThan(0);
    expect(sum(manifest.counts.poolByDomain)).toBe(manifest.counts.pool);
    expect(sum(manifest.counts.poolByDifficulty)).toBe(manifest.counts.pool);
    expect(Object.keys(manifest.counts.poolByDifficulty)).toEqual(["2", "3", "4"]);
    // The pool is skewed the default way: addition dominates, easy items dominate.
    expect(manifest.counts.poolByDomain.addition).toBeGreaterThan(0.5 * manifest.counts.pool);
    expect(manifest.counts.poolByDifficulty[2]).toBeGreaterThan(manifest.counts.poolByDifficulty[4] ?? 0);
    const heldOutDomains: Record<string, number> = {};
    for (const h of heldOut) heldOutDomains[h.domain] = (heldOutDomains[h.domain] ?? 0) + 1;
    expect(manifest.counts.heldOutByDomain).toEqual(heldOutDomains);
    expect(manifest.counts.heldOutByDifficulty).toEqual({ 2: 16, 3: 16, 4: 16 });
    expect(manifest.flaws).toEqual({ addition: DOMAIN_SPECS.addition.flaw, subtraction: DOMAIN_SPECS.subtraction.flaw, multiplication: DOMAIN_SPECS.multiplication.flaw });
  });

  it("every logged defect sits on a line that is what its kind says", () => {
    const held = new Map(heldOut.map((h) => [h.id, h]));
    const parsed = (d: DefectEntry) => JSON.parse(lines[SOURCES.find((s) => manifest.files[s] === d.file) as Source][d.line - 1] as string) as Record<string, unknown>;
    const line = (d: DefectEntry) => lines[SOURCES.find((s) => manifest.files[s] === d.file) as Source][d.line - 1] as string;
    const kinds = new Set<string>();
    const variants = new Set<string>();
    for (const d of defects) {
      kinds.add(d.kind);
      if (d.variant) variants.add(`${d.kind}/${d.variant}`);
      expect(line(d), `${d.file}:${d.line}`).toBeDefined();
      if (d.kind === "exactDuplicates" || d.kind === "nearDuplicates") {
        expect(d.of).toBe(d.problemId);
        expect(d.file).not.toBe(manifest.files.teacher);
        const source = SOURCES.find((s) => manifest.files[s] === d.file) as Source;
        // The clean original: the only non-defect line of that id, in the same file and before the copy.
        const originals = lines[source].flatMap((l, i) => (!defectAt().has(`${d.file}:${i + 1}`) && (JSON.parse(l) as { id: string }).id === d.of ? [i + 1] : []));
        expect(originals, `${d.file}:${d.line}`).toHaveLength(1);
        const at = originals[0] as number;
        expect(at).toBeLessThan(d.line);
        const original = lines[source][at - 1] as string;
        if (d.kind === "exactDuplicates") expect(line(d)).toBe(original);
        else {
          const copy = view(parsed(d));
          const orig = view(JSON.parse(original));
          expect(copy.problem).not.toBe(orig.problem);
          expect(tokenizeForMatch(copy.problem as string)).toEqual(tokenizeForMatch(orig.problem as string));
          expect(copy.solution).toBe(orig.solution);
          expect(copy.id).toBe(`${d.of}-n`);
        }
      } else if (d.kind === "answerless") {
        const v = view(parsed(d));
        expect(v.solution).toBeDefined();
        expect(v.solution).not.toMatch(/\\boxed/);
        expect(v.gold).toBeUndefined();
        expect("answer" in parsed(d)).toBe(false);
      } else if (d.kind === "malformed") {
        if (d.variant === "broken-json") expect(() => JSON.parse(line(d)), line(d)).toThrow();
        else {
          expect(d.variant).toBe("missing-field");
          const record = parsed(d);
          const missing = "messages" in record ? (record.messages as Record<string, unknown>[]).some((m) => !("role" in m) || !("content" in m)) : !("problem" in record) || !("solution" in record);
          expect(missing, line(d)).toBe(true);
        }
      } else if (d.kind === "contaminated") {
        const h = held.get(d.problemId) as HeldOutItem;
        expect(h, d.problemId).toBeDefined();
        const v = view(parsed(d));
        expect(bare(v.problem as string)).toBe(canonicalText(h.problem));
        if (d.variant === "verbatim") expect(v.problem).toBe(h.problem);
        else {
          expect(d.variant).toBe("reformatted");
          expect(v.problem).not.toBe(h.problem);
        }
        expect(v.gold).toBe(h.answer);
      } else {
        expect(d.kind).toBe("wrongSolutions");
        expect(d.file).toBe(manifest.files.teacher);
        const v = view(parsed(d));
        expect(boxed(v.solution), v.solution).toBeDefined();
        expect(boxed(v.solution)).not.toBe(v.gold);
        expect(v.gold).toBe(truth(v.problem as string));
      }
    }
    expect([...kinds].sort()).toEqual([...DEFECT_KINDS].sort());
    expect([...variants].sort()).toEqual(["contaminated/reformatted", "contaminated/verbatim", "malformed/broken-json", "malformed/missing-field"]);
  });

  it("lines outside the defect log are correct: clean records, and teacher records whose flaw does not show", () => {
    const at = defectAt();
    let clean = 0;
    for (const s of SOURCES) {
      lines[s].forEach((l, i) => {
        if (at.has(`${manifest.files[s]}:${i + 1}`)) return;
        const record = JSON.parse(l) as Record<string, unknown>;
        const v = view(record);
        const answer = truth(v.problem as string);
        expect(v.gold, l).toBe(answer);
        expect(boxed(v.solution), l).toBe(answer);
        if (s !== "messages") expect(record).toMatchObject({ type: domainOfProblem(v.problem as string), level: expect.stringMatching(/^Level [234]$/) });
        clean++;
      });
      // Every pool record states its problem as the generator does (families, difficulty = digits).
      for (const l of lines[s]) {
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(l);
        } catch {
          continue;
        }
        const problem = view(record).problem;
        if (problem !== undefined) expect(domainOfProblem(problem), problem).toBeDefined();
      }
    }
    expect(clean).toBe(manifest.counts.pool - manifest.counts.teacher.wrong);
    // Teacher lines are flawed (carries or borrows dropped), never a clean copy of a math/messages record.
    for (const l of lines.teacher) {
      const v = view(JSON.parse(l));
      expect(v.solution).not.toMatch(/[+-][1-9]=\d+\n/);
    }
  });

  it("held-out and dev are balanced over families × difficulties and disjoint from each other and from the pool", () => {
    const cells = DOMAINS.flatMap((d) => DIFFICULTIES.map((l) => `${d}/${l}`));
    expect(cellsOf(heldOut)).toEqual(Object.fromEntries(cells.map((c) => [c, 48 / cells.length])));
    expect(cellsOf(dev)).toEqual(Object.fromEntries(cells.map((c) => [c, 24 / cells.length])));
    for (const h of [...heldOut, ...dev]) {
      expect(h.answer, h.problem).toBe(truth(h.problem));
      expect(domainOfProblem(h.problem)).toBe(h.domain);
    }
    expect(dev.every((d) => d.id.startsWith("dev-"))).toBe(true);
    const heldKeys = new Set(heldOut.map((h) => canonicalText(h.problem)));
    const devKeys = new Set(dev.map((h) => canonicalText(h.problem)));
    expect(heldKeys.size).toBe(48);
    expect(devKeys.size).toBe(24);
    for (const k of devKeys) expect(heldKeys.has(k), k).toBe(false);
    const contaminated = new Set(defects.filter((d) => d.kind === "contaminated").map((d) => `${d.file}:${d.line}`));
    let copies = 0;
    for (const s of SOURCES) {
      lines[s].forEach((l, i) => {
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(l);
        } catch {
          return;
        }
        const problem = view(record).problem;
        if (problem === undefined) return;
        const key = bare(problem);
        expect(devKeys.has(key), problem).toBe(false);
        if (heldKeys.has(key)) {
          expect(contaminated.has(`${manifest.files[s]}:${i + 1}`), problem).toBe(true);
          copies++;
        }
      });
    }
    expect(copies).toBe(manifest.counts.defects.contaminated);
  });

  it("leakedHeldOut lists exactly the held-out problems copied into the pool", () => {
    const ids = defects.filter((d) => d.kind === "contaminated").map((d) => d.problemId);
    expect(manifest.leakedHeldOut).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(ids.length);
    const held = new Set(heldOut.map((h) => h.id));
    for (const id of ids) expect(held.has(id), id).toBe(true);
  });

  it("the curation stages reject exactly the injected defects, stage by stage", async () => {
    const items: BenchmarkItem[] = heldOut.map((h) => ({ benchmark: "heldout", id: h.id, text: h.problem }));
    const config = resolveDecontaminatorConfig();
    const result = await runPipeline({
      name: "funnel",
      runsDir: join(root, "runs"),
      source: { files: await resolveInputs(SOURCES.map((s) => join(dir, manifest.files[s]))) },
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
    expect(c["near-dup"]?.out).toBe(manifest.counts.pool - d.wrongSolutions);
    const rejects = (await readLines(join(result.runDir, "normalize", "rejects.jsonl"))).map((l) => JSON.parse(l) as { loc: { file: string; line: number } });
    const where = rejects.map((r) => `${r.loc.file.slice(dir.length + 1)}:${r.loc.line}`).sort();
    const logged = defects.filter((x) => x.kind === "malformed" || x.kind === "answerless").map((x) => `${x.file}:${x.line}`).sort();
    expect(where).toEqual(logged);
  });

  it("follows the composition: no flawed share, no teacher records", async () => {
    const m = await writeSources({ seed: 3, outDir: join(root, "noteacher"), counts: { pool: 200, heldOut: 12, dev: 12 }, composition: { flawedShare: { addition: 0, subtraction: 0, multiplication: 0 } } });
    expect(m.counts.perSource.teacher).toBe(0);
    expect(m.counts.defects.wrongSolutions).toBe(0);
    expect(m.counts.teacher).toEqual({ wrong: 0, unaffected: 0 });
    expect(await readFile(join(root, "noteacher", m.files.teacher), "utf8")).toBe("");
    const only = await writeSources({ seed: 3, outDir: join(root, "onlysub"), counts: { pool: 200, heldOut: 12, dev: 12 }, composition: { domainWeights: { addition: 0, multiplication: 0, comparison: 0 } } });
    expect(only.counts.poolByDomain).toEqual({ subtraction: 200 });
  });

  it("rejects invalid counts, naming each", async () => {
    const bad = join(root, "bad");
    await expect(writeSources({ seed: -1, outDir: bad, counts: { pool: 10, heldOut: 2, defects: { contaminated: 3, exactDuplicates: 20, nearDuplicates: 9 } }, duplicateCopies: 5 })).rejects.toThrow(
      /seed must be an integer in \[0, 2\^32\) \(got -1\).*exactDuplicates \/ duplicateCopies \+ nearDuplicates exceeds counts.pool \(10\).*counts.defects.contaminated \(3\) exceeds the held-out size \(2\)/,
    );
    expect(() => resolveSourceCounts({ seed: 2 ** 32 })).toThrow(/seed must be an integer/);
    expect(() => resolveSourceCounts({ seed: 1.5 })).toThrow(/seed must be an integer/);
    expect(() => resolveSourceCounts({ seed: 1, counts: { pool: -1 } })).toThrow(/counts.pool must be a whole number ≥ 0 \(got -1\)/);
    expect(() => resolveSourceCounts({ seed: 1, counts: { heldOut: 2.5 } })).toThrow(/counts.heldOut must be a whole number ≥ 0 \(got 2.5\)/);
    expect(() => resolveSourceCounts({ seed: 1, counts: { dev: Number.NaN } })).toThrow(/counts.dev must be a whole number/);
    expect(() => resolveSourceCounts({ seed: 1, counts: { defects: { answerless: -2 } } })).toThrow(/counts.defects.answerless must be a whole number ≥ 0 \(got -2\)/);
    expect(() => resolveSourceCounts({ seed: 1, duplicateCopies: 0 })).toThrow(/duplicateCopies must be a whole number ≥ 1 \(got 0\)/);
    // Every problem at once, in one message.
    expect(() => resolveSourceCounts({ seed: -1, counts: { pool: -1, dev: -1 }, duplicateCopies: 0 })).toThrow(/writeSources: invalid options \(seed.*; counts.pool.*; counts.dev.*; duplicateCopies/);
    // Defaults: a 3000-problem pool, defect counts from the default rates.
    expect(resolveSourceCounts({ seed: 0 })).toEqual({
      pool: 3000,
      heldOut: 1008,
      dev: 240,
      duplicateCopies: 25,
      defects: { exactDuplicates: 120, nearDuplicates: 60, answerless: 30, malformed: 15, contaminated: 15 },
    });
  });
});
