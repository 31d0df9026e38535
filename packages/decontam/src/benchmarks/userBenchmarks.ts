import { type InputFile, readRecords, resolveInputs } from "@infialign/data";
import type { BenchmarkItem } from "./loadBenchmark.js";

/** One decoded record of a benchmark file with a human-readable position for errors. */
interface LocatedRecord {
  rec: Record<string, unknown>;
  where: string;
}

function fail(message: string): never {
  throw new Error(`[infialign/decontam] benchmarks: ${message}`);
}

/**
 * Reads every record of a benchmark file (JSONL, JSON, CSV or Parquet, optionally
 * gzip/zstd), throwing on the first unreadable or non-object record: a benchmark file
 * with a bad row is a broken reference set, not noise to skip.
 */
async function* readBenchmarkRecords(path: string, kind: string, expected: string): AsyncGenerator<LocatedRecord> {
  let files: InputFile[];
  try {
    files = await resolveInputs(path);
  } catch (e) {
    fail(`${kind} file "${path}" cannot be opened (${(e as Error).message})`);
  }
  let n = 0;
  for (const file of files) {
    for await (const r of readRecords(file)) {
      n++;
      const where = `${kind} file "${file.path}" ${r.loc.line !== undefined ? `line ${r.loc.line}` : `row ${r.loc.row ?? n - 1}`}`;
      if (!r.ok) {
        if (r.code === "empty_file") fail(`${kind} file "${file.path}" is empty; expected ${expected}`);
        fail(`${where}: ${r.message}`);
      }
      const rec = r.value;
      if (typeof rec !== "object" || rec === null || Array.isArray(rec)) fail(`${where} is not an object; expected ${expected}`);
      yield { rec: rec as Record<string, unknown>, where };
    }
  }
}

function fieldsSeen(rec: Record<string, unknown>): string {
  return Object.keys(rec).join(", ") || "none";
}

function requireText(loc: LocatedRecord, field: string, hint: string): string {
  const value = loc.rec[field];
  if (typeof value !== "string") {
    fail(`${loc.where} has no "${field}" ${value === undefined ? "field" : `string (got ${value === null ? "null" : typeof value})`} (fields seen: ${fieldsSeen(loc.rec)}). ${hint}`);
  }
  if (value.trim() === "") fail(`${loc.where} has an empty "${field}". ${hint}`);
  return value;
}

function requireId(loc: LocatedRecord, field: string, hint: string): string {
  const value = loc.rec[field];
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string" && value.trim() !== "") return value.trim();
  fail(`${loc.where} has no usable "${field}" id (got ${value === undefined ? "nothing" : JSON.stringify(value)}; fields seen: ${fieldsSeen(loc.rec)}). ${hint}`);
}

function optionalString(rec: Record<string, unknown>, field: string): string | undefined {
  const v = rec[field];
  return typeof v === "string" && v !== "" ? v : undefined;
}

function withoutUndefined(meta: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined));
}

const GPQA_HINT = 'Expected the official GPQA CSV (Idavidrein/gpqa, e.g. gpqa_diamond.csv) with "Question" and "Record ID" columns.';

/**
 * Loads GPQA from its official CSV (`gpqa_diamond.csv`, `gpqa_main.csv`, `gpqa_extended.csv`;
 * a JSONL/Parquet export with the same columns works too). The matched text is the
 * `Question` alone: answer options are short, often generic ("None of the above", numbers)
 * and would only add false n-gram hits; training data that copies a GPQA problem copies
 * its question. id = `Record ID`; meta keeps the domain, subdomain and correct answer.
 */
export async function loadGpqa(path: string, opts: { name?: string } = {}): Promise<BenchmarkItem[]> {
  const name = opts.name ?? "gpqa";
  const items: BenchmarkItem[] = [];
  for await (const loc of readBenchmarkRecords(path, "GPQA", "a CSV with a header row including Question, Correct Answer and Record ID")) {
    items.push({
      benchmark: name,
      id: requireId(loc, "Record ID", GPQA_HINT),
      text: requireText(loc, "Question", GPQA_HINT),
      meta: withoutUndefined({
        domain: optionalString(loc.rec, "High-level domain"),
        subdomain: optionalString(loc.rec, "Subdomain"),
        answer: optionalString(loc.rec, "Correct Answer"),
      }),
    });
  }
  return items;
}

const MMLU_PRO_HINT = 'Expected TIGER-Lab/MMLU-Pro records (JSONL or Parquet) with "question_id", "question", "options", "category".';

/**
 * Loads MMLU-Pro (`TIGER-Lab/MMLU-Pro` test or validation split, JSONL or Parquet). The
 * matched text is `question` alone, for the same reason as GPQA; the options (up to 10)
 * stay in `meta.options`. id = `question_id`; meta keeps `category`, `src` and `answer`.
 */
export async function loadMmluPro(path: string, opts: { name?: string } = {}): Promise<BenchmarkItem[]> {
  const name = opts.name ?? "mmlu-pro";
  const items: BenchmarkItem[] = [];
  for await (const loc of readBenchmarkRecords(path, "MMLU-Pro", "JSON Lines or Parquet records with question_id and question")) {
    const options = loc.rec.options;
    if (options !== undefined && options !== null && !(Array.isArray(options) && options.every((o) => typeof o === "string"))) {
      fail(`${loc.where} has "options" that is not a list of strings (got ${JSON.stringify(options).slice(0, 80)}). ${MMLU_PRO_HINT}`);
    }
    items.push({
      benchmark: name,
      id: requireId(loc, "question_id", MMLU_PRO_HINT),
      text: requireText(loc, "question", MMLU_PRO_HINT),
      meta: withoutUndefined({
        category: optionalString(loc.rec, "category"),
        src: optionalString(loc.rec, "src"),
        answer: optionalString(loc.rec, "answer"),
        options: Array.isArray(options) ? options : undefined,
      }),
    });
  }
  return items;
}

const LCB_HINT = 'Expected livecodebench/code_generation_lite JSONL records with "question_id", "question_title", "question_content".';

/**
 * Loads LiveCodeBench (`livecodebench/code_generation_lite` JSONL, e.g. `test5.jsonl`, or
 * Parquet). The matched text is `question_title` + blank line + `question_content`, the
 * statement a model is prompted with; test cases and starter code are left out (they are
 * I/O data, not prose a training prompt would copy). id = `question_id`; meta keeps
 * `platform`, `contest_date` and `difficulty` so users can filter by release window.
 */
export async function loadLiveCodeBench(path: string, opts: { name?: string } = {}): Promise<BenchmarkItem[]> {
  const name = opts.name ?? "livecodebench";
  const items: BenchmarkItem[] = [];
  for await (const loc of readBenchmarkRecords(path, "LiveCodeBench", "JSON Lines records with question_id, question_title and question_content")) {
    const content = requireText(loc, "question_content", LCB_HINT);
    const title = optionalString(loc.rec, "question_title");
    items.push({
      benchmark: name,
      id: requireId(loc, "question_id", LCB_HINT),
      text: title ? `${title}\n\n${content}` : content,
      meta: withoutUndefined({
        platform: optionalString(loc.rec, "platform"),
        contestDate: optionalString(loc.rec, "contest_date"),
        difficulty: optionalString(loc.rec, "difficulty"),
      }),
    });
  }
  return items;
}
