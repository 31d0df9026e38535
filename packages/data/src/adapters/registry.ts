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

const ADAPTER_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** What identifies an adapter in a stage's cache key. */
export interface AdapterIdentity {
  name: string;
  version: string;
  signature: readonly string[];
  priority: number;
}

export function adapterIdentity(adapter: SourceAdapter): AdapterIdentity {
  return { name: adapter.name, version: adapter.version ?? "1", signature: [...adapter.signature], priority: adapter.priority };
}

/**
 * The built-in adapters plus `extra` (your own), highest priority first; on equal priority yours are tried first.
 * Checks every extra adapter's shape and reports all problems at once; a name may not repeat or shadow a built-in.
 */
export function withAdapters(extra: readonly SourceAdapter[]): readonly SourceAdapter[] {
  if (extra.length === 0) return ADAPTERS;
  const problems: string[] = [];
  const names = new Set<string>();
  extra.forEach((a, i) => {
    const label = `adapters[${i}]${typeof a?.name === "string" ? ` ("${a.name}")` : ""}`;
    if (typeof a?.name !== "string" || !ADAPTER_NAME.test(a.name)) problems.push(`${label}: name must be lowercase letters, digits, ".", "_" or "-"`);
    else if (ADAPTERS.some((b) => b.name === a.name)) problems.push(`${label}: the name is taken by a built-in adapter; choose another one`);
    else if (names.has(a.name)) problems.push(`${label}: two adapters are named "${a.name}"`);
    else names.add(a.name);
    if (a?.version !== undefined && (typeof a.version !== "string" || a.version === "")) problems.push(`${label}: version must be a non-empty string`);
    if (!Array.isArray(a?.signature) || !a.signature.every((f) => typeof f === "string")) problems.push(`${label}: signature must be a list of field names`);
    if (typeof a?.priority !== "number" || !Number.isFinite(a.priority)) problems.push(`${label}: priority must be a finite number`);
    if (typeof a?.matches !== "function") problems.push(`${label}: matches(fields) must be a function`);
    if (typeof a?.adapt !== "function") problems.push(`${label}: adapt(record, ctx) must be a function`);
  });
  if (problems.length > 0) throw new DataError("adapters", `invalid adapter(s):\n  ${problems.join("\n  ")}`);
  return [...extra, ...ADAPTERS].sort((a, b) => b.priority - a.priority);
}

function knownAdapters(adapters: readonly SourceAdapter[]): string {
  return adapters.map((a) => `${a.name} (${a.signature.join(", ")})`).join(", ");
}

/** The adapter called `name` among `adapters` (default: the built-ins); throws a DataError listing the known ones otherwise. */
export function getAdapter(name: string, adapters: readonly SourceAdapter[] = ADAPTERS): SourceAdapter {
  const adapter = adapters.find((a) => a.name === name);
  if (!adapter) throw new DataError("adapters", `unknown adapter "${name}". Known adapters: ${knownAdapters(adapters)}.`);
  return adapter;
}

/**
 * The adapter for a source whose records have `fields` (the union over its first
 * records): `override` when given, else the highest-priority adapter that matches.
 * Throws a DataError naming the fields seen and every adapter's signature when none does.
 */
export function detectAdapter(fields: Iterable<string>, override?: string, sourceName?: string, adapters: readonly SourceAdapter[] = ADAPTERS): SourceAdapter {
  if (override) return getAdapter(override, adapters);
  const seen = new Set(fields);
  const adapter = adapters.find((a) => a.matches(seen));
  if (adapter) return adapter;
  const where = sourceName ? ` of "${sourceName}"` : "";
  const listed = seen.size ? [...seen].join(", ") : "none";
  throw new DataError(
    "adapters",
    `cannot detect the schema${where} (fields seen: ${listed}). Known adapters: ${knownAdapters(adapters)}. Pass --adapter NAME or map your fields. For a schema of your own, write a SourceAdapter and pass it: normalizeStage({ adapters: [yourAdapter] }).`,
  );
}
