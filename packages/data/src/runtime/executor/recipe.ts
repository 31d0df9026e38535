import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import { DataError } from "../../errors.js";
import type { Stage } from "../types.js";
import type { PipelineRecipe } from "./types.js";

// biome-ignore lint/suspicious/noExplicitAny: a pipeline chains stages of different record types.
export type AnyStage = Stage<any, any, unknown>;

/** Builds a fresh stage list from a recipe (every task gets its own: stages keep state while they run). */
export async function stagesFromRecipe(recipe: PipelineRecipe): Promise<AnyStage[]> {
  const url = recipe.module.startsWith("file:") ? recipe.module : isAbsolute(recipe.module) ? pathToFileURL(recipe.module).href : undefined;
  if (!url) throw new DataError("pipeline", `recipe module "${recipe.module}" must be an absolute path or a file: URL that every worker can read`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    const ts = /\.[cm]?ts$/.test(recipe.module) ? " It is TypeScript: run the worker with a TypeScript loader (node --import tsx …)." : "";
    throw new DataError("pipeline", `cannot import the pipeline recipe "${recipe.module}": ${(error as Error).message}.${ts}`, { cause: error });
  }
  const name = recipe.export ?? "default";
  const build = mod[name];
  if (typeof build !== "function") throw new DataError("pipeline", `pipeline recipe "${recipe.module}" has no function export "${name}" (exports: ${Object.keys(mod).join(", ") || "none"})`);
  const built = (await build(recipe.args)) as unknown;
  const stages = Array.isArray(built) ? built : (built as { stages?: unknown } | undefined)?.stages;
  if (!Array.isArray(stages)) throw new DataError("pipeline", `pipeline recipe "${recipe.module}#${name}" returned ${typeof built}; expected an array of stages or { stages: [...] }`);
  return stages as AnyStage[];
}
