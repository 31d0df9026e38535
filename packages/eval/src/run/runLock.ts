import { randomBytes } from "node:crypto";
import { link, open, readFile, rename, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { RUN_FILES } from "./runDir.js";

/** What a lock file holds: who runs in the directory, and since when. */
export interface RunLockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  startedAt: string;
  /** Random id telling two holders with the same pid apart (a reused pid, a takeover). */
  token: string;
}

export interface RunLockOptions {
  /** @default process.pid */
  pid?: number;
  /** @default os.hostname() */
  host?: string;
  /** Clock for `startedAt`. @default () => new Date() */
  now?: () => Date;
  /** Whether a process of this host is alive. @default `process.kill(pid, 0)` succeeds or fails with EPERM */
  isProcessAlive?: (pid: number) => boolean;
  /** Told when a stale lock is taken over. @default writes to stderr */
  warn?: (message: string) => void;
}

/** A held lock; `release()` removes the file if it is still this holder's. */
export interface RunLock {
  readonly path: string;
  readonly owner: RunLockOwner;
  release(): Promise<void>;
}

const RUN_LOCK_FILE = RUN_FILES.lock;

/** Tokens of the locks this process holds: a lock naming this pid but none of these is a past process's (a container restarted with the same pid). */
const heldHere = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function parseOwner(text: string): RunLockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<RunLockOwner>;
    if (Number.isInteger(o.pid) && typeof o.host === "string" && typeof o.startedAt === "string") return o as RunLockOwner;
  } catch {
    // reported as unreadable below
  }
  return undefined;
}

const readText = (path: string) =>
  readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined;
    throw e;
  });

/**
 * Takes the exclusive lock of a run directory: `run.lock`, created atomically and exclusively (O_EXCL semantics, via
 * link(2) of a fully written file, so of two runs started on the same `--out` exactly one gets it, and no run ever
 * reads it half-written) and holding pid, host and start time. When the file exists, the run it names
 * still holds the directory and this throws naming it — unless it is on this host and its pid is dead (a run killed
 * with SIGKILL or a crash) or names this process's pid without being one of its locks (a restarted container reusing
 * the pid), in which case the stale lock is taken over with a warning. A lock of another host is never
 * taken over, since its pid cannot be checked from here.
 */
export async function acquireRunLock(dir: string, options: RunLockOptions = {}): Promise<RunLock> {
  const path = join(dir, RUN_LOCK_FILE);
  const host = options.host ?? hostname();
  const isAlive = options.isProcessAlive ?? processAlive;
  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  const owner: RunLockOwner = { pid: options.pid ?? process.pid, host, startedAt: (options.now ?? (() => new Date()))().toISOString(), token: randomBytes(8).toString("hex") };

  // Registered before the file exists, so a run of this process reading it meanwhile sees a live holder.
  heldHere.add(owner.token);
  try {
    await takeLock(dir, path, owner, { isAlive, warn });
  } catch (e) {
    heldHere.delete(owner.token);
    throw e;
  }
  return {
    path,
    owner,
    release: async () => {
      await release(path, owner.token);
      heldHere.delete(owner.token);
    },
  };
}

/** Creates the lock file, taking a stale one over; a few rounds, as each lost race against another starting run re-reads the lock it made. */
async function takeLock(dir: string, path: string, owner: RunLockOwner, { isAlive, warn }: { isAlive: (pid: number) => boolean; warn: (m: string) => void }): Promise<RunLockOwner> {
  const content = `${JSON.stringify(owner)}\n`;
  const host = owner.host;
  for (let round = 0; round < 5; round++) {
    if (await createExclusive(path, content, owner.token)) return owner;
    const text = await readText(path);
    if (text === undefined) continue;
    const held = parseOwner(text);
    if (!held) {
      throw new Error(
        `[infialign/eval] run-lock: ${dir} is locked by ${path}, which is unreadable (${JSON.stringify(text.slice(0, 80))}); another run may be starting. If no run uses ${dir}, delete ${path} and rerun`,
      );
    }
    const who = `pid ${held.pid} on host "${held.host}" since ${held.startedAt}`;
    const alive = held.host !== host ? true : held.pid === owner.pid ? heldHere.has(held.token) : isAlive(held.pid);
    if (alive) {
      throw new Error(
        `[infialign/eval] run-lock: ${dir} is in use by another run (${who}); wait for it to finish or pass another --out. If that process is gone${held.host !== host ? " (its host cannot be checked from here)" : ""}, delete ${path} and rerun`,
      );
    }
    // Stale: move it aside atomically, so that of two runs taking it over only one removes it.
    const aside = `${path}.stale-${owner.token}`;
    try {
      await rename(path, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw e;
    }
    const moved = await readText(aside);
    if (moved !== text) {
      // Another run took the stale lock over and made its own between our read and rename: put it back.
      await link(aside, path).catch(() => undefined);
      await unlink(aside).catch(() => undefined);
      continue;
    }
    await unlink(aside);
    warn(`[infialign/eval] run-lock: took over the stale lock of ${dir} (${who}, no longer running); its samples are kept and resumed`);
  }
  throw new Error(`[infialign/eval] run-lock: could not take ${path}: other runs keep taking it; start one run per --out`);
}

/**
 * Creates `path` holding `content` unless it exists. The content is written to a file of its own first (opened with
 * O_EXCL) and linked into place, since link(2) fails like O_EXCL when the target exists: the lock never appears
 * half-written to a run reading it. Where the filesystem has no hard links, `path` itself is opened with O_EXCL.
 */
async function createExclusive(path: string, content: string, token: string): Promise<boolean> {
  const write = async (target: string) => {
    const handle = await open(target, "wx");
    try {
      await handle.writeFile(content, "utf8");
      await handle.datasync();
    } finally {
      await handle.close();
    }
  };
  const staged = `${path}.${token}`;
  try {
    await write(staged);
    try {
      await link(staged, path);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return false;
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EOPNOTSUPP") throw e;
    }
    await write(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    await unlink(staged).catch(() => undefined);
  }
}

async function release(path: string, token: string): Promise<void> {
  const text = await readText(path);
  if (text !== undefined && parseOwner(text)?.token === token) await unlink(path).catch(() => undefined);
}
