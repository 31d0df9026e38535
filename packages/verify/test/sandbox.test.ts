import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { endianness } from "node:os";
import { join } from "node:path";
import { describeWhen, firstMissing, itWhen, missingCommand, missingFile } from "@infialign/test-utils/vitest";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { compareStdout, createSandboxPool, jsonEqual, runSandboxed, runTests, type SandboxPool, type SandboxResult, sandboxAvailable } from "../src/code/index.js";
import { seccompFilter } from "../src/code/seccomp.js";

// Generous: these programs end on their own limits in well under a second; the wall clock only guards a hang, and a
// tight one would turn CI load into spurious "timeout" verdicts.
const HOSTILE = { timeoutMs: 15_000 };

// Outside CI a machine without bubblewrap (or where it cannot create namespaces) reports these suites as skipped with
// the reason; under CI=true they fail, since CI must install bubblewrap.
const availability = sandboxAvailable();
const noPython = missingFile("/usr/bin/python3", "python3 (apt-get install -y python3)");
const noSandbox = firstMissing(missingCommand("bwrap", "apt-get install -y bubblewrap"), availability.ok ? undefined : availability.reason, noPython);
const describeSandbox = describeWhen(noSandbox);

/**
 * Host pids of the live (not zombie) processes of the sandbox whose program made the file /tmp/`marker` (see
 * `marked`): other runs on the machine (other packages' tests) do not count. /tmp lives as long as any process of the
 * sandbox does, unlike /sandbox/main.py, which the host deletes after the run.
 */
function sandboxProcesses(marker: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"))) continue;
      if (existsSync(`/proc/${pid}/root/tmp/${marker}`)) pids.push(Number(pid));
    } catch {
      // not a sandbox, or exited meanwhile
    }
  }
  return pids;
}

/** `program`, first making the file /tmp/`marker` that `sandboxProcesses` looks for. */
function marked(marker: string, program: string): string {
  return `open(${JSON.stringify(`/tmp/${marker}`)}, "w").close()\n${program}`;
}

/** Waits, up to a bound that only guards a hang, until no process of `marker`'s sandbox is left; returns the rest. */
async function survivorsOf(marker: string): Promise<number[]> {
  for (let i = 0; i < 200; i++) {
    if (sandboxProcesses(marker).length === 0) return [];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return sandboxProcesses(marker);
}

describeSandbox("sandbox availability", () => {
  it("bubblewrap works on this machine (CI must install it: apt-get install -y bubblewrap)", () => {
    expect(sandboxAvailable()).toEqual({ ok: true });
  });
});

describeSandbox("runSandboxed: ordinary programs", () => {
  it("runs hello world", async () => {
    const r = await runSandboxed('print("hello, world")');
    expect(r).toMatchObject({ verdict: "ok", exitCode: 0, stdout: "hello, world\n", sandboxed: true, truncated: false });
  });

  it("passes stdin through", async () => {
    const r = await runSandboxed("import sys\nprint(sys.stdin.read().strip()[::-1])", { stdin: "abc\n" });
    expect(r.stdout).toBe("cba\n");
  });

  it("reports a runtime error with its traceback", async () => {
    const r = await runSandboxed("def f():\n    return 1 // 0\nf()");
    expect(r.verdict).toBe("runtime_error");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("Traceback");
    expect(r.stderr).toContain("ZeroDivisionError");
  });

  it("sees a clean environment and a writable private /tmp", async () => {
    const r = await runSandboxed('import os\nopen("/tmp/a","w").write("x")\nprint(sorted(os.environ), os.getcwd(), open("/tmp/a").read())');
    expect(r.verdict).toBe("ok");
    expect(r.stdout).not.toContain("HOSTNAME");
    expect(r.stdout).toContain("/tmp x");
    expect(existsSync("/tmp/a") && readFileSync("/tmp/a", "utf8") === "x").toBe(false);
  });
});

describeSandbox("runSandboxed: hostile programs", () => {
  let server: Server;
  let port = 0;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("contains a fork bomb and leaves the host able to spawn", async () => {
    const marker = `fork-bomb-${process.pid}`;
    const r = await runSandboxed(marked(marker, "import os\nwhile True: os.fork()"), HOSTILE);
    expect(["timeout", "runtime_error"]).toContain(r.verdict);
    expect(spawnSync("/bin/echo", ["alive"], { encoding: "utf8" }).stdout).toBe("alive\n");
    // No live process of the run survives it (zombies left for a slow-reaping container init are harmless).
    expect(await survivorsOf(marker)).toEqual([]);
  });

  it("keeps a fork bomb's process limit to its own run: a concurrent run still forks", async () => {
    // The bomb takes every process its limit (256 by default) allows, holds them, then ends; the host waits until it
    // sees them before starting the other run. Were the limit counted for the uid across runs, the other run (with the
    // same limit) could not even start.
    const marker = `holding-bomb-${process.pid}`;
    const bomb = runSandboxed(
      marked(marker, "import os, time\nn = 0\nwhile True:\n    try:\n        if os.fork() == 0:\n            time.sleep(60)\n            os._exit(0)\n        n += 1\n    except OSError:\n        break\nprint(n, flush=True)\ntime.sleep(10)"),
      { timeoutMs: 60_000 },
    );
    let finished = false;
    void bomb.finally(() => {
      finished = true;
    });
    while (!finished && sandboxProcesses(marker).length < 250) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(finished, "the bomb ended before it held its processes").toBe(false);
    const other = await runSandboxed("import subprocess\nfor _ in range(20):\n    subprocess.run(['true'], check=True)\nprint('forked')", HOSTILE);
    expect(other).toMatchObject({ verdict: "ok", stdout: "forked\n" });
    const b = await bomb;
    expect(b.verdict).toBe("ok");
    expect(Number(b.stdout)).toBeLessThan(256);
  });

  itWhen(process.arch === "x64" ? undefined : "this test's machine code is x86-64")(
    "ends the run and every process of it when the program hijacks bubblewrap's pid 1",
    async () => {
      // pid 1 (bwrap) runs as the program's uid, so /proc/1/mem is writable: code written where it returns from wait()
      // clears its parent-death signal and pauses forever. It would outlive the run, keep the sandbox's processes (an
      // orphaned grandchild here) and hold our pipes, so that the run never ended.
      const marker = `pid1-hijack-${process.pid}`;
      const program = [
        "import os, time",
        "if os.fork() == 0:",
        "    if os.fork() == 0:",
        "        time.sleep(600)",
        "    os._exit(0)",
        "os.wait()",
        "pc = int(open('/proc/1/syscall').read().split()[-1], 16)",
        // mov edi, 1; xor esi, esi; mov eax, 157 (prctl PR_SET_PDEATHSIG 0); syscall; mov eax, 34 (pause); syscall; jmp back
        "code = bytes.fromhex('bf01000000' '31f6' 'b89d000000' '0f05' 'b822000000' '0f05' 'ebf7')",
        "with open('/proc/1/mem', 'r+b', buffering=0) as mem:",
        "    mem.seek(pc)",
        "    mem.write(code)",
        "print('hijacked', flush=True)",
      ].join("\n");
      const r = await runSandboxed(marked(marker, program), { timeoutMs: 3000 });
      expect(r.stdout).toBe("hijacked\n");
      expect(r.verdict).toBe("timeout");
      expect(await survivorsOf(marker)).toEqual([]);
    },
  );

  it("stops an infinite loop at the wall-clock limit", async () => {
    const r = await runSandboxed("while True:\n    pass", { timeoutMs: 1500 });
    expect(r.verdict).toBe("timeout");
    // The lower bound is deterministic; an upper bound would only measure CI load.
    expect(r.wallMs).toBeGreaterThanOrEqual(1400);
    expect(r.signal).not.toBe("SIGXCPU");
  });

  it("gives timeout at the CPU limit", async () => {
    const r = await runSandboxed("while True:\n    pass", { timeoutMs: 60_000, cpuSeconds: 1 });
    // SIGXCPU, not the 60 s wall clock, is what proves the CPU limit fired.
    expect(r).toMatchObject({ verdict: "timeout", signal: "SIGXCPU" });
  });

  it("gives memory_limit for a 10 GB allocation", async () => {
    const r = await runSandboxed("b = bytearray(10**10)\nprint(len(b))", HOSTILE);
    expect(r.verdict).toBe("memory_limit");
    expect(r.stdout).toBe("");
  });

  it("cannot reach the host's loopback", async () => {
    const program = `import socket\nsocket.create_connection(("127.0.0.1", ${port}), timeout=2)\nprint("connected")`;
    const r = await runSandboxed(program, HOSTILE);
    expect(["runtime_error", "sandbox_violation"]).toContain(r.verdict);
    expect(r.stdout).not.toContain("connected");
    expect(r.stderr).toMatch(/ConnectionRefusedError|Network is unreachable|OSError/);
    expect(connections).toBe(0);
    // The host itself can connect, so the failure above is the sandbox's doing.
    const host = spawnSync("/usr/bin/python3", ["-c", `import socket; socket.create_connection(("127.0.0.1", ${port}), timeout=2); print("ok")`], { encoding: "utf8" });
    expect(host.stdout).toBe("ok\n");
  });

  it("cannot reach the internet", async () => {
    const r = await runSandboxed('import socket\nsocket.create_connection(("1.1.1.1", 80), timeout=2)\nprint("connected")', HOSTILE);
    expect(r.verdict).toBe("sandbox_violation");
    expect(r.stderr).toContain("Network is unreachable");
  });

  it("shows no variable of the caller's environment anywhere the program can read", async () => {
    // bwrap is pid 1 of the sandbox: its own environment, not only the program's, must be clean.
    const canary = `infialign-canary-${process.pid}-7f3a9c`;
    process.env.INFIALIGN_SANDBOX_CANARY = canary;
    try {
      const program = [
        "import os",
        "pids = sorted(p for p in os.listdir('/proc') if p.isdigit())",
        "print('pids', pids, 'env', dict(os.environ))",
        "for pid in pids + ['self', 'thread-self']:",
        "    tasks = [f'/proc/{pid}'] + [f'/proc/{pid}/task/{t}' for t in os.listdir(f'/proc/{pid}/task')] if pid.isdigit() else [f'/proc/{pid}']",
        "    for base in tasks:",
        "        for name in os.listdir(base):",
        "            try:",
        "                with open(f'{base}/{name}', 'rb') as f:",
        "                    data = f.read(1 << 20)",
        "                print('read', f'{base}/{name}', data.decode('latin-1'))",
        "            except OSError as e:",
        "                print('unreadable', f'{base}/{name}', e.errno)",
      ].join("\n");
      const r = await runSandboxed(program, { ...HOSTILE, maxOutputBytes: 64 * 2 ** 20 });
      expect(r.verdict).toBe("ok");
      expect(r.stdout).not.toContain(canary);
      expect(r.stdout).not.toContain("INFIALIGN_SANDBOX_CANARY");
      // Not vacuous: bwrap's pid 1 and the program's environ files were read.
      expect(r.stdout).toContain("read /proc/1/environ PATH=/usr/bin:/bin");
      expect(r.stdout).toContain("read /proc/self/environ PATH=/usr/bin:/bin");
    } finally {
      delete process.env.INFIALIGN_SANDBOX_CANARY;
    }
  });

  it("cannot make a user namespace: not with the unshare binary, not with unshare(CLONE_NEWUSER), not to mount over /tmp", async () => {
    const program = [
      "import ctypes, subprocess",
      "r = subprocess.run(['unshare', '-r', 'id'], capture_output=True, text=True)",
      "print('binary', r.returncode, repr(r.stdout))",
      "libc = ctypes.CDLL(None, use_errno=True)",
      "print('ctypes', libc.unshare(0x10000000), ctypes.get_errno())",
      // What the outside tester did: root in a namespace of its own, a fresh tmpfs over /tmp, 100 MB past the 64 MiB cap.
      "r = subprocess.run(['unshare', '-rm', 'sh', '-c', 'mount -t tmpfs none /tmp && head -c 100000000 /dev/zero > /tmp/x && echo wrote'], capture_output=True, text=True)",
      "print('mount', r.returncode, repr(r.stdout))",
    ].join("\n");
    const r = await runSandboxed(program, HOSTILE);
    expect(r.verdict).toBe("ok");
    const lines = Object.fromEntries(r.stdout.trim().split("\n").map((line) => [line.split(" ")[0], line.split(" ").slice(1)]));
    expect(lines.binary?.[0]).not.toBe("0");
    expect(r.stdout).not.toContain("uid=0");
    expect(lines.ctypes?.[0]).toBe("-1");
    expect(lines.mount?.[0]).not.toBe("0");
    expect(r.stdout).not.toContain("wrote");
  });

  it("runs with no capabilities, as nobody, with every process of the sandbox under the limits", async () => {
    // bwrap's pid 1 is writable through /proc/1/mem by the program (same uid): it must be bound by the same rlimits.
    const program = [
      "import os",
      "print(*(l for l in open('/proc/self/status').read().splitlines() if l.startswith(('Cap', 'Uid', 'Seccomp:'))), sep='\\n')",
      "for pid in sorted(p for p in os.listdir('/proc') if p.isdigit()):",
      "    limits = [' '.join(l.split()) for l in open(f'/proc/{pid}/limits') if l.startswith(('Max address space', 'Max processes', 'Max cpu time'))]",
      "    status = [' '.join(l.split()) for l in open(f'/proc/{pid}/status') if l.startswith(('Seccomp:', 'CapEff:', 'CapBnd:'))]",
      "    print(pid, *limits, *status, sep=' | ')",
    ].join("\n");
    const r = await runSandboxed(program, { ...HOSTILE, memoryBytes: 256 * 2 ** 20, maxProcesses: 77, cpuSeconds: 9 });
    expect(r.verdict).toBe("ok");
    const pids = r.stdout.split("\n").filter((line) => /^\d+ \|/.test(line));
    expect(pids.length).toBeGreaterThanOrEqual(2);
    for (const line of pids) {
      expect(line).toContain("Max cpu time 9 10 seconds");
      expect(line).toContain("Max processes 77 77 processes");
      expect(line).toContain(`Max address space ${256 * 2 ** 20} ${256 * 2 ** 20} bytes`);
      for (const field of ["Seccomp: 2", "CapEff: 0000000000000000", "CapBnd: 0000000000000000"]) expect(line).toContain(field);
    }
    for (const cap of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) expect(r.stdout).toContain(`${cap}:\t0000000000000000`);
    expect(r.stdout).toContain("Uid:\t65534\t65534\t65534\t65534");
    expect(r.stdout).toContain("Seccomp:\t2");
  });

  it("cannot leave data for a later run in the kernel keyring", async () => {
    // add_key(2) into the user keyring (-4): keys belong to the host uid, shared by every run.
    const program = [
      "import ctypes, platform, sys",
      "libc = ctypes.CDLL(None, use_errno=True)",
      "nr = {'x86_64': 248, 'aarch64': 217}[platform.machine()]",
      "key = libc.syscall(nr, b'user', b'infialign-left-behind', b'secret', 6, ctypes.c_int(-4))",
      "print('add_key', key, ctypes.get_errno())",
    ].join("\n");
    const first = await runSandboxed(program, HOSTILE);
    expect(first.stdout).toBe("add_key -1 1\n");
    const later = await runSandboxed("print(open('/proc/keys').read())", HOSTILE);
    expect(later.stdout).not.toContain("infialign-left-behind");
  });

  it("bounds a flood of empty files in /tmp by inodes, with a limit verdict", async () => {
    const flood = "n = 0\ntry:\n    while True:\n        open(f'/tmp/{n}', 'w').close()\n        n += 1\nfinally:\n    print(n)";
    const byDefault = await runSandboxed(flood, HOSTILE);
    expect(byDefault.verdict).toBe("output_limit");
    expect(byDefault.stderr).toContain("No space left on device");
    expect(Number(byDefault.stdout)).toBeGreaterThan(0);
    expect(Number(byDefault.stdout)).toBeLessThanOrEqual(4096);
    const capped = await runSandboxed(flood, { ...HOSTILE, tmpInodes: 100 });
    expect(capped.verdict).toBe("output_limit");
    expect(Number(capped.stdout)).toBeLessThanOrEqual(100);
    // Directories, hard links and symlinks use the same inodes.
    const kinds = "import os\nopen('/tmp/f', 'w').close()\nn = 0\ntry:\n    while True:\n        [os.mkdir, lambda p: os.link('/tmp/f', p), lambda p: os.symlink('/tmp/f', p)][n % 3](f'/tmp/x{n}')\n        n += 1\nfinally:\n    print(n)";
    const mixed = await runSandboxed(kinds, { ...HOSTILE, tmpInodes: 100 });
    expect(mixed.verdict).toBe("output_limit");
    expect(Number(mixed.stdout)).toBeLessThanOrEqual(100);
  });

  it("cannot read /etc/shadow or the project's files", async () => {
    for (const path of ["/etc/shadow", "/work/main/package.json", join(import.meta.dirname, "sandbox.test.ts")]) {
      const r = await runSandboxed(`print(open(${JSON.stringify(path)}).read())`, HOSTILE);
      expect(["runtime_error", "sandbox_violation"], path).toContain(r.verdict);
      expect(r.stdout).toBe("");
    }
  });

  it("cannot write outside its private /tmp", async () => {
    const marker = `infialign-sandbox-${process.pid}`;
    const targets = [`/tmp/../root/${marker}`, `/usr/${marker}`, join(import.meta.dirname, marker)];
    for (const path of targets) {
      const r = await runSandboxed(`open(${JSON.stringify(path)}, "w").write("pwned")`, HOSTILE);
      expect(["runtime_error", "sandbox_violation"], path).toContain(r.verdict);
      expect(existsSync(path), path).toBe(false);
    }
    for (const path of [`/usr/${marker}`, "/x", "/dev/shm/x"]) {
      const ro = await runSandboxed(`open(${JSON.stringify(path)}, "w")`, HOSTILE);
      expect(ro.verdict, path).toBe("sandbox_violation");
      expect(ro.stderr).toContain("Read-only file system");
    }
  });

  it("caps files and the private /tmp", async () => {
    const big = await runSandboxed('open("/tmp/f", "wb").write(b"x" * (64 * 2**20))', { ...HOSTILE, maxFileBytes: 16 * 2 ** 20 });
    expect(big.verdict).toBe("output_limit");
    const many = await runSandboxed('for i in range(10):\n    open(f"/tmp/{i}", "wb").write(b"x" * (8 * 2**20))', { ...HOSTILE, tmpBytes: 32 * 2 ** 20 });
    expect(many.verdict).toBe("output_limit");
    expect(many.stderr).toContain("No space left on device");
  });

  it("stops a program printing 1 GB at the output cap", async () => {
    const r = await runSandboxed('import sys\nfor _ in range(16384):\n    sys.stdout.write("x" * 65536)', { ...HOSTILE, maxOutputBytes: 1024 * 1024 });
    expect(r.verdict).toBe("output_limit");
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(1024 * 1024);
  });
});

describeWhen(noPython)("without bubblewrap", () => {
  it("refuses to run unless unsandboxed runs are allowed, and says so in the result", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      vi.resetModules();
      const fresh = await import("../src/code/sandbox.js");
      await expect(fresh.runSandboxed('print("x")')).rejects.toBeInstanceOf(fresh.SandboxUnavailableError);
      await expect(fresh.runSandboxed('print("x")')).rejects.toThrow(/apt-get install -y bubblewrap/);
      const r = await fresh.runSandboxed('print("x")', { unsafeAllowUnsandboxed: true });
      expect(r).toMatchObject({ verdict: "ok", stdout: "x\n", sandboxed: false });
      const loop = await fresh.runSandboxed("while True:\n    pass", { unsafeAllowUnsandboxed: true, timeoutMs: 500 });
      expect(loop.verdict).toBe("timeout");
      // A child that leaves the process group keeps our pipes open: the run still ends at its timeout.
      const straggler = "import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n    time.sleep(600)\n    os._exit(0)\nprint(pid, flush=True)";
      const left = await fresh.runSandboxed(straggler, { unsafeAllowUnsandboxed: true, timeoutMs: 500 });
      process.kill(Number(left.stdout), "SIGKILL");
      expect(left).toMatchObject({ verdict: "timeout", exitCode: 0 });
    } finally {
      process.env.PATH = path;
      vi.resetModules();
    }
  });
});

describeSandbox("runTests", () => {
  it("passes stdin tests, tolerant of whitespace and float rounding", async () => {
    const program = "a, b = map(float, input().split())\nprint(a / b)\nprint('  x   y ')";
    const r = await runTests(program, [
      { input: "1 3\n", output: "0.333333333\nx y\n\n", testtype: "stdin" },
      { input: "2 4\n", output: "0.5 x y", testtype: "stdin" },
    ]);
    expect(r).toMatchObject({ verdict: "passed", passed: 2, total: 2 });
  });

  it("reports wrong answers and the first failure as overall verdict", async () => {
    const program = "n = int(input())\nif n == 3:\n    raise SystemExit(2)\nprint(n * 2)";
    const r = await runTests(program, [
      { input: "1", output: "2", testtype: "stdin" },
      { input: "2", output: "5", testtype: "stdin" },
      { input: "3", output: "6", testtype: "stdin" },
    ]);
    expect(r.tests.map((t) => t.verdict)).toEqual(["passed", "wrong_answer", "runtime_error"]);
    expect(r.verdict).toBe("wrong_answer");
    expect(r.passed).toBe(1);
  });

  it("calls Solution().funcName on functional tests", async () => {
    const program = "class Solution:\n    def twoSum(self, nums, target):\n        print('debug output is ignored')\n        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n                return [seen[target - x], i]\n            seen[x] = i\n";
    const r = await runTests(
      program,
      [
        { input: "[2, 7, 11, 15]\n9", output: "[0, 1]", testtype: "functional" },
        { input: "[3, 2, 4]\n6", output: "[1, 2]", testtype: "functional" },
        { input: "[3, 3]\n6", output: "[1, 0]", testtype: "functional" },
      ],
      { funcName: "twoSum" },
    );
    expect(r.tests.map((t) => t.verdict)).toEqual(["passed", "passed", "wrong_answer"]);
  });

  it("calls a top-level function and compares floats with tolerance", async () => {
    const r = await runTests("def mean(xs):\n    return sum(xs) / len(xs)", [{ input: "[1, 2, 2]", output: "1.6666666667", testtype: "functional" }], { funcName: "mean" });
    expect(r.verdict).toBe("passed");
  });

  it("stops after the first failure when asked", async () => {
    const tests = Array.from({ length: 6 }, (_, i) => ({ input: String(i), output: "0", testtype: "stdin" as const }));
    const r = await runTests("print(input())", tests, { concurrency: 1, stopOnFirstFailure: true });
    expect(r.verdict).toBe("wrong_answer");
    expect(r.tests).toHaveLength(2);
  });

  it("bounds concurrent runTests calls together through a pool", async () => {
    const pool = createSandboxPool({ concurrency: 2 });
    const tests = [{ input: "", output: "done", testtype: "stdin" as const }];
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, pool.active);
    }, 5);
    const calls = Array.from({ length: 4 }, () => runTests("import time\ntime.sleep(0.3)\nprint('done')", tests, { pool }));
    const results = await Promise.all(calls);
    clearInterval(watch);
    expect(results.map((r) => r.verdict)).toEqual(["passed", "passed", "passed", "passed"]);
    expect(most).toBe(2);
    expect(pool.active + pool.pending).toBe(0);
  });

  it("requires funcName for functional tests", async () => {
    await expect(runTests("", [{ input: "1", output: "1", testtype: "functional" }])).rejects.toThrow(/funcName/);
  });
});

/** Runs a classic-BPF seccomp program (the few opcodes `seccompFilter` emits) on one system call. */
function runFilter(prog: Buffer, call: { arch: number; nr: number; arg0?: number }): number {
  const le = endianness() === "LE";
  // struct seccomp_data in host byte order: nr, arch, instruction pointer, args[6].
  const data = Buffer.alloc(64);
  if (le) {
    data.writeUInt32LE(call.nr, 0);
    data.writeUInt32LE(call.arch, 4);
    data.writeBigUInt64LE(BigInt(call.arg0 ?? 0), 16);
  } else {
    data.writeUInt32BE(call.nr, 0);
    data.writeUInt32BE(call.arch, 4);
    data.writeBigUInt64BE(BigInt(call.arg0 ?? 0), 16);
  }
  let acc = 0;
  for (let pc = 0; pc < prog.length / 8; pc++) {
    const code = le ? prog.readUInt16LE(pc * 8) : prog.readUInt16BE(pc * 8);
    const [jt, jf] = [prog.readUInt8(pc * 8 + 2), prog.readUInt8(pc * 8 + 3)];
    const k = le ? prog.readUInt32LE(pc * 8 + 4) : prog.readUInt32BE(pc * 8 + 4);
    if (code === 0x20) acc = le ? data.readUInt32LE(k) : data.readUInt32BE(k);
    else if (code === 0x15) pc += acc === k ? jt : jf;
    else if (code === 0x45) pc += (acc & k) !== 0 ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`unexpected opcode ${code}`);
  }
  throw new Error("fell off the end of the filter");
}

describe("seccomp filter", () => {
  const ALLOW = 0x7fff0000;
  const EPERM = 0x00050001;
  const ENOSYS = 0x00050026;
  it.each([
    ["x64", 0xc000003e, { read: 0, keyctl: 250, add_key: 248, io_uring_setup: 425, unshare: 272, clone: 56, clone3: 435 }],
    ["arm64", 0xc00000b7, { read: 63, keyctl: 219, add_key: 217, io_uring_setup: 425, unshare: 97, clone: 220, clone3: 435 }],
  ] as const)("%s: denies keyrings and new user namespaces, allows the rest", (arch, audit, nr) => {
    const prog = seccompFilter(arch) as Buffer;
    expect(prog.length % 8).toBe(0);
    expect(runFilter(prog, { arch: audit, nr: nr.read })).toBe(ALLOW);
    for (const call of [nr.keyctl, nr.add_key, nr.io_uring_setup]) expect(runFilter(prog, { arch: audit, nr: call })).toBe(EPERM);
    expect(runFilter(prog, { arch: audit, nr: nr.unshare, arg0: 0x10000000 })).toBe(EPERM);
    expect(runFilter(prog, { arch: audit, nr: nr.unshare, arg0: 0x00020000 })).toBe(ALLOW);
    // fork() is clone(SIGCHLD); a thread is clone(CLONE_VM | …) without CLONE_NEWUSER.
    expect(runFilter(prog, { arch: audit, nr: nr.clone, arg0: 17 })).toBe(ALLOW);
    expect(runFilter(prog, { arch: audit, nr: nr.clone, arg0: 0x10000000 | 17 })).toBe(EPERM);
    expect(runFilter(prog, { arch: audit, nr: nr.clone3 })).toBe(ENOSYS);
    // Another ABI (i386 int 0x80 on x86-64) is refused whatever the call.
    expect(runFilter(prog, { arch: 0x40000003, nr: 3 })).toBe(EPERM);
  });

  it("denies x32 calls on x86-64, and has no program for architectures without a table", () => {
    expect(runFilter(seccompFilter("x64") as Buffer, { arch: 0xc000003e, nr: 0x40000000 })).toBe(EPERM);
    expect(seccompFilter("s390x")).toBeUndefined();
  });
});

describe("runTests scheduling", () => {
  it("runs tests in parallel up to the concurrency limit", async () => {
    // A pool that answers after a few event-loop turns records how many runs overlap: runTests' own limit, without
    // timing anything. Run one after another, no two would ever overlap.
    let active = 0;
    let most = 0;
    const fake: SandboxPool = {
      run: async () => {
        active++;
        most = Math.max(most, active);
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
        active--;
        return { verdict: "ok", exitCode: 0, signal: null, stdout: "done\n", stderr: "", wallMs: 0, truncated: false, sandboxed: true } satisfies SandboxResult;
      },
      active: 0,
      pending: 0,
    };
    const tests = Array.from({ length: 10 }, () => ({ input: "", output: "done", testtype: "stdin" as const }));
    const r = await runTests("print('done')", tests, { concurrency: 4, pool: fake });
    expect(r).toMatchObject({ verdict: "passed", passed: 10 });
    expect(most).toBe(4);
  });
});

describe("compare", () => {
  it("compareStdout ignores whitespace layout", () => {
    expect(compareStdout("1  2\n3\n\n", "1 2 3")).toBe(true);
    expect(compareStdout("1 2", "1 2 3")).toBe(false);
    expect(compareStdout("1.0000001", "1.0")).toBe(true);
    expect(compareStdout("1.01", "1.0")).toBe(false);
    expect(compareStdout("abc", "abd")).toBe(false);
  });

  it("compareStdout accepts any re-spacing of the tokens (property)", () => {
    const token = fc.stringMatching(/^[a-z0-9.]{1,5}$/);
    const space = fc.constantFrom(" ", "\n", "\t", "  ", "\r\n");
    fc.assert(
      fc.property(fc.array(fc.tuple(token, space), { minLength: 1, maxLength: 8 }), (parts) => {
        const spaced = parts.map(([t, s]) => t + s).join("");
        return compareStdout(spaced, parts.map(([t]) => t).join(" "));
      }),
    );
  });

  it("jsonEqual compares deeply with float tolerance", () => {
    expect(jsonEqual({ a: [1, 2.0000000001] }, { a: [1, 2] })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(jsonEqual([1], { 0: 1 })).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });
});
