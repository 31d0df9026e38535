import { DataError } from "../errors.js";
import { alpacaAdapter } from "./alpacaAdapter.js";
import { canonicalAdapter } from "./canonicalAdapter.js";
import { competitionAnswerAdapter } from "./competitionAnswerAdapter.js";
import { gsm8kAdapter } from "./gsm8kAdapter.js";
import { mathAdapter } from "./mathAdapter.js";
import { openaiMessagesAdapter } from "./openaiMessagesAdapter.js";
import { preferenceAdapter } from "./preferenceAdapter.js";
import { r1Adapter } from "./r1Adapter.js";
import { sharegptAdapter } from "./sharegptAdapter.js";
import type { SourceAdapter } from "./types.js";

/** Every built-in adapter, highest detection priority first. */
export const ADAPTERS: readonly SourceAdapter[] = [
  canonicalAdapter,
  preferenceAdapter,
  r1Adapter,
  openaiMessagesAdapter,
  sharegptAdapter,
  alpacaAdapter,
  mathAdapter,
  competitionAnswerAdapter,
  gsm8kAdapter,
].sort((a, b) => b.priority - a.priority);

function knownAdapters(): string {
  return ADAPTERS.map((a) => `${a.name} (${a.signature.join(", ")})`).join(", ");
}

/** The adapter called `name`; throws a DataError listing the known ones otherwise. */
export function getAdapter(name: string): SourceAdapter {
  const adapter = ADAPTERS.find((a) => a.name === name);
  if (!adapter) throw new DataError("adapters", `unknown adapter "${name}". Known adapters: ${knownAdapters()}.`);
  return adapter;
}

/**
 * The adapter for a source whose records have `fields` (the union over its first
 * records): `override` when given, else the highest-priority adapter that matches.
 * Throws a DataError naming the fields seen and every adapter's signature when none does.
 */
export function detectAdapter(fields: Iterable<string>, override?: string, sourceName?: string): SourceAdapter {
  if (override) return getAdapter(override);
  const seen = new Set(fields);
  const adapter = ADAPTERS.find((a) => a.matches(seen));
  if (adapter) return adapter;
  const where = sourceName ? ` of "${sourceName}"` : "";
  const listed = seen.size ? [...seen].join(", ") : "none";
  throw new DataError("adapters", `cannot detect the schema${where} (fields seen: ${listed}). Known adapters: ${knownAdapters()}. Pass --adapter NAME or map your fields.`);
}
