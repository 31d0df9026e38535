// Reading and validating run-config files, shared by the SFT curriculum and the DPO config (@infialign/train-dpo).
import { readFile } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";

/** A parsed config file: its raw content, its name for messages, and a resolver for paths written relative to it. */
export interface ConfigFile {
  raw: unknown;
  /** File name (no directory), used in error messages. */
  name: string;
  /** An absolute path for `p`, taking relative paths from the config file's directory. */
  resolvePath(p: string): string;
}

/**
 * Reads a `.json`, `.yaml` or `.yml` config file. Errors name the file and say what was expected.
 *
 * @param prefix message prefix, e.g. `"[infialign/train-sft] curriculum"`
 */
export async function readConfigFile(path: string, prefix: string): Promise<ConfigFile> {
  const text = await readFile(path, "utf8").catch((cause: unknown) => {
    throw new Error(`${prefix}: cannot read config file "${path}"; check the path.`, { cause });
  });
  const name = basename(path);
  const ext = extname(path).toLowerCase();
  let raw: unknown;
  try {
    if (ext === ".json") raw = JSON.parse(text);
    else if (ext === ".yaml" || ext === ".yml") raw = parseYaml(text, { prettyErrors: true });
    else throw new Error(`unknown extension "${ext}"`);
  } catch (cause) {
    throw new Error(`${prefix}: ${name} is not valid ${ext === ".json" ? "JSON" : "YAML"} (${(cause as Error).message}); config files must be .json, .yaml or .yml.`, { cause });
  }
  const base = dirname(path);
  return { raw, name, resolvePath: (p) => (isAbsolute(p) ? p : resolve(base, p)) };
}

/**
 * Validates `input` with `schema`, reporting every invalid field at once (unknown keys as spelling hints) in one error
 * naming `source`.
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, prefix: string, source: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.join(".") || "(root)";
    if (issue.code === "unrecognized_keys") return `${path}: unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}; check the spelling`;
    return `${path}: ${issue.message}`;
  });
  throw new Error(`${prefix}: ${source} is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${problems.join("\n  ")}`);
}
