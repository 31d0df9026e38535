import { readRecords, resolveInputs } from "@infialign/data";

/** One record of a benchmark file with its position, for error messages. */
export interface LocatedRecord {
  rec: Record<string, unknown>;
  /** `benchmark file "x.jsonl" line 3` (or `row 2` for CSV/Parquet). */
  where: string;
}

export function evalError(component: string, message: string, cause?: unknown): Error {
  return new Error(`[infialign/eval] ${component}: ${message}`, cause === undefined ? undefined : { cause });
}

/**
 * Reads every record of a benchmark file (JSONL, JSON, CSV, Parquet; gzip/zstd too). A bad row throws: a benchmark
 * with a broken item is a broken benchmark, not noise to skip. `maxRecordBytes` is raised for LiveCodeBench, whose
 * records carry megabytes of hidden tests.
 */
export async function* readBenchmarkFile(path: string, component: string, opts: { maxRecordBytes?: number } = {}): AsyncGenerator<LocatedRecord> {
  let files: Awaited<ReturnType<typeof resolveInputs>>;
  try {
    files = await resolveInputs(path);
  } catch (e) {
    throw evalError(component, `benchmark file "${path}" cannot be opened (${(e as Error).message})`, e);
  }
  let n = 0;
  for (const file of files) {
    for await (const r of readRecords(file, opts.maxRecordBytes === undefined ? {} : { maxRecordBytes: opts.maxRecordBytes })) {
      n++;
      const where = `benchmark file "${file.path}" ${r.loc.line !== undefined ? `line ${r.loc.line}` : `row ${r.loc.row ?? n - 1}`}`;
      if (!r.ok) throw evalError(component, `${where}: ${r.message}`);
      const rec = r.value;
      if (typeof rec !== "object" || rec === null || Array.isArray(rec)) throw evalError(component, `${where} is not an object`);
      yield { rec: rec as Record<string, unknown>, where };
    }
  }
}

export function fieldsSeen(rec: Record<string, unknown>): string {
  return Object.keys(rec).join(", ") || "none";
}

/** A required non-empty string field; numbers are accepted and stringified (answers like `27.0`). */
export function requireField(loc: LocatedRecord, field: string, component: string, hint: string): string {
  const v = loc.rec[field];
  if ((typeof v === "number" && Number.isFinite(v)) || typeof v === "bigint") return String(v);
  if (typeof v === "string" && v.trim() !== "") return v;
  throw evalError(
    component,
    `${loc.where} has no ${v === undefined ? "" : "usable "}"${field}" field (got ${v === undefined ? "nothing" : JSON.stringify(v)?.slice(0, 60)}; fields seen: ${fieldsSeen(loc.rec)}). ${hint}`,
  );
}

export function optionalText(rec: Record<string, unknown>, field: string): string | undefined {
  const v = rec[field];
  if ((typeof v === "number" && Number.isFinite(v)) || typeof v === "bigint") return String(v);
  return typeof v === "string" && v.trim() !== "" ? v : undefined;
}

/** Applies `limit` (first N items) after loading, rejecting nonsense values. */
export function applyLimit<T>(items: T[], limit: number | undefined, component: string): T[] {
  if (limit === undefined) return items;
  if (!Number.isInteger(limit) || limit < 0) throw evalError(component, `limit must be a non-negative integer, got ${limit}`);
  return items.slice(0, limit);
}

/** Removes undefined values so meta stays JSON-clean. */
export function defined(meta: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined));
}
