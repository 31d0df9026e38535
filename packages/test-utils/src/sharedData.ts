import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/**
 * `../shared/data` beside the repository root (present on developer machines and CI),
 * or `INFIALIGN_SHARED_DATA` when set. Undefined when absent, so tests can skip with a message.
 * `INFIALIGN_SHARED_DATA=none` hides the shared data, to check how tests behave without it.
 */
export function sharedDataDir(): string | undefined {
  if (process.env.INFIALIGN_SHARED_DATA === "none") return undefined;
  const candidates = [process.env.INFIALIGN_SHARED_DATA, resolve(here, "../../../../shared/data")];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

export function sharedDataPath(...parts: string[]): string | undefined {
  const dir = sharedDataDir();
  return dir ? join(dir, ...parts) : undefined;
}
