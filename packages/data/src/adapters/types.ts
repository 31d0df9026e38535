import type { RejectCode, SourceLocation } from "../runtime/types.js";
import type { SampleInit } from "../schema/sample.js";

export interface AdaptContext {
  /** Source name written into `Sample.source` (defaults to the file's base name). */
  source: string;
  loc: SourceLocation;
  /** Require a final answer (the default); `false` keeps answerless records. */
  requireAnswer: boolean;
}

export type AdaptResult =
  | { ok: true; sample: SampleInit }
  | { ok: false; code: RejectCode; field?: string; message: string };

/** Maps one public dataset schema onto the canonical `Sample`. */
export interface SourceAdapter {
  /** Stable name used with `--adapter` (e.g. "math", "gsm8k", "openai-messages"). */
  name: string;
  /**
   * Bump when `adapt` changes what it produces: a stage that uses the adapter keys its cache on name and version, so
   * its outputs are rebuilt. @default "1"
   */
  version?: string;
  description: string;
  /** Fields whose presence identifies the schema; used for auto-detection and error messages. */
  signature: readonly string[];
  /** Higher wins when several adapters match the same fields. */
  priority: number;
  matches(fields: ReadonlySet<string>): boolean;
  adapt(record: Record<string, unknown>, ctx: AdaptContext): AdaptResult;
}
