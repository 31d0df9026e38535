import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Decontaminator, estimateJaccard, LshIndex, MinHasher } from "@infialign/decontam";
import { createRng, type Rng } from "@infialign/kernels";
import type { Domain } from "./domains.js";
import { answerLine, generateProblems, type Problem } from "./generateProblems.js";
import { lightlyReformat, rewordSibling } from "./rewrite.js";

/** The three source schemas of the pool, each one file. */
export const SCHEMAS = ["math", "gsm8k", "messages"] as const;
export type Schema = (typeof SCHEMAS)[number];

export const DEFECT_KINDS = ["exactDuplicates", "nearDuplicates", "wrongSolutions", "answerless", "malformed", "contaminated"] as const;
export type DefectKind = (typeof DEFECT_KINDS)[number];
export type DefectCounts = Record<DefectKind, number>;

/**
 * Injected defects per clean pool problem, used when `counts.defects` leaves a kind out.
 * At the default pool of 3,000: 90 / 90 / 90 / 60 / 45 / 30.
 */
export const DEFAULT_DEFECT_RATES: Readonly<DefectCounts> = Object.freeze({
  exactDuplicates: 0.03,
  nearDuplicates: 0.03,
  wrongSolutions: 0.03,
  answerless: 0.02,
  malformed: 0.015,
  contaminated: 0.01,
});

export interface SourceCounts {
  /** Clean, distinct problems in the training pool (what a perfect curation keeps). @default 3000 */
  pool?: number;
  /** Held-out evaluation problems; overrides `heldOutFraction`. @default round(pool × heldOutFraction) */
  heldOut?: number;
  /** Injected defects by kind. @default round(pool × DEFAULT_DEFECT_RATES[kind]) */
  defects?: Partial<DefectCounts>;
}

export interface WriteSourcesOptions {
  /** Seed of problems, split, schema assignment and defects (integer in [0, 2^32)). */
  seed: number;
  /** Folder written: `pool/{math,gsm8k,messages}.jsonl`, `heldout.jsonl`, `defects.jsonl`, `manifest.json`. */
  outDir: string;
  counts?: SourceCounts;
  /** Held-out problems per clean pool problem, when `counts.heldOut` is absent. @default 0.05 */
  heldOutFraction?: number;
  /** Families to draw from. @default every domain */
  domains?: readonly Domain[];
  /** Difficulty levels allowed. @default [1, 2, 3, 4, 5] */
  difficulties?: readonly number[];
}

/** One line of `heldout.jsonl`. */
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

/** `manifest.json`: the ground truth the pipeline report compares its funnel against. Paths are relative to `outDir`. */
export interface SourcesManifest {
  version: 1;
  seed: number;
  files: Record<Schema, string> & { heldOut: string; defects: string };
  counts: {
    /** Clean distinct pool problems. */
    pool: number;
    heldOut: number;
    /** Lines in the three pool files together (clean + defects). */
    records: number;
    /** Lines per pool file. */
    perSchema: Record<Schema, number>;
    defects: DefectCounts;
    defectsPerSchema: Record<Schema, DefectCounts>;
    /** Clean pool problems per domain and per difficulty (keys "1"-"5"): the composition before curation. */
    poolByDomain: Partial<Record<Domain, number>>;
    poolByDifficulty: Record<string, number>;
    heldOutByDomain: Partial<Record<Domain, number>>;
    heldOutByDifficulty: Record<string, number>;
  };
}

const FILES: SourcesManifest["files"] = {
  math: "pool/math.jsonl",
  gsm8k: "pool/gsm8k.jsonl",
  messages: "pool/messages.jsonl",
  heldOut: "heldout.jsonl",
  defects: "defects.jsonl",
};

// Schemas whose records carry a gold answer apart from the solution: only there can a wrong solution be told from a right one.
const GOLD_SCHEMAS: readonly Schema[] = ["math", "messages"];

interface Entry {
  line: string;
  kind: DefectKind | "clean";
  problemId: string;
  /** Record id (the `id` field), for originals that a copy refers to. */
  id?: string;
  of?: string;
  variant?: string;
}

/** What a record says: its problem, its solution lines, the `\boxed{}` final answer it shows, and its gold `answer` field. */
interface RecordText {
  id: string;
  problem: string;
  steps: string[];
  final?: string;
  gold?: string;
  domain: Domain;
  difficulty: number;
}

function toRecord(schema: Schema, r: RecordText): Record<string, unknown> {
  if (schema === "gsm8k") {
    return { id: r.id, question: r.problem, answer: [...r.steps, ...(r.final === undefined ? [] : [`#### ${r.final}`])].join("\n") };
  }
  const solution = [...r.steps, ...(r.final === undefined ? [] : [answerLine(r.final)])].join("\n");
  const gold = r.gold === undefined ? {} : { answer: r.gold };
  if (schema === "math") return { id: r.id, problem: r.problem, solution, ...gold, level: `Level ${r.difficulty}`, type: r.domain };
  return {
    id: r.id,
    messages: [
      { role: "user", content: r.problem },
      { role: "assistant", content: solution },
    ],
    ...gold,
  };
}

function cleanText(p: Problem, problem = p.problem, id = p.id): RecordText {
  return { id, problem, steps: p.steps, final: p.answer, gold: p.answer, domain: p.domain, difficulty: p.difficulty };
}

/**
 * Estimated MinHash Jaccard above which two clean problems would be too alike. The near-dup
 * stage's estimate is deterministic (same hasher, same seed), so with its default threshold
 * (≈ 0.72) no clean pair is merged; the margin covers other band settings.
 */
export const MAX_POOL_SIMILARITY = 0.6;

/**
 * The first `count` problems, in order, whose MinHash signature (default config, as the
 * near-dup stage computes it over the prompt) has estimated Jaccard < MAX_POOL_SIMILARITY
 * with every problem taken before: templated siblings differing in one number at a sentence
 * edge would otherwise be merged by near-dup removal and blur the ground truth.
 */
async function distinctToMinHash(problems: readonly Problem[], count: number): Promise<Problem[]> {
  const hasher = await MinHasher.create();
  const index = new LshIndex(hasher.config);
  const signatures: Uint32Array[] = [];
  const out: Problem[] = [];
  for (const p of problems) {
    if (out.length >= count) break;
    const sig = hasher.signature(p.problem);
    if (index.query(sig).some((j) => estimateJaccard(sig, signatures[j] as Uint32Array) >= MAX_POOL_SIMILARITY)) continue;
    index.add(signatures.length, sig);
    signatures.push(sig);
    out.push(p);
  }
  return out;
}

/**
 * The first `count` generated problems split into held-out (the first `heldOutSize`), clean
 * pool and the rest (fresh problems for defects). The clean pool holds nothing the default
 * decontaminator ties to a held-out problem (e.g. the same price change on another item) and
 * no pair the default near-dup stage would merge, so those stages should remove exactly the
 * injected defects.
 */
async function drawSplit(options: WriteSourcesOptions, count: number, heldOutSize: number, poolSize: number) {
  const problems = generateProblems({
    seed: options.seed,
    count,
    ...(options.domains ? { domains: options.domains } : {}),
    ...(options.difficulties ? { difficulties: options.difficulties } : {}),
  });
  const heldOut = problems.slice(0, heldOutSize);
  const guard = await Decontaminator.build(heldOut.map((p) => ({ benchmark: "heldout", id: p.id, text: p.problem })));
  const unlikeHeldOut = problems.slice(heldOutSize).filter((p) => !guard.check(p.problem).contaminated);
  const pool = await distinctToMinHash(unlikeHeldOut, poolSize);
  const inPool = new Set(pool);
  return { drawn: count, heldOut, pool, rest: unlikeHeldOut.filter((p) => !inPool.has(p)) };
}

function tally(problems: readonly Problem[], by: (p: Problem) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of [...problems].sort((a, b) => by(a).localeCompare(by(b)))) out[by(p)] = (out[by(p)] ?? 0) + 1;
  return out;
}

function shuffle<T>(rng: Rng, items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

/** Resolves counts once and reports every invalid option at once. */
export function resolveSourceCounts(options: Pick<WriteSourcesOptions, "seed" | "counts" | "heldOutFraction">): { pool: number; heldOut: number; defects: DefectCounts } {
  const pool = options.counts?.pool ?? 3000;
  const fraction = options.heldOutFraction ?? 0.05;
  const heldOut = options.counts?.heldOut ?? Math.round(pool * fraction);
  const defects = Object.fromEntries(DEFECT_KINDS.map((k) => [k, options.counts?.defects?.[k] ?? Math.round(pool * DEFAULT_DEFECT_RATES[k])])) as DefectCounts;
  const problems: string[] = [];
  const whole = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 0) problems.push(`${name} must be a whole number ≥ 0 (got ${v})`);
  };
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed >= 2 ** 32) problems.push(`seed must be an integer in [0, 2^32) (got ${options.seed})`);
  whole("counts.pool", pool);
  whole("counts.heldOut", heldOut);
  if (!(fraction >= 0 && fraction < 1)) problems.push(`heldOutFraction must be in [0, 1) (got ${fraction})`);
  for (const k of DEFECT_KINDS) whole(`counts.defects.${k}`, defects[k]);
  if (defects.exactDuplicates + defects.nearDuplicates > pool) {
    problems.push(`counts.defects.exactDuplicates + nearDuplicates (${defects.exactDuplicates + defects.nearDuplicates}) exceeds counts.pool (${pool}): each copies a distinct clean problem`);
  }
  if (defects.contaminated > heldOut) problems.push(`counts.defects.contaminated (${defects.contaminated}) exceeds the held-out size (${heldOut}): each copies a distinct held-out problem`);
  if (problems.length) throw new Error(`[infialign/example-full-pipeline] writeSources: invalid options (${problems.join("; ")})`);
  return { pool, heldOut, defects };
}

/**
 * Writes the embedded default data set: a held-out split and a training pool spread over
 * three source schemas (MATH-style, GSM8K-style, OpenAI messages) with counted, injected
 * defects. Same seed and options → byte-identical files. Returns the manifest it writes.
 *
 * Where a correct curation catches each defect: malformed lines and answerless records at
 * normalize (`malformed_json` / `missing_field` / `wrong_type`, `missing_final_answer`),
 * exact duplicates at exact dedup, contaminated copies at decontamination against
 * `heldout.jsonl`, wrong solutions at verification (`answer_mismatch`; only in the math and
 * messages files, whose `answer` field holds the gold), near duplicates at MinHash near-dup.
 */
export async function writeSources(options: WriteSourcesOptions): Promise<SourcesManifest> {
  const { pool: poolSize, heldOut: heldOutSize, defects } = resolveSourceCounts(options);
  const fresh = defects.wrongSolutions + defects.answerless + defects.malformed;
  const needed = heldOutSize + poolSize + fresh;
  let drawn = await drawSplit(options, Math.ceil(needed * 1.1) + 20, heldOutSize, poolSize);
  // Candidates that resemble the held-out split or each other are skipped; draw more when too
  // many were (the problem stream is prefix-stable, so the result does not depend on how often).
  while (drawn.pool.length < poolSize || drawn.rest.length < fresh) drawn = await drawSplit(options, Math.ceil(drawn.drawn * 1.5), heldOutSize, poolSize);
  const { heldOut, pool, rest } = drawn;
  const spare = rest.slice(0, fresh);

  // A separate stream from the problems', so changing a defect count leaves the problems alone.
  const rng = createRng((options.seed ^ 0x5bd1e995) >>> 0);
  const entries: Record<Schema, Entry[]> = { math: [], gsm8k: [], messages: [] };
  const cleanOf: { schema: Schema; problem: Problem; entry: Entry }[] = [];
  for (const p of pool) {
    const schema = SCHEMAS[rng.nextInt(SCHEMAS.length)] as Schema;
    const entry: Entry = { line: JSON.stringify(toRecord(schema, cleanText(p))), kind: "clean", problemId: p.id, id: p.id };
    entries[schema].push(entry);
    cleanOf.push({ schema, problem: p, entry });
  }

  // Distinct originals for copies, so each copy has exactly one kept original.
  const originals = [...cleanOf];
  shuffle(rng, originals);
  let next = 0;
  for (let i = 0; i < defects.exactDuplicates; i++) {
    const o = originals[next++] as (typeof originals)[number];
    entries[o.schema].push({ line: o.entry.line, kind: "exactDuplicates", problemId: o.problem.id, of: o.problem.id });
  }
  for (let i = 0; i < defects.nearDuplicates; i++) {
    const o = originals[next++] as (typeof originals)[number];
    const reworded = rewordSibling(rng, o.problem.problem);
    const line = JSON.stringify(toRecord(o.schema, cleanText(o.problem, reworded, `${o.problem.id}-n`)));
    entries[o.schema].push({ line, kind: "nearDuplicates", problemId: o.problem.id, of: o.problem.id });
  }

  let s = 0;
  const take = () => spare[s++] as Problem;
  for (let i = 0; i < defects.wrongSolutions; i++) {
    const p = take();
    const schema = GOLD_SCHEMAS[rng.nextInt(GOLD_SCHEMAS.length)] as Schema;
    // An arithmetic slip in the last step: its result and the boxed answer are off by 1-3.
    const truth = Number(p.answer);
    const slip = 1 + rng.nextInt(3);
    const wrong = String(truth - slip >= 0 && rng.nextInt(2) === 0 ? truth - slip : truth + slip);
    const last = p.steps.at(-1) as string;
    const steps = [...p.steps.slice(0, -1), `${last.slice(0, last.lastIndexOf("= "))}= ${wrong}`];
    const record = toRecord(schema, { ...cleanText(p), steps, final: wrong });
    entries[schema].push({ line: JSON.stringify(record), kind: "wrongSolutions", problemId: p.id });
  }
  for (let i = 0; i < defects.answerless; i++) {
    const p = take();
    const schema = SCHEMAS[rng.nextInt(SCHEMAS.length)] as Schema;
    const { final: _final, gold: _gold, ...text } = cleanText(p);
    entries[schema].push({ line: JSON.stringify(toRecord(schema, text)), kind: "answerless", problemId: p.id });
  }
  for (let i = 0; i < defects.malformed; i++) {
    const p = take();
    const schema = SCHEMAS[rng.nextInt(SCHEMAS.length)] as Schema;
    const record = toRecord(schema, cleanText(p));
    let line: string;
    const variant = i % 2 === 0 ? "broken-json" : "missing-field";
    if (variant === "broken-json") {
      // A proper prefix of a JSON object never parses: its closing brace is gone.
      const full = JSON.stringify(record);
      line = full.slice(0, Math.floor(full.length * 0.6));
    } else if (schema === "math") {
      const { problem: _problem, ...rest } = record;
      line = JSON.stringify(rest);
    } else if (schema === "gsm8k") {
      const { answer: _answer, ...rest } = record;
      line = JSON.stringify(rest);
    } else {
      line = JSON.stringify({ ...record, messages: [{ content: p.problem }, { role: "assistant", content: p.solution }] });
    }
    entries[schema].push({ line, kind: "malformed", problemId: p.id, variant });
  }
  const contaminators = [...heldOut];
  shuffle(rng, contaminators);
  for (let i = 0; i < defects.contaminated; i++) {
    const h = contaminators[i] as Problem;
    const schema = SCHEMAS[rng.nextInt(SCHEMAS.length)] as Schema;
    const variant = i % 2 === 0 ? "verbatim" : "reformatted";
    const problem = variant === "verbatim" ? h.problem : lightlyReformat(rng, h.problem);
    const line = JSON.stringify(toRecord(schema, cleanText(h, problem, `${h.id}-c`)));
    entries[schema].push({ line, kind: "contaminated", problemId: h.id, variant });
  }

  const defectLog: DefectEntry[] = [];
  const perSchema = {} as Record<Schema, number>;
  const defectsPerSchema = {} as Record<Schema, DefectCounts>;
  await mkdir(join(options.outDir, dirname(FILES.math)), { recursive: true });
  for (const schema of SCHEMAS) {
    const list = entries[schema];
    shuffle(rng, list);
    // Copies come after their original, so streaming dedup keeps the clean one.
    const at = new Map<string, number>();
    list.forEach((e, i) => {
      if (e.kind === "clean") at.set(e.id as string, i);
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
      if (e.kind === "clean") return;
      counts[e.kind]++;
      defectLog.push({ file: FILES[schema], line: i + 1, kind: e.kind, problemId: e.problemId, ...(e.of ? { of: e.of } : {}), ...(e.variant ? { variant: e.variant } : {}) });
    });
    perSchema[schema] = list.length;
    defectsPerSchema[schema] = counts;
    await writeFile(join(options.outDir, FILES[schema]), list.map((e) => `${e.line}\n`).join(""));
  }

  const heldOutItems: HeldOutItem[] = heldOut.map((p) => ({ id: p.id, problem: p.problem, answer: p.answer, domain: p.domain, difficulty: p.difficulty }));
  await writeFile(join(options.outDir, FILES.heldOut), heldOutItems.map((h) => `${JSON.stringify(h)}\n`).join(""));
  await writeFile(join(options.outDir, FILES.defects), defectLog.map((d) => `${JSON.stringify(d)}\n`).join(""));
  const manifest: SourcesManifest = {
    version: 1,
    seed: options.seed,
    files: { ...FILES },
    counts: {
      pool: pool.length,
      heldOut: heldOut.length,
      records: SCHEMAS.reduce((n, k) => n + perSchema[k], 0),
      perSchema,
      defects: { ...defects },
      defectsPerSchema,
      poolByDomain: tally(pool, (p) => p.domain),
      poolByDifficulty: tally(pool, (p) => String(p.difficulty)),
      heldOutByDomain: tally(heldOut, (p) => p.domain),
      heldOutByDifficulty: tally(heldOut, (p) => String(p.difficulty)),
    },
  };
  await writeFile(join(options.outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
