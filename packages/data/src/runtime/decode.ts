import { DataError } from "../errors.js";
import { boundedJsonValue } from "../readers/jsonDepth.js";
import { SampleSchema } from "../schema/sample.js";
import { jsonStringify } from "./canonicalJson.js";
import type { RawRecord, RejectEntry } from "./types.js";

/** A source record that failed to decode as a Sample; the runner rejects it for the first stage. */
export class DecodeFailure {
  constructor(readonly raw: Extract<RawRecord, { ok: false }>) {}
}

/** Canonical shards in: validate each record as a Sample. */
export function decodeSample(raw: RawRecord): unknown {
  if (!raw.ok) return new DecodeFailure(raw);
  const parsed = SampleSchema.safeParse(raw.value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(record)"}: ${i.message}`).join("; ");
  return new DecodeFailure({ ok: false, code: "invalid_record", message: `not a canonical Sample: ${issues}`, loc: raw.loc, raw: JSON.stringify(boundedJsonValue(raw.value)).slice(0, 2000) });
}

/** Thrown inside the pipeline on the first reject when `strict` is set. */
export class StrictModeError extends DataError {
  constructor(readonly entry: RejectEntry) {
    const where = entry.loc ? ` at ${entry.loc.file}${entry.loc.line ? `:${entry.loc.line}` : entry.loc.row !== undefined ? ` row ${entry.loc.row}` : ""}` : "";
    super("pipeline", `--strict: record rejected by stage "${entry.stage}"${where} (${entry.code}): ${entry.message}`);
  }
}

/** Where a record came from, when it says. */
export function locOf(record: unknown): RejectEntry["loc"] {
  if (!record || typeof record !== "object") return undefined;
  const r = record as { loc?: RejectEntry["loc"]; meta?: { origin?: RejectEntry["loc"] } };
  return r.loc ?? r.meta?.origin;
}

/** A record as one JSON line, or the reject that explains why it cannot be one. */
export function serializeOutput(record: unknown): { line: string } | { reject: { record: unknown; code: "too_deep" | "unserializable"; message: string; loc: RejectEntry["loc"] } } {
  try {
    const line = jsonStringify(record);
    if (line === undefined) throw new TypeError("the record is not a JSON value");
    return { line };
  } catch (error) {
    // A record no shard can hold (nested past the stack, a BigInt) is rejected, not fatal.
    const deep = error instanceof RangeError;
    const loc = locOf(record);
    const where = loc ? ` (${loc.file}${loc.line ? `:${loc.line}` : loc.row !== undefined ? ` row ${loc.row}` : ""})` : "";
    return {
      reject: {
        record: boundedJsonValue(record),
        code: deep ? "too_deep" : "unserializable",
        message: `output record${where} cannot be written as JSON: ${(error as Error).message}${deep ? ". It nests too deeply; lower --max-depth to reject such records when they are read." : ""}`,
        loc,
      },
    };
  }
}
