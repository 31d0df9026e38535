import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DataError } from "../errors.js";

const KEY = /^[0-9A-Za-z_-]{3,}$/;

/**
 * JSON values on disk, one file per key at `dir/ab/abcdef….json` (the first two key
 * characters fan entries out so no directory grows to millions of files). Writes go to a
 * temporary file that is then renamed over the entry, so a crash leaves either the old
 * entry or the new one, never half a file; an entry that does not parse anyway (disk
 * full, manual edits) reads as a miss.
 */
export class DiskCache {
  constructor(readonly dir: string) {}

  pathOf(key: string): string {
    if (!KEY.test(key)) throw new DataError("teacher", `cache key "${key}" is not a hash (expected 3+ characters from [0-9A-Za-z_-])`);
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  async get(key: string): Promise<unknown | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathOf(key), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  async set(key: string, value: unknown): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
    // Unique per writer, so two processes filling the same entry never share a temp file.
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(value));
      await rename(tmp, path);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }
}
