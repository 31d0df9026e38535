import * as nodeCrypto from "node:crypto";
import { z } from "zod";
import { isAscii } from "../normalize/text.js";

export const MessageSchema = z.object({
  role: z.enum(["system", "user", "assistant", "tool"]),
  content: z.string(),
});
export type Message = z.infer<typeof MessageSchema>;

/** Token counts under one tokenizer, named so counts from different tokenizers never mix. */
export const TokenCountsSchema = z.object({
  tokenizer: z.string(),
  prompt: z.number().int().nonnegative(),
  reasoning: z.number().int().nonnegative().optional(),
  response: z.number().int().nonnegative().optional(),
  total: z.number().int().nonnegative(),
});
export type TokenCounts = z.infer<typeof TokenCountsSchema>;

export const SampleMetaSchema = z
  .object({
    /** Difficulty level as given by the source (MATH "Level 3" → 3). */
    level: z.number().optional(),
    tags: z.array(z.string()).optional(),
    tokens: TokenCountsSchema.optional(),
    scores: z.record(z.string(), z.number()).optional(),
    verdicts: z.record(z.string(), z.unknown()).optional(),
    /** Where the record came from: file and 1-based line (JSONL/CSV) or 0-based row (Parquet). */
    origin: z.object({ file: z.string(), line: z.number().int().optional(), row: z.number().int().optional() }).optional(),
    /** Name of the adapter that produced the record. */
    adapter: z.string().optional(),
  })
  .catchall(z.unknown());
export type SampleMeta = z.infer<typeof SampleMetaSchema>;

/**
 * The canonical record that flows through every data stage.
 * `prompt` is the last user turn as plain text; `messages` keeps the whole conversation
 * when the source had one. `response` is the full assistant answer (reasoning + final
 * answer) as the source gave it; `reasoning` is the chain of thought alone.
 */
export const SampleSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/, "expected 32 lowercase hex characters (content hash)"),
  source: z.string().min(1),
  domain: z.string().optional(),
  prompt: z.string(),
  messages: z.array(MessageSchema).optional(),
  system: z.string().optional(),
  response: z.string().optional(),
  reasoning: z.string().optional(),
  answer: z.string().optional(),
  gold: z.string().optional(),
  /** Dispreferred response of a preference pair (`response` holds the chosen one). */
  rejected: z.string().optional(),
  meta: SampleMetaSchema.default({}),
  lineage: z.array(z.string()).default([]),
});
export type Sample = z.infer<typeof SampleSchema>;
/** A sample before its id is computed. */
export type SampleInit = Omit<Sample, "id" | "meta" | "lineage"> & {
  meta?: SampleMeta;
  lineage?: string[];
};

// Matches every whitespace run except a lone space, which folding leaves as it is: same
// result as replacing /\s+/ with " ", with far fewer matches on ordinary prose.
const WHITESPACE_RUN = /[^\S ]\s*| \s+/g;

/**
 * Normalization used for the content hash: Unicode NFC, every whitespace run folded
 * to one space, leading/trailing whitespace removed. Case and punctuation are kept:
 * in mathematics `X` and `x`, or `2.5` and `25`, are different problems.
 * `alreadyNfc` skips the NFC pass for text known to be NFC (e.g. from `normalizeText`).
 */
export function normalizeForHash(text: string, alreadyNfc = false): string {
  const nfc = alreadyNfc || isAscii(text) ? text : text.normalize("NFC");
  return nfc.replace(WHITESPACE_RUN, " ").trim();
}

// One-shot `crypto.hash` (Node 20.12+) skips the Hash object that `createHash` builds per call, a third of the cost
// of hashing a record's ~2 KB. Read through the namespace so a runtime without it falls back instead of failing to load.
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: Uint8Array, encoding: "hex") => string }).hash;
/** Reused UTF-8 buffer for the hashed text; texts that need more than its largest size are hashed without it. */
let hashInput = Buffer.allocUnsafe(1 << 14);
const HASH_INPUT_MAX = 1 << 20;

/** sha256 (hex) of the UTF-8 bytes of `prompt`, a NUL and `response`. */
function sha256OfPair(prompt: string, response: string): string {
  const worst = 3 * (prompt.length + response.length) + 1;
  if (!oneShotHash || worst > HASH_INPUT_MAX) return nodeCrypto.createHash("sha256").update(prompt).update("\u0000").update(response).digest("hex");
  if (worst > hashInput.length) hashInput = Buffer.allocUnsafe(Math.min(HASH_INPUT_MAX, Math.max(worst, 2 * hashInput.length)));
  // Encoding each part into one buffer hashes the same bytes as the three updates (a lone surrogate becomes U+FFFD
  // either way), without building and flattening the joined string.
  const end = hashInput.write(prompt, 0, "utf8");
  hashInput[end] = 0;
  const length = end + 1 + hashInput.write(response, end + 1, "utf8");
  return oneShotHash("sha256", hashInput.subarray(0, length), "hex");
}

/**
 * Stable content hash of a sample: sha256 over the normalized prompt, a NUL separator
 * and the normalized response, truncated to 128 bits (32 hex characters). Two records
 * with the same prompt and response get the same id whatever their source or metadata.
 */
export function computeSampleId(prompt: string, response = "", alreadyNfc = false): string {
  return sha256OfPair(normalizeForHash(prompt, alreadyNfc), normalizeForHash(response, alreadyNfc)).slice(0, 32);
}

/** Builds a sample with its content-hash id; no validation (hot path). */
export function makeSample(init: SampleInit, opts: { alreadyNfc?: boolean } = {}): Sample {
  return {
    ...init,
    id: computeSampleId(init.prompt, init.response ?? "", opts.alreadyNfc),
    meta: init.meta ?? {},
    lineage: init.lineage ?? [],
  };
}
