import { spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pLimit from "p-limit";

/** Thrown when bubblewrap is missing or cannot create namespaces and unsandboxed runs were not allowed. */
export class SandboxUnavailableError extends Error {
  override readonly name = "SandboxUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(`[infialign/verify] sandbox: ${message}`, options);
  }
}

/**
 * - `ok`: exit status 0.
 * - `timeout`: wall-clock limit hit, or the CPU limit (SIGXCPU / SIGKILL after it).
 * - `memory_limit`: `MemoryError` as the final exception, or death by SIGSEGV/SIGKILL not sent by us (address-space limit).
 * - `output_limit`: stdout or stderr passed `maxOutputBytes`, a file passed `maxFileBytes` (SIGXFSZ, EFBIG)
 *   or /tmp passed `tmpBytes` (ENOSPC).
 * - `sandbox_violation`: the final uncaught exception is one the sandbox causes: `PermissionError`,
 *   or an `OSError` saying "Read-only file system", "Network is unreachable", "Operation not permitted".
 *   Files that simply do not exist in the sandbox (`/etc/shadow`, the host's home) give `runtime_error`.
 * - `runtime_error`: any other non-zero exit.
 */
export type SandboxVerdict = "ok" | "runtime_error" | "timeout" | "memory_limit" | "output_limit" | "sandbox_violation";

export interface SandboxOptions {
  /** Text written to the program's stdin. @default "" */
  stdin?: string;
  /** Wall-clock limit in ms; the whole process tree is killed after it. @default 10_000 */
  timeoutMs?: number;
  /** CPU time limit (RLIMIT_CPU) in seconds. @default ceil(timeoutMs / 1000) + 1 */
  cpuSeconds?: number;
  /** Address-space limit (RLIMIT_AS) in bytes. @default 512 MiB */
  memoryBytes?: number;
  /** Largest file the program may write (RLIMIT_FSIZE) in bytes. @default 16 MiB */
  maxFileBytes?: number;
  /**
   * Processes (RLIMIT_NPROC). It counts per real uid, and all sandboxes run as one uid
   * (nobody when the host runs as root), so concurrent runs share it. @default 256
   */
  maxProcesses?: number;
  /** Open file descriptors (RLIMIT_NOFILE). @default 64 */
  maxOpenFiles?: number;
  /** Size of the private /tmp, in bytes (ignored by bubblewrap older than 0.8, which lacks `--size`). @default 64 MiB */
  tmpBytes?: number;
  /** Bytes kept of stdout and of stderr each; passing it kills the program. @default 1 MiB */
  maxOutputBytes?: number;
  /** Python interpreter, a path present under /usr in the sandbox. @default "/usr/bin/python3" */
  python?: string;
  /**
   * Run with only rlimits and a timeout when bubblewrap is unavailable, instead of throwing
   * `SandboxUnavailableError`. Never set this for untrusted code on a machine you care about.
   * @default false
   */
  unsafeAllowUnsandboxed?: boolean;
}

export interface SandboxResult {
  verdict: SandboxVerdict;
  /** Exit status, null when killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** stdout or stderr was cut at `maxOutputBytes`. */
  truncated: boolean;
  /** False when run without bubblewrap (`unsafeAllowUnsandboxed`). */
  sandboxed: boolean;
}

const MiB = 1024 * 1024;

interface Resolved {
  stdin: string;
  timeoutMs: number;
  cpuSeconds: number;
  memoryBytes: number;
  maxFileBytes: number;
  maxProcesses: number;
  maxOpenFiles: number;
  maxOutputBytes: number;
  tmpBytes: number;
  python: string;
  unsafeAllowUnsandboxed: boolean;
}

function resolve(opts: SandboxOptions): Resolved {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const r: Resolved = {
    stdin: opts.stdin ?? "",
    timeoutMs,
    cpuSeconds: opts.cpuSeconds ?? Math.ceil(timeoutMs / 1000) + 1,
    memoryBytes: opts.memoryBytes ?? 512 * MiB,
    maxFileBytes: opts.maxFileBytes ?? 16 * MiB,
    maxProcesses: opts.maxProcesses ?? 256,
    maxOpenFiles: opts.maxOpenFiles ?? 64,
    maxOutputBytes: opts.maxOutputBytes ?? MiB,
    tmpBytes: opts.tmpBytes ?? 64 * MiB,
    python: opts.python ?? "/usr/bin/python3",
    unsafeAllowUnsandboxed: opts.unsafeAllowUnsandboxed ?? false,
  };
  for (const key of ["timeoutMs", "cpuSeconds", "memoryBytes", "maxFileBytes", "maxProcesses", "maxOpenFiles", "maxOutputBytes", "tmpBytes"] as const) {
    if (!Number.isInteger(r[key]) || r[key] <= 0) throw new RangeError(`[infialign/verify] sandbox: ${key} must be a positive integer, got ${r[key]}`);
  }
  return r;
}

const isRoot = process.getuid?.() === 0;
const NOBODY = "65534";

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * bwrap arguments up to (not including) the command; `codeDir` is mounted read-only at /sandbox.
 * Every tmpfs is private and capped or read-only, so writes cannot fill the host's memory.
 */
function bwrapArgs(codeDir: string, tmpBytes: number, sizeFlag: boolean): string[] {
  const args = ["--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"];
  // Merged-/usr systems have /bin, /lib… as symlinks into /usr; older ones need binds.
  for (const dir of ["/bin", "/lib", "/lib64", "/lib32", "/sbin"]) {
    if (!existsSync(dir)) continue;
    if (lstatSync(dir).isSymbolicLink()) args.push("--symlink", readlinkSync(dir), dir);
    else args.push("--ro-bind", dir, dir);
  }
  if (existsSync("/etc/alternatives")) args.push("--ro-bind", "/etc/alternatives", "/etc/alternatives");
  args.push("--proc", "/proc", "--dev", "/dev", ...(sizeFlag ? ["--size", String(tmpBytes)] : []), "--tmpfs", "/tmp");
  args.push("--ro-bind", codeDir, "/sandbox", "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp");
  args.push("--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONIOENCODING", "utf-8");
  return args;
}

/** Drops root before bwrap: RLIMIT_NPROC does not apply to uid 0, and root must not own the sandbox. */
function dropRoot(cmd: string[]): string[] {
  return isRoot ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", ...cmd] : cmd;
}

let probe: { ok: true; bwrap: string; sizeFlag: boolean } | { ok: false; reason: string } | undefined;

/** Whether bubblewrap can start a sandbox here (checked once per process). */
export function sandboxAvailable(): { ok: true } | { ok: false; reason: string } {
  if (!probe) {
    const bwrap = findOnPath("bwrap");
    if (!bwrap) probe = { ok: false, reason: "bwrap (bubblewrap) is not on PATH. Install it (apt-get install -y bubblewrap)" };
    else {
      const sizeFlag = spawnSync(bwrap, ["--help"], { encoding: "utf8" }).stdout.includes("--size");
      const cmd = dropRoot([bwrap, ...bwrapArgs("/usr", MiB, sizeFlag), "--", "/usr/bin/true"]);
      const res = spawnSync(cmd[0] as string, cmd.slice(1), { encoding: "utf8", timeout: 10_000 });
      probe =
        res.status === 0
          ? { ok: true, bwrap, sizeFlag }
          : {
              ok: false,
              reason: `bwrap failed a probe run (exit ${res.status}: ${(res.stderr || String(res.error ?? "")).trim()}). Enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run where bwrap may create namespaces`,
            };
    }
  }
  return probe.ok ? { ok: true } : probe;
}

function prlimitArgs(r: Resolved): string[] {
  return [
    "/usr/bin/prlimit",
    // Soft below hard so the kernel sends SIGXCPU (a timeout), not a bare SIGKILL.
    `--cpu=${r.cpuSeconds}:${r.cpuSeconds + 1}`,
    `--as=${r.memoryBytes}`,
    `--fsize=${r.maxFileBytes}`,
    `--nproc=${r.maxProcesses}`,
    `--nofile=${r.maxOpenFiles}`,
    "--core=0",
    "--",
  ];
}

const VIOLATION = /^(PermissionError\b|\w*(OSError|Error): \[Errno (1|13|30|101)\]|.*(Read-only file system|Network is unreachable|Operation not permitted))/;

function finalException(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  return lines.at(-1) ?? "";
}

function classify(exitCode: number | null, signal: NodeJS.Signals | null, stderr: string): SandboxVerdict {
  if (exitCode === 0) return "ok";
  if (signal === "SIGXCPU") return "timeout";
  if (signal === "SIGXFSZ") return "output_limit";
  if (signal === "SIGSEGV" || signal === "SIGKILL") return "memory_limit";
  const last = finalException(stderr);
  if (/^MemoryError\b/.test(last)) return "memory_limit";
  if (/\[Errno (27|28)\] (File too large|No space left on device)/.test(last)) return "output_limit";
  if (VIOLATION.test(last)) return "sandbox_violation";
  return "runtime_error";
}

/**
 * Runs a Python 3 program in bubblewrap: new user, pid, net, ipc, uts and cgroup namespaces
 * (no network, not even the host's loopback), read-only /usr, a private tmpfs /tmp as the only
 * writable place (so no /dev/shm: `multiprocessing` locks fail), a cleared environment, rlimits
 * via prlimit and a wall-clock timeout that kills the whole tree. Throws `SandboxUnavailableError`
 * when bubblewrap cannot run, unless `unsafeAllowUnsandboxed` is set.
 */
export async function runSandboxed(program: string, opts: SandboxOptions = {}): Promise<SandboxResult> {
  const r = resolve(opts);
  const available = sandboxAvailable();
  if (!available.ok && !r.unsafeAllowUnsandboxed) throw new SandboxUnavailableError(`${available.reason}, or pass { unsafeAllowUnsandboxed: true } to run without isolation.`);
  const codeDir = await mkdtemp(join(tmpdir(), "infialign-sandbox-"));
  try {
    await writeFile(join(codeDir, "main.py"), program, { mode: 0o644 });
    // mkdtemp makes it 0700; the sandbox runs as nobody when the host is root.
    await chmod(codeDir, 0o755);
    const sandboxed = probe?.ok === true;
    const cmd =
      probe?.ok
        ? dropRoot([probe.bwrap, ...bwrapArgs(codeDir, r.tmpBytes, probe.sizeFlag), "--", ...prlimitArgs(r), r.python, "-I", "/sandbox/main.py"])
        : [...prlimitArgs(r), r.python, "-I", join(codeDir, "main.py")];
    return await execute(cmd, r, sandboxed, sandboxed ? undefined : codeDir);
  } finally {
    await rm(codeDir, { recursive: true, force: true });
  }
}

function execute(cmd: string[], r: Resolved, sandboxed: boolean, cwd: string | undefined): Promise<SandboxResult> {
  return new Promise((resolvePromise, reject) => {
    const start = performance.now();
    const child = spawn(cmd[0] as string, cmd.slice(1), {
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
      ...(cwd ? { cwd, env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" } } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    let timedOut = false;
    let killed = false;
    const killTree = () => {
      if (killed || child.pid === undefined) return;
      killed = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killTree();
    }, r.timeoutMs);
    const collect = (chunks: Buffer[], which: "out" | "err") => (chunk: Buffer) => {
      const used = which === "out" ? outBytes : errBytes;
      const room = r.maxOutputBytes - used;
      if (room <= 0) {
        truncated = true;
        killTree();
        return;
      }
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(part);
      if (which === "out") outBytes += part.length;
      else errBytes += part.length;
      if (chunk.length > room) {
        truncated = true;
        killTree();
      }
    };
    child.stdout.on("data", collect(out, "out"));
    child.stderr.on("data", collect(err, "err"));
    child.stdin.on("error", () => {
      // the program exited without reading all of stdin
    });
    child.stdin.end(r.stdin);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new SandboxUnavailableError(`could not start ${cmd[0]}: ${error.message}`, { cause: error }));
    });
    child.on("close", (exitCode, signal) => {
      clearTimeout(timer);
      // Stray children that escaped the pid namespace teardown (unsandboxed runs).
      if (!killed && child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // none left
        }
      }
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      // bwrap reports the sandboxed program's death by signal as exit 128 + signo.
      const sig = signal ?? (exitCode !== null && exitCode > 128 && sandboxed ? signalName(exitCode - 128) : null);
      const code = sig && signal === null ? null : exitCode;
      const verdict: SandboxVerdict = truncated ? "output_limit" : timedOut ? "timeout" : classify(code, sig, stderr);
      resolvePromise({ verdict, exitCode: code, signal: sig, stdout, stderr, wallMs: Math.round(performance.now() - start), truncated, sandboxed });
    });
  });
}

const SIGNALS: Record<number, NodeJS.Signals> = { 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 24: "SIGXCPU", 25: "SIGXFSZ", 15: "SIGTERM" };
function signalName(n: number): NodeJS.Signals | null {
  return SIGNALS[n] ?? null;
}

export interface SandboxPool {
  /** `runSandboxed`, queued behind the pool's limit. */
  run(program: string, opts?: SandboxOptions): Promise<SandboxResult>;
  /** Runs started and not yet finished. */
  readonly active: number;
  /** Runs waiting for a slot. */
  readonly pending: number;
}

/** Shares one concurrency limit between all callers, e.g. every `runTests` of a dataset. */
export function createSandboxPool(opts: {
  /** Sandboxed programs running at once. @default 4 */
  concurrency?: number;
}): SandboxPool {
  const concurrency = opts.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`[infialign/verify] sandbox: concurrency must be a positive integer, got ${concurrency}`);
  const limit = pLimit(concurrency);
  return {
    run: (program, runOpts) => limit(() => runSandboxed(program, runOpts)),
    get active() {
      return limit.activeCount;
    },
    get pending() {
      return limit.pendingCount;
    },
  };
}
