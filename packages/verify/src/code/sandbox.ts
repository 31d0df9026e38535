import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import pLimit from "p-limit";
import { seccompFilter } from "./seccomp.js";

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
 *   or /tmp passed `tmpBytes` or `tmpInodes` (ENOSPC).
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
   * Processes (RLIMIT_NPROC) of one run, bubblewrap's own included. Each run has user namespaces of its own, so on
   * Linux ≥ 5.14 runs do not share the count (a fork bomb in one leaves the others able to fork); older kernels count
   * per host uid (nobody when the host runs as root, else the caller's), shared by concurrent runs. @default 256
   */
  maxProcesses?: number;
  /** Open file descriptors (RLIMIT_NOFILE). @default 64 */
  maxOpenFiles?: number;
  /** Size of the private /tmp (tmpfs `size`), in bytes. @default 64 MiB */
  tmpBytes?: number;
  /**
   * Files, directories, links and fifos the private /tmp may hold (tmpfs `nr_inodes`); each costs about 1 KiB of
   * kernel memory that `tmpBytes` does not count, so this bounds a flood of empty files. @default 4096
   */
  tmpInodes?: number;
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
  tmpInodes: number;
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
    tmpInodes: opts.tmpInodes ?? 4096,
    python: opts.python ?? "/usr/bin/python3",
    unsafeAllowUnsandboxed: opts.unsafeAllowUnsandboxed ?? false,
  };
  for (const key of ["timeoutMs", "cpuSeconds", "memoryBytes", "maxFileBytes", "maxProcesses", "maxOpenFiles", "maxOutputBytes", "tmpBytes", "tmpInodes"] as const) {
    if (!Number.isInteger(r[key]) || r[key] <= 0) throw new RangeError(`[infialign/verify] sandbox: ${key} must be a positive integer, got ${r[key]}`);
  }
  return r;
}

const isRoot = process.getuid?.() === 0;
const NOBODY = "65534";
/**
 * All the environment the host-side chain (setpriv, unshare, sh, bwrap) gets. bwrap runs as pid 1 of the sandbox, so
 * its environment is readable at /proc/1/environ; the caller's (API keys…) must never reach it.
 */
const HOST_ENV = { PATH: "/usr/bin:/bin" };

interface Tools {
  bwrap: string;
  unshare: string;
  mount: string;
  sh: string;
  /** Present when the host runs as root. */
  setpriv?: string;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * The host side, up to bwrap: drop root (RLIMIT_NPROC does not apply to uid 0, and root must not own the sandbox), then
 * a user and mount namespace of our own in which `tmpDir` becomes a tmpfs capped in bytes and in inodes: bwrap's
 * `--tmpfs` cannot set `nr_inodes`, and empty files cost kernel memory that `size` does not count.
 */
function hostArgs(tools: Tools, tmpDir: string, tmpBytes: number, tmpInodes: number, seccompFile: string | undefined): string[] {
  const drop = tools.setpriv ? [tools.setpriv, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"] : [];
  const options = `size=${tmpBytes},nr_inodes=${tmpInodes},mode=1777,nosuid,nodev`;
  // The seccomp program reaches bwrap's `--seccomp 3` as fd 3.
  const script = `"$1" -t tmpfs -o "$2" infialign-tmp "$3" && f=$4 && shift 4 && exec "$@"${seccompFile ? ' 3<"$f"' : ""}`;
  return [
    ...drop,
    ...[tools.unshare, "--user", "--map-root-user", "--mount", "--propagation", "private", "--"],
    ...[tools.sh, "-c", script, "sh", tools.mount, options, tmpDir, seccompFile ?? ""],
  ];
}

/**
 * bwrap and its arguments up to (not including) the command; `codeDir` is mounted read-only at /sandbox and `tmpDir`
 * (already a capped tmpfs) at /tmp. bwrap runs as uid 0 of the namespace made by `hostArgs`, where it would hand the
 * sandbox every capability: `--cap-drop ALL` and `--uid` prevent that. `--disable-userns` stops the program from making
 * a user namespace of its own, where it would be root and could mount over /tmp past its caps.
 */
function bwrapArgs(tools: Tools, codeDir: string, tmpDir: string, seccomp: boolean): string[] {
  const args = [tools.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--uid", NOBODY, "--gid", NOBODY, "--cap-drop", "ALL"];
  if (seccomp) args.push("--seccomp", "3");
  args.push("--info-fd", "4", "--hostname", "sandbox", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr");
  // Merged-/usr systems have /bin, /lib… as symlinks into /usr; older ones need binds.
  for (const dir of ["/bin", "/lib", "/lib64", "/lib32", "/sbin"]) {
    if (!existsSync(dir)) continue;
    if (lstatSync(dir).isSymbolicLink()) args.push("--symlink", readlinkSync(dir), dir);
    else args.push("--ro-bind", dir, dir);
  }
  if (existsSync("/etc/alternatives")) args.push("--ro-bind", "/etc/alternatives", "/etc/alternatives");
  args.push("--proc", "/proc", "--dev", "/dev", "--bind", tmpDir, "/tmp");
  args.push("--ro-bind", codeDir, "/sandbox", "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp");
  args.push("--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONIOENCODING", "utf-8");
  return args;
}

const SECCOMP = seccompFilter();

/** Writes the seccomp program beside a run; `undefined` on architectures without one. */
function writeSeccomp(workDir: string): string | undefined {
  if (!SECCOMP) return undefined;
  const path = join(workDir, "seccomp.bpf");
  writeFileSync(path, SECCOMP, { mode: 0o644 });
  return path;
}

/** Whether the sandbox can run here, and if not why (with the fix). */
export type SandboxAvailability = { ok: true } | { ok: false; reason: string };

let probe: { ok: true; tools: Tools } | { ok: false; reason: string } | undefined;

function findTools(): { ok: true; tools: Tools } | { ok: false; reason: string } {
  const bwrap = findOnPath("bwrap");
  if (!bwrap) return { ok: false, reason: "bwrap (bubblewrap) is not on PATH. Install it (apt-get install -y bubblewrap)" };
  const help = spawnSync(bwrap, ["--help"], { encoding: "utf8", env: HOST_ENV }).stdout ?? "";
  if (!help.includes("--disable-userns")) {
    return { ok: false, reason: `${bwrap} lacks --disable-userns (bubblewrap older than 0.8). Install bubblewrap 0.8 or newer (Debian 12, Ubuntu 23.04)` };
  }
  const unshare = findOnPath("unshare");
  const mount = findOnPath("mount");
  const sh = findOnPath("sh");
  const setpriv = isRoot ? findOnPath("setpriv") : undefined;
  const missing = [unshare ? "" : "unshare", mount ? "" : "mount", sh ? "" : "sh", isRoot && !setpriv ? "setpriv" : "", existsSync("/usr/bin/prlimit") ? "" : "/usr/bin/prlimit"].filter(Boolean);
  if (missing.length > 0) return { ok: false, reason: `${missing.join(", ")} not found. Install util-linux and mount (apt-get install -y util-linux mount)` };
  return { ok: true, tools: { bwrap, unshare: unshare as string, mount: mount as string, sh: sh as string, ...(setpriv ? { setpriv } : {}) } };
}

/**
 * Whether a sandbox can start here: bubblewrap ≥ 0.8, util-linux and user namespaces, checked by starting one empty
 * sandbox (once per process, about a tenth of a second). Call it before a run that needs the sandbox to fail early.
 */
export function sandboxAvailable(): SandboxAvailability {
  if (!probe) {
    const found = findTools();
    if (!found.ok) probe = found;
    else {
      const workDir = mkdtempSync(join(tmpdir(), "infialign-sandbox-probe-"));
      try {
        const tmpDir = join(workDir, "tmp");
        mkdirSync(tmpDir);
        for (const dir of [workDir, tmpDir]) chmodSync(dir, 0o755);
        const seccompFile = writeSeccomp(workDir);
        const cmd = [...hostArgs(found.tools, tmpDir, MiB, 16, seccompFile), ...bwrapArgs(found.tools, "/usr", tmpDir, !!seccompFile), "--", "/usr/bin/true"];
        const res = spawnSync(cmd[0] as string, cmd.slice(1), { encoding: "utf8", timeout: 10_000, cwd: "/", env: HOST_ENV, stdio: ["pipe", "pipe", "pipe", "ignore", "pipe"] });
        probe =
          res.status === 0
            ? found
            : {
                ok: false,
                reason: `bwrap failed a probe run (exit ${res.status}: ${(res.stderr || String(res.error ?? "")).trim()}). Enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run where bwrap may create namespaces`,
              };
      } finally {
        rmSync(workDir, { recursive: true, force: true });
      }
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
 * Runs a Python 3 program in bubblewrap: new user, pid, net, ipc, uts and cgroup namespaces (no network, not even the
 * host's loopback), no further user namespaces, no capabilities, a seccomp filter (no keyrings), read-only /usr, a
 * private tmpfs /tmp capped in bytes and inodes as the only writable place (so no /dev/shm: `multiprocessing` locks
 * fail), none of the caller's environment anywhere (not even in /proc/1/environ), rlimits via prlimit on every process
 * of the sandbox and a wall-clock timeout that kills the whole tree. Throws `SandboxUnavailableError` when bubblewrap
 * cannot run, unless `unsafeAllowUnsandboxed` is set.
 */
export async function runSandboxed(program: string, opts: SandboxOptions = {}): Promise<SandboxResult> {
  const r = resolve(opts);
  const available = sandboxAvailable();
  if (!available.ok && !r.unsafeAllowUnsandboxed) throw new SandboxUnavailableError(`${available.reason}, or pass { unsafeAllowUnsandboxed: true } to run without isolation.`);
  const workDir = await mkdtemp(join(tmpdir(), "infialign-sandbox-"));
  try {
    const codeDir = join(workDir, "code");
    const tmpDir = join(workDir, "tmp");
    await Promise.all([mkdir(codeDir), mkdir(tmpDir)]);
    await writeFile(join(codeDir, "main.py"), program, { mode: 0o644 });
    // mkdtemp makes it 0700 and the umask may narrow mkdir's mode; the sandbox runs as nobody when the host is root.
    await Promise.all([workDir, codeDir, tmpDir].map((dir) => chmod(dir, 0o755)));
    if (probe?.ok) {
      // prlimit comes before bwrap so that its limits also bind bwrap's pid 1 of the sandbox, whose memory the program
      // may write, and after unshare: a user namespace records its creator's RLIMIT_NPROC as the limit of that uid's
      // processes one level up, which would make concurrent runs share one process count.
      const seccompFile = writeSeccomp(workDir);
      const cmd = [
        ...hostArgs(probe.tools, tmpDir, r.tmpBytes, r.tmpInodes, seccompFile),
        ...prlimitArgs(r),
        ...bwrapArgs(probe.tools, codeDir, tmpDir, !!seccompFile),
        "--",
        ...[r.python, "-I", "/sandbox/main.py"],
      ];
      return await execute(cmd, r, true, { cwd: "/", env: HOST_ENV });
    }
    return await execute([...prlimitArgs(r), r.python, "-I", join(codeDir, "main.py")], r, false, { cwd: codeDir, env: { ...HOST_ENV, LANG: "C.UTF-8" } });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function execute(cmd: string[], r: Resolved, sandboxed: boolean, where: { cwd: string; env: Record<string, string> }): Promise<SandboxResult> {
  return new Promise((resolvePromise, reject) => {
    const start = performance.now();
    // fd 4: bwrap's --info-fd, which names the sandbox's pid 1 on the host.
    const child = spawn(cmd[0] as string, cmd.slice(1), {
      detached: true,
      stdio: sandboxed ? ["pipe", "pipe", "pipe", "ignore", "pipe"] : ["pipe", "pipe", "pipe"],
      ...where,
    });
    const { stdin, stdout, stderr } = child as ChildProcessWithoutNullStreams;
    const infoStream = child.stdio[4] as Readable | null | undefined;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    let timedOut = false;
    let killed = false;
    let exited = false;
    // The sandbox's pid 1 (bwrap) dies with bwrap outside by PR_SET_PDEATHSIG, which the program can clear by writing
    // its memory through /proc/1/mem; then it outlives the run, keeps the pid namespace alive and holds our pipes. So
    // it is killed by pid once the run ends, which takes down every process of the namespace.
    let init: { pid: number; pidNs: number } | undefined;
    const killInit = () => {
      if (!init) return;
      try {
        if (readlinkSync(`/proc/${init.pid}/ns/pid`) === `pid:[${init.pidNs}]`) process.kill(init.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const infoChunks: Buffer[] = [];
    infoStream?.on("data", (chunk: Buffer) => infoChunks.push(chunk));
    infoStream?.on("end", () => {
      try {
        const info = JSON.parse(Buffer.concat(infoChunks).toString("utf8")) as { "child-pid"?: unknown; "pid-namespace"?: unknown };
        if (typeof info["child-pid"] === "number" && typeof info["pid-namespace"] === "number") init = { pid: info["child-pid"], pidNs: info["pid-namespace"] };
      } catch {
        // bwrap failed before it started the sandbox
      }
      if (killed || exited) killInit();
    });
    const killTree = () => {
      if (killed || child.pid === undefined) return;
      killed = true;
      killInit();
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killTree();
      // Whatever still holds our pipes (a process that left the process group in an unsandboxed run) must not keep
      // the run from ending.
      setTimeout(() => {
        for (const stream of child.stdio) stream?.destroy();
      }, 1000).unref();
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
    stdout.on("data", collect(out, "out"));
    stderr.on("data", collect(err, "err"));
    stdin.on("error", () => {
      // the program exited without reading all of stdin
    });
    stdin.end(r.stdin);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new SandboxUnavailableError(`could not start ${cmd[0]}: ${error.message}`, { cause: error }));
    });
    child.on("exit", () => {
      exited = true;
      killInit();
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
