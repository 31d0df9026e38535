import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Decontaminator } from "@infialign/decontam";
import { createRng, type Rng } from "@infialign/kernels";
import { DOMAIN_SPECS, DOMAINS, type Domain } from "./domains.js";
import { answerLine, canonicalText, generateProblems, type Problem } from "./generateProblems.js";
import { lightlyReformat, reformat } from "./rewrite.js";

/**
 * The pool's sources, each one file: two clean sources in two schemas (MATH-style, OpenAI messages) and a "teacher"
 * source whose worked solutions a weaker teacher wrote with a systematic procedural error (MATH-style, with the
 * dataset's own gold answer beside it, so verification can tell).
 */
export const SOURCES = ["math", "messages", "teacher"] as const;
export type Source = (typeof SOURCES)[number];

export const DEFECT_KINDS = ["exactDuplicates", "nearDuplicates", "wrongSolutions", "answerless", "malformed", "contaminated"] as const;
export type DefectKind = (typeof DEFECT_KINDS)[number];
export type DefectCounts = Record<DefectKind, number>;

/**
 * Defects per clean pool problem when `counts.defects` leaves a kind out. `wrongSolutions` is not a rate: it is what
 * the teacher's flaw produces (see `flawedShare`). Exact duplicates repeat a few problems many times
 * (`duplicateCopies` each), over-weighting them.
 */
export const DEFAULT_DEFECT_RATES: Readonly<Omit<DefectCounts, "wrongSolutions">> = Object.freeze({
  exactDuplicates: 0.04,
  nearDuplicates: 0.02,
  answerless: 0.01,
  malformed: 0.005,
  contaminated: 0.005,
});

/** The raw pool's shape: one family dominates, easy items dominate (real pools look like this). */
export const DEFAULT_COMPOSITION = Object.freeze({
  domainWeights: Object.freeze({ addition: 0.6, subtraction: 0.14, multiplication: 0.13, comparison: 0.13 }) as Readonly<Record<Domain, number>>,
  difficultyWeights: Object.freeze({ 2: 0.5, 3: 0.3, 4: 0.2 }) as Readonly<Record<number, number>>,
  /** Share of each family's pool problems that only the flawed teacher worked. */
  flawedShare: Object.freeze({ addition: 0.25, subtraction: 0.5, multiplication: 0.6, comparison: 0 }) as Readonly<Record<Domain, number>>,
});

export interface SourceCounts {
  /** Distinct problems in the training pool (clean or flawed; defects come on top). @default 3000 */
  pool?: number;
  /** Held-out evaluation problems, balanced over families × difficulties. @default 1008 */
  heldOut?: number;
  /** Development problems for tuning (never the held-out split), balanced like it. @default 240 */
  dev?: number;
  defects?: Partial<Omit<DefectCounts, "wrongSolutions">>;
}

export interface WriteSourcesOptions {
  /** Seed of problems, splits, source assignment and defects (integer in [0, 2^32)). */
  seed: number;
  /** Folder written: `pool/{math,messages,teacher}.jsonl`, `heldout.jsonl`, `dev.jsonl`, `defects.jsonl`, `manifest.json`. */
  outDir: string;
  counts?: SourceCounts;
  /** Copies of each exactly duplicated problem. @default 25 */
  duplicateCopies?: number;
  composition?: Partial<{ domainWeights: Partial<Record<Domain, number>>; difficultyWeights: Record<number, number>; flawedShare: Partial<Record<Domain, number>> }>;
}

/** One line of `heldout.jsonl` / `dev.jsonl`. */
export interface HeldOutItem {
  id: string;
  problem: string;
  answer: string;
  domain: Domain;
  difficulty: number;
}

/** One line of `defects.jsonl`: where an injected defect lies, record by record. */
export interface DefectEntry {
  /** File relative to `outDir`. */
  file: string;
  /** 1-based line number. */
  line: number;
  kind: DefectKind;
  /** Generated problem behind the record (the held-out item's id for `contaminated`). */
  problemId: string;
  /** For duplicates and near-duplicates: the id of the clean record it copies. */
  of?: string;
  /** `contaminated`: "verbatim" or "reformatted"; `malformed`: "broken-json" or "missing-field". */
  variant?: string;
}

type Tally = Record<string, number>;

/** `manifest.json`: the ground truth the report compares its funnel against. Paths are relative to `outDir`. */
export interface SourcesManifest {
  version: 2;
  seed: number;
  files: Record<Source, string> & { heldOut: string; dev: string; defects: string };
  counts: {
    /** Distinct pool problems (clean + teacher-worked). */
    pool: number;
    heldOut: number;
    dev: number;
    /** Lines in the pool files together (problems + defects). */
    records: number;
    perSource: Record<Source, number>;
    defects: DefectCounts;
    defectsPerSource: Record<Source, DefectCounts>;
    /** Teacher-worked problems whose flaw changes the answer (= wrongSolutions) and whose flaw does not show. */
    teacher: { wrong: number; unaffected: number };
    poolByDomain: Tally;
    poolByDifficulty: Tally;
    heldOutByDomain: Tally;
    heldOutByDifficulty: Tally;
  };
  /** Held-out ids copied into the pool (the contamination check compares them with the rest). */
  leakedHeldOut: string[];
  /** The teacher's flaw per family. */
  flaws: Partial<Record<Domain, string>>;
}

const FILES: SourcesManifest["files"] = {
  math: "pool/math.jsonl",
  messages: "pool/messages.jsonl",
  teacher: "pool/teacher.jsonl",
  heldOut: "heldout.jsonl",
  dev: "dev.jsonl",
  defects: "defects.jsonl",
};

interface Entry {
  line: string;
  kind: DefectKind | "clean" | "teacher";
  problemId: string;
  /** Record id, for originals that a copy refers to. */
  id?: string;
  of?: string;
  variant?: string;
}

/** What a record says. `final` undefined = no final answer line; `gold` undefined = no answer field. */
interface RecordText {
  id: string;
  problem: string;
  steps: string[];
  final?: string;
  gold?: string;
  domain: Domain;
  difficulty: number;
}

function toRecord(source: Source, r: RecordText): Record<string, unknown> {
  const solution = [...r.steps, ...(r.final === undefined ? [] : [answerLine(r.final)])].join("\n");
  const gold = r.gold === undefined ? {} : { answer: r.gold };
  if (source === "messages") {
    return {
      id: r.id,
      messages: [
        { role: "user", content: r.problem },
        { role: "assistant", content: solution },
      ],
      ...gold,
    };
  }
  return { id: r.id, problem: r.problem, solution, ...gold, level: `Level ${r.difficulty}`, type: r.domain };
}

function cleanText(p: Problem, problem = p.problem, id = p.id): RecordText {
  return { id, problem, steps: p.steps, final: p.answer, gold: p.answer, domain: p.domain, difficulty: p.difficulty };
}

function tally<T>(items: readonly T[], by: (item: T) => string): Tally {
  const out: Tally = {};
  for (const key of items.map(by).sort()) out[key] = (out[key] ?? 0) + 1;
  return out;
}

function shuffle<T>(rng: Rng, items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

/** Resolves counts once and reports every invalid option at once. */
export function resolveSourceCounts(options: Pick<WriteSourcesOptions, "seed" | "counts" | "duplicateCopies">): {
  pool: number;
  heldOut: number;
  dev: number;
  duplicateCopies: number;
  defects: Omit<DefectCounts, "wrongSolutions">;
} {
  const pool = options.counts?.pool ?? 3000;
  const heldOut = options.counts?.heldOut ?? 1008;
  const dev = options.counts?.dev ?? 240;
  const duplicateCopies = options.duplicateCopies ?? 25;
  const kinds = DEFECT_KINDS.filter((k) => k !== "wrongSolutions") as Exclude<DefectKind, "wrongSolutions">[];
  const defects = Object.fromEntries(kinds.map((k) => [k, options.counts?.defects?.[k] ?? Math.round(pool * DEFAULT_DEFECT_RATES[k])])) as Omit<DefectCounts, "wrongSolutions">;
  const problems: string[] = [];
  const whole = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 0) problems.push(`${name} must be a whole number ≥ 0 (got ${v})`);
  };
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed >= 2 ** 32) problems.push(`seed must be an integer in [0, 2^32) (got ${options.seed})`);
  whole("counts.pool", pool);
  whole("counts.heldOut", heldOut);
  whole("counts.dev", dev);
  if (!Number.isInteger(duplicateCopies) || duplicateCopies < 1) problems.push(`duplicateCopies must be a whole number ≥ 1 (got ${duplicateCopies})`);
  for (const k of kinds) whole(`counts.defects.${k}`, defects[k]);
  if (Math.ceil(defects.exactDuplicates / duplicateCopies) + defects.nearDuplicates > pool) {
    problems.push(`counts.defects: exactDuplicates / duplicateCopies + nearDuplicates exceeds counts.pool (${pool}): each copies a distinct pool problem`);
  }
  if (defects.contaminated > heldOut) problems.push(`counts.defects.contaminated (${defects.contaminated}) exceeds the held-out size (${heldOut}): each copies a distinct held-out problem`);
  if (problems.length) throw new Error(`[infialign/example-full-pipeline] writeSources: invalid options (${problems.join("; ")})`);
  return { pool, heldOut, dev, duplicateCopies, defects };
}

/**
 * Writes the embedded task world: a balanced held-out split, a balanced dev split for tuning, and a raw pool with the
 * defects curation exists for — one family is 60% of it, easy items dominate, a teacher source makes a systematic
 * procedural error, a few problems are repeated many times, near duplicates, answerless and malformed records, and
 * copies of held-out problems. Same seed and options → byte-identical files. Returns the manifest it writes.
 *
 * Where a correct curation catches each defect: malformed and answerless records at normalize, exact duplicates at
 * exact dedup, held-out copies at decontamination, the teacher's wrong answers at verification against the gold
 * answer (`answer_mismatch`), near duplicates (same words and numbers, other surface) at MinHash near-dup.
 */
export async function writeSources(options: WriteSourcesOptions): Promise<SourcesManifest> {
  const { pool: poolSize, heldOut: heldOutSize, dev: devSize, duplicateCopies, defects } = resolveSourceCounts(options);
  const composition = {
    domainWeights: { ...DEFAULT_COMPOSITION.domainWeights, ...options.composition?.domainWeights },
    difficultyWeights: options.composition?.difficultyWeights ?? DEFAULT_COMPOSITION.difficultyWeights,
    flawedShare: { ...DEFAULT_COMPOSITION.flawedShare, ...options.composition?.flawedShare },
  };
  // Evaluation splits first, exactly balanced; the pool (and the fresh problems behind answerless/malformed records)
  // never repeats them. Separate seeds per split so that changing one size leaves the others alone.
  const heldOut = generateProblems({ seed: options.seed, count: heldOutSize });
  const dev = generateProblems({ seed: (options.seed ^ 0x2545f491) >>> 0, count: devSize, exclude: new Set(heldOut.map((p) => canonicalText(p.problem))) });
  const taken = new Set([...heldOut, ...dev].map((p) => canonicalText(p.problem)));
  const fresh = defects.answerless + defects.malformed;
  const drawn = generateProblems({ seed: (options.seed ^ 0x68e31da4) >>> 0, count: poolSize + fresh, domainWeights: composition.domainWeights, difficultyWeights: composition.difficultyWeights, exclude: taken });
  // Curation's decontamination matches more loosely than equal canonical text; leave out anything it would tie to an
  // evaluation problem, so that it removes exactly the injected copies.
  const guard = await Decontaminator.build([...heldOut, ...dev].map((p) => ({ benchmark: "heldout", id: p.id, text: p.problem })));
  const usable = drawn.filter((p) => !guard.check(p.problem).contaminated);
  const pool = usable.slice(0, poolSize);
  const spare = usable.slice(poolSize, poolSize + fresh);
  if (pool.length < poolSize || spare.length < fresh) throw new Error(`[infialign/example-full-pipeline] writeSources: only ${usable.length} distinct problems left after decontamination (${poolSize + fresh} needed); lower counts.pool.`);

  // A separate stream from the problems', so changing a defect count leaves the problems alone.
  const rng = createRng((options.seed ^ 0x5bd1e995) >>> 0);
  const entries: Record<Source, Entry[]> = { math: [], messages: [], teacher: [] };
  const cleanOf: { source: Source; problem: Problem; entry: Entry }[] = [];
  const teacher = { wrong: 0, unaffected: 0 };
  for (const p of pool) {
    if (p.flawed && rng.nextFloat() < (composition.flawedShare[p.domain] ?? 0)) {
      const shows = p.flawed.answer !== p.answer;
      const record = toRecord("teacher", { ...cleanText(p), steps: p.flawed.steps, final: p.flawed.answer });
      entries.teacher.push({ line: JSON.stringify(record), kind: shows ? "wrongSolutions" : "teacher", problemId: p.id, id: p.id });
      if (shows) teacher.wrong++;
      else teacher.unaffected++;
      continue;
    }
    const source: Source = rng.nextInt(2) === 0 ? "math" : "messages";
    const entry: Entry = { line: JSON.stringify(toRecord(source, cleanText(p))), kind: "clean", problemId: p.id, id: p.id };
    entries[source].push(entry);
    cleanOf.push({ source, problem: p, entry });
  }

  // Distinct originals for copies, so each copy has exactly one kept original.
  const originals = [...cleanOf];
  shuffle(rng, originals);
  let next = 0;
  for (let i = 0; i < defects.exactDuplicates; i += duplicateCopies) {
    const o = originals[next++] as (typeof originals)[number];
    for (let c = 0; c < Math.min(duplicateCopies, defects.exactDuplicates - i); c++) entries[o.source].push({ line: o.entry.line, kind: "exactDuplicates", problemId: o.problem.id, of: o.problem.id });
  }
  for (let i = 0; i < defects.nearDuplicates; i++) {
    const o = originals[next++] as (typeof originals)[number];
    const line = JSON.stringify(toRecord(o.source, cleanText(o.problem, reformat(o.problem.problem), `${o.problem.id}-n`)));
    entries[o.source].push({ line, kind: "nearDuplicates", problemId: o.problem.id, of: o.problem.id });
  }

  let s = 0;
  const take = () => spare[s++] as Problem;
  const cleanSource = (): Source => (rng.nextInt(2) === 0 ? "math" : "messages");
  for (let i = 0; i < defects.answerless; i++) {
    const p = take();
    const source = cleanSource();
    const { final: _final, gold: _gold, ...text } = cleanText(p);
    entries[source].push({ line: JSON.stringify(toRecord(source, text)), kind: "answerless", problemId: p.id });
  }
  for (let i = 0; i < defects.malformed; i++) {
    const p = take();
    const source = cleanSource();
    const record = toRecord(source, cleanText(p));
    const variant = i % 2 === 0 ? "broken-json" : "missing-field";
    let line: string;
    if (variant === "broken-json") {
      // A proper prefix of a JSON object never parses: its closing brace is gone.
      const full = JSON.stringify(record);
      line = full.slice(0, Math.floor(full.length * 0.6));
    } else if (source === "math") {
      const { problem: _problem, ...rest } = record;
      line = JSON.stringify(rest);
    } else {
      line = JSON.stringify({ ...record, messages: [{ content: p.problem }, { role: "assistant", content: p.solution }] });
    }
    entries[source].push({ line, kind: "malformed", problemId: p.id, variant });
  }
  const contaminators = [...heldOut];
  shuffle(rng, contaminators);
  const leaked: string[] = [];
  for (let i = 0; i < defects.contaminated; i++) {
    const h = contaminators[i] as Problem;
    const source = cleanSource();
    const variant = i % 2 === 0 ? "verbatim" : "reformatted";
    const problem = variant === "verbatim" ? h.problem : lightlyReformat(rng, h.problem);
    entries[source].push({ line: JSON.stringify(toRecord(source, cleanText(h, problem, `${h.id}-c`))), kind: "contaminated", problemId: h.id, variant });
    leaked.push(h.id);
  }

  const defectLog: DefectEntry[] = [];
  const perSource = {} as Record<Source, number>;
  const defectsPerSource = {} as Record<Source, DefectCounts>;
  await mkdir(join(options.outDir, dirname(FILES.math)), { recursive: true });
  for (const source of SOURCES) {
    const list = entries[source];
    shuffle(rng, list);
    // Copies come after their original, so streaming dedup keeps the clean one.
    const at = new Map<string, number>();
    list.forEach((e, i) => {
      if (e.kind === "clean" && !at.has(e.id as string)) at.set(e.id as string, i);
    });
    for (let i = 0; i < list.length; i++) {
      const e = list[i] as Entry;
      if (e.of === undefined) continue;
      const j = at.get(e.of) as number;
      if (j > i) {
        list[i] = list[j] as Entry;
        list[j] = e;
        at.set(e.of, i);
      }
    }
    const counts = Object.fromEntries(DEFECT_KINDS.map((k) => [k, 0])) as DefectCounts;
    list.forEach((e, i) => {
      if (e.kind === "clean" || e.kind === "teacher") return;
      counts[e.kind]++;
      defectLog.push({ file: FILES[source], line: i + 1, kind: e.kind, problemId: e.problemId, ...(e.of ? { of: e.of } : {}), ...(e.variant ? { variant: e.variant } : {}) });
    });
    perSource[source] = list.length;
    defectsPerSource[source] = counts;
    await writeFile(join(options.outDir, FILES[source]), list.map((e) => `${e.line}\n`).join(""));
  }

  const item = (p: Problem): HeldOutItem => ({ id: p.id, problem: p.problem, answer: p.answer, domain: p.domain, difficulty: p.difficulty });
  await writeFile(join(options.outDir, FILES.heldOut), heldOut.map((p) => `${JSON.stringify(item(p))}\n`).join(""));
  await writeFile(join(options.outDir, FILES.dev), dev.map((p) => `${JSON.stringify({ ...item(p), id: `dev-${p.id}` })}\n`).join(""));
  await writeFile(join(options.outDir, FILES.defects), defectLog.map((d) => `${JSON.stringify(d)}\n`).join(""));
  const manifest: SourcesManifest = {
    version: 2,
    seed: options.seed,
    files: { ...FILES },
    counts: {
      pool: pool.length,
      heldOut: heldOut.length,
      dev: dev.length,
      records: SOURCES.reduce((n, k) => n + perSource[k], 0),
      perSource,
      defects: { ...defects, wrongSolutions: teacher.wrong },
      defectsPerSource,
      teacher,
      poolByDomain: tally(pool, (p) => p.domain),
      poolByDifficulty: tally(pool, (p) => String(p.difficulty)),
      heldOutByDomain: tally(heldOut, (p) => p.domain),
      heldOutByDifficulty: tally(heldOut, (p) => String(p.difficulty)),
    },
    leakedHeldOut: leaked.sort(),
    flaws: Object.fromEntries(DOMAINS.flatMap((d) => (DOMAIN_SPECS[d].flaw ? [[d, DOMAIN_SPECS[d].flaw]] : []))),
  };
  await writeFile(join(options.outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

