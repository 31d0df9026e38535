import type { SampleMeta } from "../schema/sample.js";
import type { AdaptContext, AdaptResult } from "./types.js";

/** The failure half of `AdaptResult`. */
export type AdaptFailure = Extract<AdaptResult, { ok: false }>;
/** A field value, or the failure to report for it. */
export type FieldResult<T> = { ok: true; value: T } | AdaptFailure;

/** JSON-ish type name for messages: "null", "array", "object", "string", "number", "boolean". */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

export function failure(code: AdaptFailure["code"], field: string | undefined, message: string): AdaptFailure {
  return field === undefined ? { ok: false, code, message } : { ok: false, code, field, message };
}

export function wrongType(field: string, expected: string, value: unknown): AdaptFailure {
  return failure("wrong_type", field, `field "${field}" must be ${expected}, got ${typeName(value)}`);
}

export function missingField(field: string, expected: string): AdaptFailure {
  return failure("missing_field", field, `field "${field}" is missing (expected ${expected})`);
}

export function missingAnswer(field: string, what: string): AdaptFailure {
  return failure("missing_final_answer", field, `no final answer in field "${field}": ${what}. Pass requireAnswer: false to keep answerless records.`);
}

/** Absent and null are the same for us: Arrow/Parquet exports write null for missing values. */
export function isAbsent(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

/** A required, non-blank string field. */
export function requireString(record: Record<string, unknown>, field: string): FieldResult<string> {
  const value = record[field];
  if (isAbsent(value)) return missingField(field, "a string");
  if (typeof value !== "string") return wrongType(field, "a string", value);
  if (!value.trim()) return failure("missing_field", field, `field "${field}" is empty (expected a non-empty string)`);
  return { ok: true, value };
}

/** An optional string field; absent, null and "" give undefined. */
export function optionalString(record: Record<string, unknown>, field: string): FieldResult<string | undefined> {
  const value = record[field];
  if (isAbsent(value)) return { ok: true, value: undefined };
  if (typeof value !== "string") return wrongType(field, "a string", value);
  return { ok: true, value: value || undefined };
}

/**
 * An optional answer-like field given as a string or a number; numbers become their
 * shortest decimal form (JSON `27.0` → "27", `0.5` → "0.5"). Blank strings give undefined.
 */
export function optionalAnswer(record: Record<string, unknown>, field: string): FieldResult<string | undefined> {
  const value = record[field];
  if (isAbsent(value)) return { ok: true, value: undefined };
  if (typeof value === "number" && Number.isFinite(value)) return { ok: true, value: String(value) };
  if (typeof value !== "string") return wrongType(field, "a string or number", value);
  const trimmed = value.trim();
  return { ok: true, value: trimmed || undefined };
}

/** The first of `fields` that holds an answer, as `optionalAnswer` reads it. */
export function firstAnswer(record: Record<string, unknown>, fields: readonly string[]): FieldResult<string | undefined> {
  for (const field of fields) {
    const result = optionalAnswer(record, field);
    if (!result.ok || result.value !== undefined) return result;
  }
  return { ok: true, value: undefined };
}

/** `meta` every adapter writes: the adapter name, the origin, and the given extras. */
export function baseMeta(adapter: string, ctx: AdaptContext, extra: SampleMeta = {}): SampleMeta {
  const origin: NonNullable<SampleMeta["origin"]> = { file: ctx.loc.file };
  if (ctx.loc.line !== undefined) origin.line = ctx.loc.line;
  if (ctx.loc.row !== undefined) origin.row = ctx.loc.row;
  const meta: SampleMeta = { adapter, origin };
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) meta[key] = value;
  return meta;
}

/** Source identifiers worth keeping (id, idx, unique_id, uuid, url) when they are strings or numbers. */
export function sourceIds(record: Record<string, unknown>): SampleMeta {
  const meta: SampleMeta = {};
  for (const key of ["id", "idx", "unique_id", "uuid", "url"]) {
    const value = record[key];
    if (typeof value === "string" || (typeof value === "number" && Number.isFinite(value))) meta[key] = value;
  }
  return meta;
}

/** Drops keys whose value is undefined so samples serialize without noise. */
export function compact<T extends object>(value: T): T {
  const out = { ...value };
  for (const key of Object.keys(out) as (keyof T)[]) if (out[key] === undefined) delete out[key];
  return out;
}
