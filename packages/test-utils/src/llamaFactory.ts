// What LLaMA-Factory requires of a dataset before it trains on it, written from its `src/llamafactory/data/parser.py`
// (`DatasetAttr`: defaults of formatting, ranking, columns and tags) and `data/converter.py` (the ShareGPT converter
// reads every mapped column with `example[column]`, so a mapped column missing from a row is a KeyError; roles must
// alternate user/observation then assistant/function; ranking rows have an odd number of turns plus chosen/rejected
// turns in the assistant position; anything else is dropped with only a warning). The Arrow loader behind it also needs
// one JSON type per column across the file. Independent of the exporters' own schemas, so it can catch their mistakes.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** Keys `get_dataset_list` / `DatasetAttr.join` read from a `dataset_info.json` entry; any other key is ignored there. */
const ENTRY_KEYS = ["hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name", "file_name", "formatting", "ranking", "subset", "split", "folder", "num_samples", "columns", "tags"];
const COLUMN_KEYS = ["prompt", "query", "response", "history", "messages", "system", "tools", "images", "videos", "audios", "chosen", "rejected", "kto_tag"];
const TAG_KEYS = ["role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag", "system_tag"];
const TAG_DEFAULTS: Record<string, string> = { role_tag: "from", content_tag: "value", user_tag: "human", assistant_tag: "gpt", observation_tag: "observation", function_tag: "function_call", system_tag: "system" };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const isObject = (v: unknown): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);
const jsonType = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/** Problems of a `dataset_info.json` entry as LLaMA-Factory's parser reads it (unknown keys, wrong types). */
export function llamaFactoryEntryProblems(entry: unknown): string[] {
  if (!isObject(entry)) return ["entry is not an object"];
  const problems: string[] = [];
  for (const key of Object.keys(entry)) if (!ENTRY_KEYS.includes(key)) problems.push(`entry key "${key}" is not read by LLaMA-Factory`);
  const formatting = entry.formatting ?? "alpaca";
  if (!["alpaca", "sharegpt", "openai"].includes(formatting as string)) problems.push(`formatting "${String(formatting)}" is not alpaca, sharegpt or openai`);
  if (entry.ranking !== undefined && typeof entry.ranking !== "boolean") problems.push("ranking must be a boolean");
  if (entry.num_samples !== undefined && !(Number.isInteger(entry.num_samples) && (entry.num_samples as number) > 0)) problems.push("num_samples must be a positive integer");
  for (const [field, keys] of [
    ["columns", COLUMN_KEYS],
    ["tags", TAG_KEYS],
  ] as const) {
    const value = entry[field];
    if (value === undefined) continue;
    if (!isObject(value)) {
      problems.push(`${field} must be an object`);
      continue;
    }
    for (const [k, v] of Object.entries(value)) {
      if (!(keys as readonly string[]).includes(k)) problems.push(`${field}.${k} is not read by LLaMA-Factory`);
      else if (typeof v !== "string") problems.push(`${field}.${k} must be a string`);
    }
  }
  if (entry.ranking === true) {
    const columns = (isObject(entry.columns) ? entry.columns : {}) as Record<string, Json>;
    if (columns.chosen === undefined || columns.rejected === undefined) problems.push("ranking needs columns.chosen and columns.rejected");
  }
  return problems;
}

/**
 * Problems LLaMA-Factory's converter would have with one row of a ShareGPT dataset described by `entry`: a mapped
 * column missing (KeyError), a turn without the role or content tag (KeyError), roles out of order or the wrong number
 * of turns (row dropped), chosen/rejected not assistant-side turns (row dropped or misread), non-string contents.
 */
export function llamaFactoryRowProblems(entry: Record<string, unknown>, row: unknown): string[] {
  if (!isObject(row)) return ["row is not a JSON object"];
  if ((entry.formatting ?? "alpaca") !== "sharegpt") return [`only formatting "sharegpt" is checked here, got "${String(entry.formatting ?? "alpaca")}"`];
  const columns: Record<string, string> = { messages: "conversations", ...((entry.columns as Record<string, string>) ?? {}) };
  const tags: Record<string, string> = { ...TAG_DEFAULTS, ...((entry.tags as Record<string, string>) ?? {}) };
  const ranking = entry.ranking === true;
  const problems: string[] = [];
  for (const [column, field] of Object.entries(columns)) if (!(field in row)) problems.push(`column ${column} → "${field}" is missing (KeyError in the converter)`);

  const turn = (t: unknown, where: string): { role: string; content: unknown } | undefined => {
    if (!isObject(t)) {
      problems.push(`${where} is not an object`);
      return undefined;
    }
    if (!(tags.role_tag! in t)) problems.push(`${where} has no "${tags.role_tag}" (KeyError)`);
    if (!(tags.content_tag! in t)) problems.push(`${where} has no "${tags.content_tag}" (KeyError)`);
    const content = t[tags.content_tag!];
    if (content !== undefined && typeof content !== "string") problems.push(`${where}.${tags.content_tag} must be a string, got ${jsonType(content)}`);
    return { role: String(t[tags.role_tag!]), content };
  };

  let messages = row[columns.messages!];
  if (!Array.isArray(messages)) {
    if (messages !== undefined) problems.push(`"${columns.messages}" must be a list of turns, got ${jsonType(messages)}`);
    messages = [];
  }
  const list = messages as Json[];
  const first = list.length > 0 && isObject(list[0]) ? list[0][tags.role_tag!] : undefined;
  const turns = first === tags.system_tag ? list.slice(1) : list;
  if (first !== tags.system_tag && columns.system !== undefined && columns.system in row && typeof row[columns.system] !== "string") {
    problems.push(`"${columns.system}" must be a string, got ${jsonType(row[columns.system])}`);
  }
  const oddTags = [tags.user_tag, tags.observation_tag];
  const evenTags = [tags.assistant_tag, tags.function_tag];
  turns.forEach((t, i) => {
    const parsed = turn(t, `${columns.messages}[${first === tags.system_tag ? i + 1 : i}]`);
    const allowed = i % 2 === 0 ? oddTags : evenTags;
    if (parsed && !allowed.includes(parsed.role)) problems.push(`turn ${i + 1} has role "${parsed.role}", expected one of ${allowed.join("/")} (row dropped)`);
  });
  if (turns.length === 0) problems.push("no turns (row dropped)");
  else if (ranking ? turns.length % 2 === 0 : turns.length % 2 !== 0) {
    problems.push(`${turns.length} turns: ${ranking ? "a ranking row needs an odd count (ending with a user turn)" : "an SFT row needs an even count (ending with an assistant turn)"} (row dropped)`);
  }
  if (ranking) {
    for (const side of ["chosen", "rejected"] as const) {
      const field = columns[side];
      if (field === undefined || !(field in row)) continue;
      const value = row[field];
      // The converter takes the pairwise branch only when both are dicts; otherwise it misreads the row as SFT.
      if (!isObject(value)) {
        problems.push(`"${field}" must be one turn object, got ${jsonType(value)}`);
        continue;
      }
      const parsed = turn(value, field);
      if (parsed && !evenTags.includes(parsed.role)) problems.push(`"${field}" has role "${parsed.role}", expected ${evenTags.join("/")}`);
    }
  }
  return problems;
}

/**
 * Reads `<dataDir>/dataset_info.json` and the JSON Lines file of dataset `name`, and returns every problem of the entry
 * and of each row (prefixed with the line number), plus columns whose JSON type changes between rows (Arrow cannot
 * load those). Empty when LLaMA-Factory would load and convert every row.
 */
export async function llamaFactoryDatasetProblems(dataDir: string, name: string): Promise<string[]> {
  const info = JSON.parse(await readFile(join(dataDir, "dataset_info.json"), "utf8")) as Record<string, unknown>;
  const entry = info[name];
  if (!isObject(entry)) return [`dataset_info.json has no entry "${name}"`];
  const problems = llamaFactoryEntryProblems(entry).map((p) => `${name}: ${p}`);
  if (typeof entry.file_name !== "string") return [...problems, `${name}: no file_name`];
  const lines = (await readFile(join(dataDir, entry.file_name), "utf8")).split("\n").filter((l) => l.trim() !== "");
  const types = new Map<string, Set<string>>();
  lines.forEach((line, i) => {
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      problems.push(`${entry.file_name} line ${i + 1}: not JSON`);
      return;
    }
    for (const p of llamaFactoryRowProblems(entry, row)) problems.push(`${entry.file_name} line ${i + 1}: ${p}`);
    if (isObject(row)) for (const [k, v] of Object.entries(row)) types.set(k, (types.get(k) ?? new Set()).add(jsonType(v)));
  });
  for (const [k, seen] of types) if (seen.size > 1) problems.push(`${entry.file_name}: column "${k}" mixes JSON types ${[...seen].join(", ")}`);
  if (lines.length === 0) problems.push(`${entry.file_name}: no rows`);
  return problems;
}
