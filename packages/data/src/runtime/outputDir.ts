import { constants } from "node:fs";
import { access, mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { DataError } from "../errors.js";

/** The file-system calls `ensureWritableDir` makes; injectable so tests can simulate any failure. */
export interface OutputDirFs {
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  stat(path: string): Promise<{ isDirectory(): boolean }>;
  access(path: string, mode: number): Promise<void>;
}

const nodeFs: OutputDirFs = { mkdir, stat, access };

export interface EnsureWritableDirOptions {
  /** Component named in the error, e.g. "pipeline" or "export". @default "output" */
  component?: string;
  /** What the directory is for, e.g. "run directory". @default "output directory" */
  purpose?: string;
  /** How the user picks another directory, e.g. "Pass a writable directory with --runs". */
  fix?: string;
  fs?: OutputDirFs;
}

/**
 * Creates `dir` (and its parents) and checks that it can be written, or throws a
 * DataError that names the directory that is in the way and why: a read-only or
 * permission-denied parent (recursive mkdir reports some of these as ENOENT), or a file
 * where a directory is expected.
 */
export async function ensureWritableDir(dir: string, options: EnsureWritableDirOptions = {}): Promise<void> {
  const fs = options.fs ?? nodeFs;
  const target = resolve(dir);
  try {
    await fs.mkdir(target, { recursive: true });
    await fs.access(target, constants.W_OK);
  } catch (error) {
    throw await outputDirError(target, error, options, fs);
  }
}

/** A DataError explaining why `dir` could not be created or written (`error` from mkdir/open/access). */
export async function outputDirError(dir: string, error: unknown, options: EnsureWritableDirOptions = {}, fs: OutputDirFs = nodeFs): Promise<DataError> {
  const component = options.component ?? "output";
  const purpose = options.purpose ?? "output directory";
  const fix = options.fix ?? "Choose a writable directory, or fix the permissions of this one";
  return new DataError(component, `cannot create the ${purpose} "${dir}": ${await outputDirProblem(dir, error, fs)}. ${fix}.`, { cause: error });
}

/**
 * Why `dir` could not be created or written, naming the path in the way: `"/data" is not
 * writable (read-only file system, EROFS)`, `"/x/runs" is a file, not a directory`.
 * For CLIs of other packages that word their own errors.
 */
export async function outputDirProblem(dir: string, error: unknown, fs: OutputDirFs = nodeFs): Promise<string> {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "unknown error";
  // The nearest path that exists is the one in the way.
  let existing = resolve(dir);
  let info: { isDirectory(): boolean } | undefined;
  for (;;) {
    info = await fs.stat(existing).catch(() => undefined);
    if (info || dirname(existing) === existing) break;
    existing = dirname(existing);
  }
  if (info && !info.isDirectory()) return `"${existing}" is a file, not a directory`;
  if (code === "ENOSPC" || code === "EDQUOT") return `the disk holding "${existing}" is full (${code})`;
  if (["EACCES", "EPERM", "EROFS", "ENOENT", "ENOTDIR", "EEXIST"].includes(code)) {
    const reason = code === "EROFS" ? "read-only file system, EROFS" : code === "EACCES" || code === "EPERM" ? `permission denied, ${code}` : `mkdir failed with ${code}`;
    return `"${existing}" is not writable (${reason})`;
  }
  return error instanceof Error ? error.message : String(error);
}
