// Directory-level atomic writes: a checkpoint or adapter is either complete under its name or not there at all.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

/**
 * Runs `write(temp)` on a fresh temporary sibling of `dir`, then moves it to `dir` (replacing an existing `dir` as a
 * whole). A failure or a crash during `write` leaves `dir` untouched; the temporary directory is removed on failure.
 * Between the two renames that replace an existing `dir` there is an instant when `dir` is absent, never half-written.
 */
export async function writeDirAtomically(dir: string, write: (temp: string) => Promise<void>): Promise<void> {
  const target = resolve(dir);
  const suffix = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const temp = join(dirname(target), `.${basename(target)}.tmp-${suffix}`);
  try {
    await mkdir(temp, { recursive: true });
    await write(temp);
    if (existsSync(target)) {
      const old = join(dirname(target), `.${basename(target)}.old-${suffix}`);
      await rename(target, old);
      await rename(temp, target);
      await rm(old, { recursive: true, force: true });
    } else await rename(temp, target);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}
